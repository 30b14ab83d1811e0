"""Per-container verbs: stop, kill, rm, restart, wait, pause, unpause, rename, container prune.

Like docker, each named container is handled in turn; successes print the name as given,
failures are collected and printed together at the end with exit status 1.
"""

from __future__ import annotations

from dockyard.cli.command import Cli, Command, StatusError, daemon_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dockyard.cli.flags import Parsed

__all__ = ["STOP", "KILL", "RM", "RESTART", "WAIT", "PAUSE", "UNPAUSE", "RENAME", "CONTAINER_PRUNE", "for_each"]


def for_each(cli: Cli, names: list[str], action: Callable[[str], Any], show: Callable[[str, Any], str | None]) -> int:
    """Run `action` per name; print `show(name, result)`; collect errors (304 counts as done)."""
    from dockyard.client.transport import ConnectError
    from dockyard.errors import DockyardError, NotModified

    errors: list[str] = []
    for name in names:
        try:
            result = action(name)
        except NotModified:
            result = None
        except ConnectError:
            raise
        except DockyardError as e:
            errors.append(daemon_error(e))
            continue
        text = show(name, result)
        if text is not None:
            cli.print(text)
    if errors:
        raise StatusError("\n".join(errors), 1)
    return 0


def _q(name: str) -> str:
    from dockyard.client.api import quote

    return quote(name)


def _timeout_params(o: Parsed) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if o.changed("timeout"):
        params["t"] = o.get("timeout")
    elif o.changed("time"):
        params["t"] = o.get("time")
    if o.str("signal"):
        params["signal"] = o.str("signal")
    return params


def _stop(cli: Cli, o: Parsed) -> int:
    params = _timeout_params(o)
    return for_each(cli, o.args, lambda n: cli.client.call("POST", f"/containers/{_q(n)}/stop", params),
                    lambda n, _r: n)


def _restart(cli: Cli, o: Parsed) -> int:
    params = _timeout_params(o)
    return for_each(cli, o.args, lambda n: cli.client.call("POST", f"/containers/{_q(n)}/restart", params),
                    lambda n, _r: n)


def _kill(cli: Cli, o: Parsed) -> int:
    params = {"signal": o.str("signal") or None}
    return for_each(cli, o.args, lambda n: cli.client.call("POST", f"/containers/{_q(n)}/kill", params),
                    lambda n, _r: n)


def _rm(cli: Cli, o: Parsed) -> int:
    params = {"force": o.bool("force"), "v": o.bool("volumes"), "link": o.bool("link")}

    def rm(name: str) -> Any:
        # a link's name is /parent/alias: its slashes are part of the path, as the docker CLI sends it
        path = "/".join(_q(part) for part in name.strip("/").split("/")) if o.bool("link") else _q(name)
        return cli.client.call("DELETE", f"/containers/{path}", params)
    return for_each(cli, o.args, rm, lambda n, _r: n)


def _wait(cli: Cli, o: Parsed) -> int:
    def wait(name: str) -> Any:
        return cli.client.post_json(f"/containers/{_q(name)}/wait")

    def show(_name: str, result: Any) -> str:
        result = result or {}
        err = result.get("Error")
        if err and err.get("Message"):
            raise StatusError(err["Message"], 1)
        return str(result.get("StatusCode", ""))

    return for_each(cli, o.args, wait, show)


def _pause(cli: Cli, o: Parsed) -> int:
    return for_each(cli, o.args, lambda n: cli.client.call("POST", f"/containers/{_q(n)}/pause"), lambda n, _r: n)


def _unpause(cli: Cli, o: Parsed) -> int:
    return for_each(cli, o.args, lambda n: cli.client.call("POST", f"/containers/{_q(n)}/unpause"), lambda n, _r: n)


def _rename(cli: Cli, o: Parsed) -> int:
    from dockyard.errors import DockyardError

    old, new = o.args
    new = new.strip()
    if not old.strip() or not new:
        raise StatusError("Error: Neither old nor new names may be empty", 1)
    try:
        cli.client.call("POST", f"/containers/{_q(old)}/rename", {"name": new})
    except DockyardError as e:  # docker prints the daemon's error, then its own line
        cli.eprint(daemon_error(e))
        raise StatusError(f"Error: failed to rename container named {old}", 1) from None
    return 0


def _prune(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.images import _confirm
    from dockyard.cli.prune import prune_containers, total_line
    from dockyard.cli.ps import parse_filters

    filters = parse_filters(o.list("filter"))
    if not o.bool("force") and not _confirm(cli, "WARNING! This will remove all stopped containers."):
        return 0
    reclaimed, output = prune_containers(cli, filters)
    if output:
        cli.print(output)
    cli.print(total_line(reclaimed))
    return 0


_STOP_FLAGS = (
    ("s", "signal", "string", "Signal to send to the container"),
    ("t", "timeout", "int", "Seconds to wait before killing the container"),
    ("", "time", "int", "Seconds to wait before killing the container (deprecated: use --timeout)", True),
)

STOP = Command("[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers", _stop,
               flags=_STOP_FLAGS, aliases=("container stop", "stop"), args=("min", 1))
RESTART = Command("[OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers", _restart,
                  flags=_STOP_FLAGS, aliases=("container restart", "restart"), args=("min", 1))
KILL = Command("[OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers", _kill,
               flags=(("s", "signal", "string", "Signal to send to the container"),),
               aliases=("container kill", "kill"), args=("min", 1))
RM = Command(
    "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers", _rm,
    flags=(
        ("f", "force", "bool", "Force the removal of a running container (uses SIGKILL)"),
        ("l", "link", "bool", "Remove the specified link"),
        ("v", "volumes", "bool", "Remove anonymous volumes associated with the container"),
    ),
    aliases=("container rm", "container remove", "rm"), args=("min", 1),
)
WAIT = Command("CONTAINER [CONTAINER...]", "Block until one or more containers stop, then print their exit codes",
               _wait, aliases=("container wait", "wait"), args=("min", 1))
PAUSE = Command("CONTAINER [CONTAINER...]", "Pause all processes within one or more containers", _pause,
                aliases=("container pause", "pause"), args=("min", 1))
UNPAUSE = Command("CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers", _unpause,
                  aliases=("container unpause", "unpause"), args=("min", 1))
RENAME = Command("CONTAINER NEW_NAME", "Rename a container", _rename,
                 aliases=("container rename", "rename"), args=("exact", 2))
CONTAINER_PRUNE = Command(
    "[OPTIONS]", "Remove all stopped containers", _prune,
    flags=(
        ("", "filter", "filter", 'Provide filter values (e.g. "until=<timestamp>")'),
        ("f", "force", "bool", "Do not prompt for confirmation"),
    ),
    args=("none",),
)
