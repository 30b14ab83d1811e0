"""`dockyard compose`: run multi-container applications from compose files (compose v2's CLI).

Top-level flags (`-f`, `-p`, `--project-directory`, `--env-file`) come before the subcommand;
each subcommand then parses its own flags.  Exit codes are compose's (see compose/errors.py).
"""

from __future__ import annotations

import os
import sys

from dockyard.cli.command import Cli, Command, StatusError
from dockyard.cli.flags import FlagError, FlagSet

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dockyard.cli.flags import Parsed
    from dockyard.compose.model import Project
    from dockyard.compose.runner import Runner

__all__ = ["COMPOSE"]

_TOP_FLAGS = (
    ("f", "file", "stringArray", "Compose configuration files"),
    ("p", "project-name", "string", "Project name"),
    ("", "project-directory", "string", "Specify an alternate working directory"),
    ("", "env-file", "stringArray", "Specify an alternate environment file"),
    ("", "progress", "string", 'Set type of progress output (auto, tty, plain, json, quiet) (default "auto")'),
    ("", "profile", "stringArray", "Specify a profile to enable"),
    ("", "ansi", "string", 'Control when to print ANSI control characters ("never"|"always"|"auto")'),
)


class _Ctx:
    def __init__(self, cli: Cli, top: Parsed) -> None:
        self.cli = cli
        self.top = top
        self._project: Project | None = None

    @property
    def project(self) -> Project:
        if self._project is None:
            from dockyard.compose.loader import load_project

            self._project = load_project(self.top.list("file") or None, self.top.str("project-name") or None,
                                         self.top.str("project-directory") or None, self.top.list("env-file") or None)
        return self._project

    def runner(self) -> Runner:
        from dockyard.compose.progress import Progress
        from dockyard.compose.runner import Runner

        return Runner(self.cli.client, self.project, Progress(self.cli.err))


def _up(ctx: _Ctx, o: Parsed) -> int:
    from dockyard.cli.composelogs import stream_logs

    r = ctx.runner()
    r.up(o.args, build=o.bool("build"), force_recreate=o.bool("force-recreate"), no_deps=o.bool("no-deps"),
         remove_orphans=o.bool("remove-orphans"), start=not o.bool("no-start"))
    if o.bool("detach") or o.bool("no-start"):
        return 0
    containers = r.containers(o.args or None)
    try:
        stream_logs(ctx.cli.client, containers, follow=True)
    except KeyboardInterrupt:
        ctx.cli.err.write("Gracefully stopping... (press Ctrl+C again to force)\n")
        r.stop(o.args)
        return 130
    return 0


def _down(ctx: _Ctx, o: Parsed) -> int:
    t = o.get("timeout")
    ctx.runner().down(volumes=o.bool("volumes"), rmi=o.str("rmi"), remove_orphans=o.bool("remove-orphans"),
                      timeout=int(t) if t is not None else None)  # type: ignore[call-overload]
    return 0


