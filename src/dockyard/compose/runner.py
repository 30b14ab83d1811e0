"""The compose verbs that change state (`up`, `down`, `start`, `stop`, `restart`, `rm`), over the client.

Containers are found only by their labels, so a second `up` sees the first one's work:
an unchanged service (same config-hash) is left running, a changed one is recreated.
"""

from __future__ import annotations

import time

from dockyard.compose import images, naming
from dockyard.compose.containerspec import create_body, endpoint_config
from dockyard.compose.errors import ComposeError
from dockyard.compose.planner import container_action, start_order, with_dependencies
from dockyard.compose.resources import ensure_networks, ensure_volumes, remove_networks, remove_volumes
from dockyard.errors import NotFound, NotModified

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.client.api import Client
    from dockyard.compose.model import Project
    from dockyard.compose.progress import Progress

__all__ = ["Runner"]


def _cname(c: dict[str, Any]) -> str:
    return (c.get("Names") or ["/" + c["Id"][:12]])[0].lstrip("/")


class Runner:
    def __init__(self, client: Client, project: Project, progress: Progress) -> None:
        self.client = client
        self.project = project
        self.progress = progress

    # -- finding ------------------------------------------------------------------------

    def containers(self, services: list[str] | None = None, all: bool = True, oneoff: bool | None = False,
                   ) -> list[dict[str, Any]]:
        labels = [f"{naming.PROJECT}={self.project.name}"]
        if oneoff is not None:
            labels.append(f"{naming.ONEOFF}={'True' if oneoff else 'False'}")
        found = self.client.containers(all=all, filters={"label": labels})
        if services:
            found = [c for c in found if (c.get("Labels") or {}).get(naming.SERVICE) in services]
        return sorted(found, key=lambda c: (c["Labels"].get(naming.SERVICE, ""),
                                            int(c["Labels"].get(naming.NUMBER) or 0)))

    def _of(self, service: str, all: bool = True) -> list[dict[str, Any]]:
        return self.containers([service], all=all)

    # -- up -------------------------------------------------------------------------------

    def up(self, services: list[str], *, build: bool = False, force_recreate: bool = False, no_deps: bool = False,
           remove_orphans: bool = False, start: bool = True) -> list[str]:
        """Create what is missing and start everything; the containers' names, in start order."""
        p = self.project
        selected = services if no_deps and services else with_dependencies(p, services)
        order = start_order(p, selected)
        self._orphans(remove_orphans)
        image_ids = {name: images.ensure_image(self.client, p, name, self.progress, build) for name in order}
        nets = {n for s in order for n in p.services[s].get("networks", {})}
        vols = {v["source"] for s in order for v in p.services[s].get("volumes", [])
                if v.get("type", "volume") == "volume" and v.get("source")}
        ensure_networks(self.client, p, nets, self.progress)
        ensure_volumes(self.client, p, vols, self.progress)
        names: list[str] = []
        for name in order:
            self._wait_dependencies(name, selected)
            names.append(self._converge(name, image_ids[name], force_recreate, start))
        return names

    def _orphans(self, remove: bool) -> None:
        orphans = [c for c in self.containers() if c["Labels"].get(naming.SERVICE) not in self.project.services]
        if orphans and not remove:
            self.progress.warn(f"Found orphan containers ({', '.join(_cname(c) for c in orphans)}) for this project. "
                               "If you removed or renamed this service in your compose file, you can run this "
                               "command with the --remove-orphans flag to clean it up.")
        for c in orphans if remove else []:
            self._remove(c, stop=True)

    def _converge(self, name: str, image_id: str, force: bool, start: bool) -> str:
        svc = self.project.services[name]
        wanted = naming.config_hash({**svc, "_image": image_id})
        existing = self._of(name)
        if not existing:
            cname = self._create(name, 1, wanted, image_id)
            if start:
                self._start(cname)
            return cname
        c = existing[0]
        for extra in existing[1:]:  # scale is 1: extra replicas go
            self._remove(extra, stop=True)
        action = container_action(c, wanted, force)
        cname = _cname(c)
        if action == "recreate":
            self.progress.event("Container", cname, "Recreate")
            self._stop(c)
            self.client.delete(f"/containers/{c['Id']}", {"force": True})
            cname = self._create(name, int(c["Labels"].get(naming.NUMBER) or 1), wanted, image_id, quiet=True)
            self.progress.event("Container", cname, "Recreated")
            if start:
                self._start(cname)
        elif action == "start" and start:
            self._start(cname)
        else:
            self.progress.event("Container", cname, "Running")
        return cname

    def _labels(self, name: str, number: int, hash_: str, image_id: str, oneoff: bool = False) -> dict[str, str]:
        p = self.project
        return naming.container_labels(
            p.name, name, number, working_dir=p.working_dir, config_files=p.config_files, hash_=hash_,
            image_id=image_id, depends_on=naming.depends_on_label(p.services[name]), oneoff=oneoff)

    def create_oneoff(self, name: str, svc: dict[str, Any], image_id: str, cname: str,
                      command: list[str] | None, overrides: dict[str, Any]) -> str:
        """A `compose run` container of service `name`, configured as `svc` (the service as the
        run wants it: no fixed name, ports only with --service-ports), labelled one-off."""
        return self._create(name, 1, naming.config_hash(svc), image_id, quiet=True, cname=cname,
                            command=command, oneoff=True, overrides=overrides, svc=svc)

    def _create(self, name: str, number: int, hash_: str, image_id: str, quiet: bool = False,
                cname: str | None = None, command: list[str] | None = None, oneoff: bool = False,
                overrides: dict[str, Any] | None = None, svc: dict[str, Any] | None = None) -> str:
        p = self.project
        svc = svc if svc is not None else p.services[name]
        cname = cname or svc.get("container_name") or naming.container_name(p.name, name, number)
        if not quiet:
            self.progress.event("Container", cname, "Creating")
        body = create_body(p, name, svc, images.service_image(p, name),
                           self._labels(name, number, hash_, image_id, oneoff), command)
        body.update(overrides or {})
        created = self.client.create_container(body, name=cname)
        for net, opts in list((svc.get("networks") or {}).items())[1:]:
            self.client.post_json(f"/networks/{p.network_name(net)}/connect", json={
                "Container": created["Id"], "EndpointConfig": endpoint_config(name, opts)})
        if not quiet:
            self.progress.event("Container", cname, "Created")
        return cname

    def _start(self, cname: str) -> None:
        self.progress.event("Container", cname, "Starting")
        try:
            self.client.start(cname)
        except NotModified:
            pass
        self.progress.event("Container", cname, "Started")

    def _wait_dependencies(self, name: str, selected: list[str]) -> None:
        for dep, opts in (self.project.services[name].get("depends_on") or {}).items():
            cond = opts.get("condition", "service_started")
            if dep not in selected or cond == "service_started":
                continue
            for c in self._of(dep):
                self._wait_condition(_cname(c), dep, cond)

    def _wait_condition(self, cname: str, service: str, cond: str, timeout: float = 300.0) -> None:
        self.progress.event("Container", cname, "Waiting")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.client.inspect_container(cname).get("State") or {}
            if cond == "service_healthy":
                health = (state.get("Health") or {}).get("Status")
                if health is None:
                    raise ComposeError(f"container {cname} has no healthcheck configured")
                if health == "healthy":
                    self.progress.event("Container", cname, "Healthy")
                    return
                if health == "unhealthy" or not state.get("Running"):
                    raise ComposeError(f"dependency failed to start: container {cname} is unhealthy")
            elif not state.get("Running") and state.get("Status") in ("exited", "dead"):
                code = state.get("ExitCode", 0)
                if code != 0:
                    raise ComposeError(f'service "{service}" didn\'t complete successfully: exit {code}')
                self.progress.event("Container", cname, "Exited")
                return
            time.sleep(0.2)
        raise ComposeError(f"timed out waiting for {cname}")

    # -- stop / start / rm / down ------------------------------------------------------------

    def _timeout(self, service: str | None, override: int | None) -> int | None:
        if override is not None:
            return override
        svc = self.project.services.get(service or "") or {}
        if "stop_grace_period" in svc:
            from dockyard.compose.durations import parse_duration

            return parse_duration(svc["stop_grace_period"]) // 10**9
        return None

    def _stop(self, c: dict[str, Any], timeout: int | None = None, quiet: bool = True) -> None:
        cname = _cname(c)
        if not quiet:
            self.progress.event("Container", cname, "Stopping")
        t = self._timeout(c["Labels"].get(naming.SERVICE), timeout)
        try:
            self.client.call("POST", f"/containers/{c['Id']}/stop", {"t": t})
        except (NotModified, NotFound):
            pass
        if not quiet:
            self.progress.event("Container", cname, "Stopped")

    def _remove(self, c: dict[str, Any], stop: bool = False, volumes: bool = False) -> None:
        if stop and c.get("State") == "running":
            self._stop(c, quiet=False)
        cname = _cname(c)
        self.progress.event("Container", cname, "Removing")
        try:
            self.client.delete(f"/containers/{c['Id']}", {"force": True, "v": volumes})
        except NotFound:
            pass
        self.progress.event("Container", cname, "Removed")

    def _reverse(self, containers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        order = {s: i for i, s in enumerate(start_order(self.project))}
        return sorted(containers, key=lambda c: -order.get(c["Labels"].get(naming.SERVICE), len(order)))

    def stop(self, services: list[str], timeout: int | None = None) -> None:
        for c in self._reverse(self.containers(services, all=False)):
            self._stop(c, timeout, quiet=False)

    def start(self, services: list[str]) -> None:
        running = {c["Id"] for c in self.containers(services, all=False)}
        order = start_order(self.project, with_dependencies(self.project, services) if services else None)
        for name in order:
            for c in self._of(name):
                if c["Id"] not in running:
                    self._start(_cname(c))

    def restart(self, services: list[str], timeout: int | None = None) -> None:
        for c in self.containers(services):
            cname = _cname(c)
            self.progress.event("Container", cname, "Restarting")
            self.client.call("POST", f"/containers/{c['Id']}/restart", {"t": self._timeout(
                c["Labels"].get(naming.SERVICE), timeout)})
            self.progress.event("Container", cname, "Started")

    def rm(self, services: list[str], stop: bool = False, volumes: bool = False) -> list[dict[str, Any]]:
        found = self.containers(services)
        if stop:
            for c in self._reverse([c for c in found if c.get("State") == "running"]):
                self._stop(c, quiet=False)
            found = self.containers(services)
        gone = [c for c in found if c.get("State") != "running"]
        for c in gone:
            self._remove(c, volumes=volumes)
        return gone

    def down(self, volumes: bool = False, rmi: str = "", remove_orphans: bool = False, timeout: int | None = None,
             ) -> None:
        found = self.containers(oneoff=None)
        known = [c for c in found if c["Labels"].get(naming.SERVICE) in self.project.services]
        orphans = [c for c in found if c not in known]
        if orphans and not remove_orphans:
            self.progress.warn(f"Found orphan containers ({', '.join(_cname(c) for c in orphans)}) for this project. "
                               "If you removed or renamed this service in your compose file, you can run this "
                               "command with the --remove-orphans flag to clean it up.")
        for c in self._reverse(known + (orphans if remove_orphans else [])):
            if c.get("State") == "running":
                self._stop(c, timeout, quiet=False)
            self._remove(c)
        remove_networks(self.client, self.project.name, self.progress)
        if volumes:
            remove_volumes(self.client, self.project.name, self.progress)
        if rmi:
            self._remove_images(rmi)

    def _remove_images(self, mode: str) -> None:
        from dockyard.client.api import quote

        if mode not in ("local", "all"):
            raise ComposeError(f"invalid --rmi option {mode!r}", 16)
        for name, svc in self.project.services.items():
            if mode == "local" and "image" in svc:
                continue
            ref = images.service_image(self.project, name)
            try:
                self.client.delete(f"/images/{quote(ref, safe='/:@')}")
                self.progress.event("Image", ref, "Removed")
            except NotFound:
                pass
