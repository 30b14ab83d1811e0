"""The route table: (method, path pattern, handler), served with and without /v1.NN."""

from __future__ import annotations

from dockyard.api.handlers.archive import ArchiveHandlers
from dockyard.api.handlers.build import BuildHandlers
from dockyard.api.handlers.containers import ContainerHandlers
from dockyard.api.handlers.disk import DiskHandlers
from dockyard.api.handlers.events import EventHandlers
from dockyard.api.handlers.exec import ExecHandlers
from dockyard.api.handlers.images import ImageHandlers
from dockyard.api.handlers.networks import NetworkHandlers
from dockyard.api.handlers.observe import ObserveHandlers
from dockyard.api.handlers.system import SystemHandlers
from dockyard.api.handlers.volumes import VolumeHandlers
from dockyard.api.server import Router

__all__ = ["build_router", "add_observe_routes", "add_build_routes", "add_network_routes", "add_volume_routes",
           "add_archive_routes", "add_disk_routes"]


def build_router(system: SystemHandlers, containers: ContainerHandlers, images: ImageHandlers,
                 execs: ExecHandlers | None = None) -> Router:
    r = Router()
    r.add("GET", "/_ping", system.ping)
    r.add("GET", "/version", system.version)
    r.add("GET", "/info", system.info)

    r.add("POST", "/containers/create", containers.create)
    r.add("GET", "/containers/json", containers.list)
    r.add("POST", "/containers/prune", containers.prune)
    r.add("GET", "/containers/{id}/json", containers.inspect)
    r.add("POST", "/containers/{id}/start", containers.start)
    r.add("POST", "/containers/{id}/stop", containers.stop)
    r.add("POST", "/containers/{id}/restart", containers.restart)
    r.add("POST", "/containers/{id}/kill", containers.kill)
    r.add("POST", "/containers/{id}/wait", containers.wait)
    r.add("POST", "/containers/{id}/attach", containers.attach)
    r.add("POST", "/containers/{id}/resize", containers.resize)
    r.add("GET", "/containers/{id}/logs", containers.logs)
    r.add("DELETE", "/containers/{id:path}", containers.remove)  # rm --link /parent/alias

    if execs is not None:
        r.add("POST", "/containers/{id}/exec", execs.create)
        r.add("POST", "/exec/{id}/start", execs.start)
        r.add("POST", "/exec/{id}/resize", execs.resize)
        r.add("GET", "/exec/{id}/json", execs.inspect)

    r.add("POST", "/images/create", images.create)
    r.add("GET", "/images/json", images.list)
    r.add("GET", "/images/get", images.save)
    r.add("POST", "/images/load", images.load)
    r.add("POST", "/images/prune", images.prune)
    r.add("GET", "/images/{name:path}/json", images.inspect)
    r.add("GET", "/images/{name:path}/history", images.history)
    r.add("GET", "/images/{name:path}/get", images.save)
    r.add("POST", "/images/{name:path}/tag", images.tag)
    r.add("POST", "/images/{name:path}/push", images.push)
    r.add("POST", "/auth", images.auth)
    r.add("DELETE", "/images/{name:path}", images.remove)
    r.add("POST", "/commit", images.commit)
    r.add("POST", "/dockyard/bootstrap", images.bootstrap)
    return r


def add_observe_routes(r: Router, events: EventHandlers, observe: ObserveHandlers) -> None:
    """Events, stats, top and the in-place verbs (pause, unpause, rename, update)."""
    r.add("GET", "/events", events.events)
    r.add("GET", "/containers/{id}/stats", observe.stats)
    r.add("GET", "/containers/{id}/top", observe.top)
    r.add("POST", "/containers/{id}/pause", observe.pause)
    r.add("POST", "/containers/{id}/unpause", observe.unpause)
    r.add("POST", "/containers/{id}/rename", observe.rename)
    r.add("POST", "/containers/{id}/update", observe.update)


def add_build_routes(r: Router, builds: BuildHandlers) -> None:
    r.add("POST", "/build", builds.build)
    r.add("POST", "/build/prune", builds.prune)


def add_network_routes(r: Router, networks: NetworkHandlers) -> None:
    r.add("GET", "/networks", networks.list)
    r.add("POST", "/networks/create", networks.create)
    r.add("POST", "/networks/prune", networks.prune)
    r.add("GET", "/networks/{id}", networks.inspect)
    r.add("DELETE", "/networks/{id}", networks.remove)
    r.add("POST", "/networks/{id}/connect", networks.connect)
    r.add("POST", "/networks/{id}/disconnect", networks.disconnect)


def add_volume_routes(r: Router, volumes: VolumeHandlers) -> None:
    r.add("GET", "/volumes", volumes.list)
    r.add("POST", "/volumes/create", volumes.create)
    r.add("POST", "/volumes/prune", volumes.prune)
    r.add("GET", "/volumes/{name}", volumes.inspect)
    r.add("DELETE", "/volumes/{name}", volumes.remove)


def add_archive_routes(r: Router, archives: ArchiveHandlers) -> None:
    """docker cp, export, diff. HEAD first: a HEAD must not open the GET's archive stream."""
    r.add("HEAD", "/containers/{id}/archive", archives.head)
    r.add("GET", "/containers/{id}/archive", archives.get)
    r.add("PUT", "/containers/{id}/archive", archives.put)
    r.add("GET", "/containers/{id}/export", archives.export)
    r.add("GET", "/containers/{id}/changes", archives.changes)


def add_disk_routes(r: Router, disk: DiskHandlers) -> None:
    r.add("GET", "/system/df", disk.df)