def _ps(ctx: _Ctx, o: Parsed) -> int:
    found = ctx.runner().containers(o.args or None, all=o.bool("all"))
    fmt = o.str("format") or "table"
    out = ctx.cli.out
    if o.bool("quiet"):
        out.write("".join(c["Id"] + "\n" for c in found))
        return 0
    rows = [_ps_row(c) for c in found]
    if fmt == "json":
        import json

        out.write("".join(json.dumps(r) + "\n" for r in rows))
        return 0
    if fmt != "table":
        from dockyard.cli.gotemplate import render

        for r in rows:
            out.write(render(fmt.removeprefix("table "), r) + "\n")
        return 0
    cols = ("Name", "Image", "Command", "Service", "Created", "Status", "Ports")
    table = [[h.upper() for h in cols]] + [[str(r[h]) for h in cols] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
    for row in table:
        out.write("   ".join(v.ljust(widths[i]) for i, v in enumerate(row)).rstrip() + "\n")
    return 0


def _ps_row(c: dict[str, Any]) -> dict[str, Any]:
    from dockyard.cli.formatting import display_ports, time_ago

    labels = c.get("Labels") or {}
    ports = display_ports(c.get("Ports"))
    return {
        "ID": c["Id"], "Name": (c.get("Names") or [""])[0].lstrip("/"), "Image": c.get("Image", ""),
        "Command": f'"{c.get("Command", "")[:20]}"', "Project": labels.get("com.docker.compose.project", ""),
        "Service": labels.get("com.docker.compose.service", ""),
        "Created": time_ago(c.get("Created", 0)), "State": c.get("State", ""),
        "Status": c.get("Status", ""), "Health": "", "ExitCode": 0, "Ports": ports, "Labels": labels,
    }


def _logs(ctx: _Ctx, o: Parsed) -> int:
    from dockyard.cli.composelogs import stream_logs

    containers = ctx.runner().containers(o.args or None)
    stream_logs(ctx.cli.client, containers, follow=o.bool("follow"), tail=o.str("tail") or "all")
    return 0


def _simple(verb: str) -> Callable[[_Ctx, Parsed], int]:
    def run(ctx: _Ctx, o: Parsed) -> int:
        r = ctx.runner()
        t = o.get("timeout")
        timeout = int(t) if t is not None else None  # type: ignore[call-overload]
        if verb == "stop":
            r.stop(o.args, timeout)
        elif verb == "start":
            r.start(o.args)
        elif verb == "restart":
            r.restart(o.args, timeout)
        return 0
    return run


def _rm(ctx: _Ctx, o: Parsed) -> int:
    r = ctx.runner()
    stopped = [c for c in r.containers(o.args or None) if c.get("State") != "running"]
    if not stopped and not o.bool("stop"):
        ctx.cli.err.write("No stopped containers\n")
        return 0
    if not o.bool("force") and not o.bool("stop"):
        names = ", ".join((c.get("Names") or [""])[0].lstrip("/") for c in stopped)
        if not sys.stdin.isatty():
            raise StatusError(f"Going to remove {names}\nuse --force to remove without a prompt", 1)
        ctx.cli.err.write(f"Going to remove {names}\n? Are you sure? (y/N) ")
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    r.rm(o.args, stop=o.bool("stop"), volumes=o.bool("volumes"))
    return 0


def _target(ctx: _Ctx, service: str, index: int) -> dict[str, Any]:
    from dockyard.compose.errors import ComposeError

    if service not in ctx.project.services:
        raise ComposeError(f"no such service: {service}")
    for c in ctx.runner().containers([service], all=False):
        if int(c["Labels"].get("com.docker.compose.container-number", 0)) == index:
            return c
    raise ComposeError(f"service \"{service}\" is not running")


def _exec_in(ctx: _Ctx, cid: str, cmd: list[str], o: Parsed, tty: bool, env: list[str]) -> int:
    from dockyard.cli.stdio import pump

    client = ctx.cli.client
    body = {"User": o.str("user"), "Privileged": o.bool("privileged"), "Tty": tty, "AttachStdin": True,
            "AttachStdout": True, "AttachStderr": True, "Env": env or None, "WorkingDir": o.str("workdir"),
            "Cmd": cmd}
    exec_id = client.post_json(f"/containers/{cid}/exec", json=body)["Id"]
    stream = client.hijack(f"/exec/{exec_id}/start", json={"Detach": False, "Tty": tty})
    try:
        pump(stream, tty, stdin=True)
    finally:
        stream.close()
    code = (client.get_json(f"/exec/{exec_id}/json") or {}).get("ExitCode")
    return int(code or 0)


def _exec(ctx: _Ctx, o: Parsed) -> int:
    if len(o.args) < 2:
        raise StatusError("'exec' requires at least 2 arguments", 16)
    c = _target(ctx, o.args[0], int(o.get("index") or 1))  # type: ignore[call-overload]
    tty = not o.bool("no-TTY") and os.isatty(0) and os.isatty(1)
    if o.bool("detach"):
        client = ctx.cli.client
        eid = client.post_json(f"/containers/{c['Id']}/exec", json={"Cmd": o.args[1:], "Detach": True})["Id"]
        client.call("POST", f"/exec/{eid}/start", json={"Detach": True})
        return 0
    return _exec_in(ctx, c["Id"], o.args[1:], o, tty, o.list("env"))


def _run(ctx: _Ctx, o: Parsed) -> int:
    import secrets

    from dockyard.cli.stdio import pump
    from dockyard.compose import images, naming

    p = ctx.project
    service = o.args[0]
    from dockyard.compose.errors import ComposeError

    if service not in p.services:
        raise ComposeError(f"no such service: {service}")
    r = ctx.runner()
    if not o.bool("no-deps"):
        deps = [d for d in p.services[service].get("depends_on", {})]
        if deps:
            r.up(deps)
    image_id = images.ensure_image(ctx.cli.client, p, service, r.progress, o.bool("build"))
    nets = set(p.services[service].get("networks", {}))
    vols = {v["source"] for v in p.services[service].get("volumes", []) if v.get("type") == "volume" and v.get("source")}
    from dockyard.compose.resources import ensure_networks, ensure_volumes

    ensure_networks(ctx.cli.client, p, nets, r.progress)
    ensure_volumes(ctx.cli.client, p, vols, r.progress)
    tty = not o.bool("no-TTY") and os.isatty(0) and os.isatty(1)
    overrides: dict[str, Any] = {"Tty": tty, "OpenStdin": True, "AttachStdin": True, "StdinOnce": True}
    if o.list("env"):
        overrides["Env"] = list(o.list("env"))
    if o.str("entrypoint"):
        import shlex

        overrides["Entrypoint"] = shlex.split(o.str("entrypoint"))
    cname = o.str("name") or naming.oneoff_name(p.name, service, secrets.token_hex(6))
    dropped = ("container_name",) if o.bool("service-ports") else ("container_name", "ports")
    run_svc = {k: v for k, v in p.services[service].items() if k not in dropped}
    r.create_oneoff(service, run_svc, image_id, cname, o.args[1:] or None, overrides)
    client = ctx.cli.client
    if o.bool("detach"):
        client.start(cname)
        ctx.cli.out.write(cname + "\n")
        return 0
    stream = client.hijack(f"/containers/{cname}/attach", {"stream": 1, "stdin": 1, "stdout": 1, "stderr": 1})
    waiter = client.stream_raw("POST", f"/containers/{cname}/wait")
    try:
        client.start(cname)
        pump(stream, tty, stdin=True)
    finally:
        stream.close()
    import json

    try:
        code = int((json.loads(waiter.read() or b"{}") or {}).get("StatusCode", 0))
    finally:
        waiter.close()
    if o.bool("rm"):
        client.delete(f"/containers/{cname}", {"force": True})
    return code


def _config(ctx: _Ctx, o: Parsed) -> int:
    import json

    import yaml

    p = ctx.project
    if o.bool("services"):
        ctx.cli.out.write("".join(s + "\n" for s in p.services))
        return 0
    if o.bool("quiet"):
        return 0
    doc = p.to_dict()
    if o.str("format") == "json":
        ctx.cli.out.write(json.dumps(doc, indent=4) + "\n")
    else:
        ctx.cli.out.write(yaml.safe_dump(doc, sort_keys=False, default_flow_style=False))
    return 0


def _images_verb(verb: str) -> Callable[[_Ctx, Parsed], int]:
    def run(ctx: _Ctx, o: Parsed) -> int:
        from dockyard.compose import images
        from dockyard.compose.progress import Progress

        p = ctx.project
        prog = Progress(ctx.cli.err)
        for name in o.args or list(p.services):
            svc = p.services.get(name)
            if svc is None:
                from dockyard.compose.errors import ComposeError

                raise ComposeError(f"no such service: {name}")
            if verb == "build" and "build" in svc:
                images.build_service(ctx.cli.client, p, name, prog, out=None if o.bool("quiet") else ctx.cli.out)
            elif verb == "pull" and "image" in svc:
                images.pull_service(ctx.cli.client, svc["image"], prog, name)
            elif verb == "push" and ("build" in svc or "image" in svc) and not (verb == "push" and "build" not in svc
                                                                                 and o.bool("ignore-push-failures")):
                images.push_service(ctx.cli.client, images.service_image(p, name), prog)
        return 0
    return run


_T = ("t", "timeout", "int", "Specify a shutdown timeout in seconds")
SUBCOMMANDS: dict[str, tuple[str, Callable[[_Ctx, Parsed], int], tuple, bool]] = {
    # name → (short, handler, flags, interspersed)
    "up": ("Create and start containers", _up, (
        ("d", "detach", "bool", "Detached mode: Run containers in the background"),
        ("", "build", "bool", "Build images before starting containers"),
        ("", "force-recreate", "bool", "Recreate containers even if their configuration and image haven't changed"),
        ("", "no-deps", "bool", "Don't start linked services"),
        ("", "remove-orphans", "bool", "Remove containers for services not defined in the Compose file"),
        ("", "no-start", "bool", "Don't start the services after creating them"),
        ("", "wait", "bool", "Wait for services to be running|healthy. Implies detached mode."), _T), True),
    "down": ("Stop and remove containers, networks", _down, (
        ("v", "volumes", "bool", "Remove named volumes declared in the volumes section of the Compose file"),
        ("", "rmi", "string", 'Remove images used by services. "local" remove only images that don\'t have a '
                              'custom tag ("local"|"all")'),
        ("", "remove-orphans", "bool", "Remove containers for services not defined in the Compose file"), _T), True),
    "ps": ("List containers", _ps, (
        ("a", "all", "bool", "Show all stopped containers (including those created by the run command)"),
        ("q", "quiet", "bool", "Only display IDs"),
        ("", "format", "string", "Format output using a custom template"),
        ("", "services", "bool", "Display services")), True),
    "logs": ("View output from containers", _logs, (
        ("f", "follow", "bool", "Follow log output"),
        ("n", "tail", "string", "Number of lines to show from the end of the logs for each container")), True),
    "stop": ("Stop services", _simple("stop"), (_T,), True),
    "start": ("Start services", _simple("start"), (), True),
    "restart": ("Restart service containers", _simple("restart"), (_T,), True),
    "rm": ("Removes stopped service containers", _rm, (
        ("f", "force", "bool", "Don't ask to confirm removal"),
        ("s", "stop", "bool", "Stop the containers, if required, before removing"),
        ("v", "volumes", "bool", "Remove any anonymous volumes attached to containers")), True),
    "exec": ("Execute a command in a running container", _exec, (
        ("d", "detach", "bool", "Detached mode: Run command in the background"),
        ("T", "no-TTY", "bool", "Disable pseudo-TTY allocation"),
        ("i", "interactive", "bool", "Keep STDIN open even if not attached"),
        ("t", "tty", "bool", "Allocate a pseudo-TTY"),
        ("e", "env", "stringArray", "Set environment variables"),
        ("u", "user", "string", "Run the command as this user"),
        ("w", "workdir", "string", "Path to workdir directory for this command"),
        ("", "privileged", "bool", "Give extended privileges to the process"),
        ("", "index", "int", "Index of the container if service has multiple replicas")), False),
    "run": ("Run a one-off command on a service", _run, (
        ("d", "detach", "bool", "Run container in background and print container ID"),
        ("", "rm", "bool", "Automatically remove the container when it exits"),
        ("T", "no-TTY", "bool", "Disable pseudo-TTY allocation"),
        ("i", "interactive", "bool", "Keep STDIN open even if not attached"),
        ("t", "tty", "bool", "Allocate a pseudo-TTY"),
        ("e", "env", "stringArray", "Set environment variables"),
        ("", "name", "string", "Assign a name to the container"),
        ("", "entrypoint", "string", "Override the entrypoint of the image"),
        ("", "no-deps", "bool", "Don't start linked services"),
        ("", "build", "bool", "Build image before starting container"),
        ("", "service-ports", "bool", "Run command with all service's ports enabled and mapped to the host")), False),
    "config": ("Parse, resolve and render compose file in canonical format", _config, (
        ("q", "quiet", "bool", "Only validate the configuration, don't print anything"),
        ("", "services", "bool", "Print the service names, one per line"),
        ("", "format", "string", 'Format the output. Values: [yaml | json] (default "yaml")')), True),
    "build": ("Build or rebuild services", _images_verb("build"), (
        ("q", "quiet", "bool", "Don't print anything to STDOUT"),), True),
    "pull": ("Pull service images", _images_verb("pull"), (
        ("q", "quiet", "bool", "Pull without printing progress information"),), True),
    "push": ("Push service images", _images_verb("push"), (
        ("", "ignore-push-failures", "bool", "Push what it can and ignores images with push failures"),), True),
}


def _help() -> str:
    rows = "".join(f"  {n:<10} {SUBCOMMANDS[n][0]}\n" for n in sorted(SUBCOMMANDS))
    return f"Usage:  dockyard compose [OPTIONS] COMMAND\n\nDefine and run multi-container applications\n\nCommands:\n{rows}"


def _compose(cli: Cli, top: Parsed) -> int:
    from dockyard.compose.errors import ComposeError
    from dockyard.errors import DockyardError

    if not top.args:
        cli.out.write(_help())
        return 0
    name, argv = top.args[0], top.args[1:]
    if name not in SUBCOMMANDS:
        raise StatusError(f"unknown docker command: \"compose {name}\"", 16)
    short, handler, flags, interspersed = SUBCOMMANDS[name]
    try:
        o = FlagSet(flags, interspersed=interspersed).parse(argv)
    except FlagError as e:
        raise StatusError(str(e), 16) from None
    if o.bool("help"):
        from dockyard.cli.flags import render_flags

        cli.out.write(f"Usage:  dockyard compose {name} [OPTIONS]\n\n{short}\n\nOptions:\n{render_flags(flags)}")
        return 0
    if name in ("run",) and not o.args:
        raise StatusError("\"run\" requires at least 1 argument", 16)
    ctx = _Ctx(cli, top)
    try:
        return handler(ctx, o)
    except ComposeError as e:
        raise StatusError(e.message, e.code) from None
    except DockyardError as e:
        from dockyard.cli.command import daemon_error

        raise StatusError(daemon_error(e), 1) from None


COMPOSE = Command("[OPTIONS] COMMAND", "Docker Compose", _compose, flags=_TOP_FLAGS, interspersed=False)
