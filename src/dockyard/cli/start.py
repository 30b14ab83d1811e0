"""`start`: without -a/-i start each container; with them, attach first as `run` does."""

from __future__ import annotations

import os

from dockyard.cli.command import Cli, Command, StatusError, daemon_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.flags import Parsed

__all__ = ["START"]


def _start(cli: Cli, o: Parsed) -> int:
    from dockyard.client.api import quote
    from dockyard.errors import DockyardError, NotModified

    if o.bool("attach") or o.bool("interactive"):
        if len(o.args) > 1:
            raise StatusError("you cannot start and attach multiple containers at once", 1)
        return _start_attached(cli, o)
    failed = []
    for name in o.args:
        try:
            cli.client.call("POST", f"/containers/{quote(name)}/start")
        except NotModified:
            pass
        except DockyardError as e:
            cli.eprint(daemon_error(e))
            failed.append(name)
            continue
        cli.print(name)
    if failed:
        raise StatusError(f"Error: failed to start containers: {', '.join(failed)}", 1)
    return 0


def _start_attached(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.run import _wait_status, _watch_resize
    from dockyard.cli.stdio import SignalProxy, pump

    client = cli.client
    info = client.inspect_container(o.args[0])
    cid = info["Id"]
    config = info.get("Config") or {}
    tty = bool(config.get("Tty"))
    stdin = o.bool("interactive") and bool(config.get("OpenStdin"))
    if stdin and tty and not os.isatty(0):
        raise StatusError("the input device is not a TTY", 1)
    stream = client.hijack(f"/containers/{cid}/attach", {
        "stream": 1, "stdin": stdin, "stdout": o.bool("attach"), "stderr": o.bool("attach"),
        "detachKeys": o.str("detach-keys") or None,
    })
    auto_remove = bool((info.get("HostConfig") or {}).get("AutoRemove"))
    waiter = client.stream_raw("POST", f"/containers/{cid}/wait",
                               {"condition": "removed" if auto_remove else "next-exit"})
    try:
        client.start(cid)
    except Exception:
        stream.close()
        waiter.close()
        raise
    undo = _watch_resize(client, cid) if tty and os.isatty(1) else None
    proxy = SignalProxy(lambda sig: client.call("POST", f"/containers/{cid}/kill", {"signal": sig}))
    try:
        if not tty:
            proxy.__enter__()
        detached = pump(stream, tty, stdin, detach_keys=o.str("detach-keys"))
    finally:
        if not tty:
            proxy.__exit__()
        if undo:
            undo()
        stream.close()
    if detached:  # the detach keys: the container keeps running, as with docker start -ai
        waiter.close()
        return 0
    return _wait_status(cli, waiter)


START = Command(
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Start one or more stopped containers",
    _start,
    flags=(
        ("a", "attach", "bool", "Attach STDOUT/STDERR and forward signals"),
        ("", "checkpoint", "string", "Restore from this checkpoint"),
        ("", "checkpoint-dir", "string", "Use a custom checkpoint storage directory"),
        ("", "detach-keys", "string", "Override the key sequence for detaching a container"),
        ("i", "interactive", "bool", "Attach container's STDIN"),
    ),
    aliases=("container start", "start"),
    args=("min", 1),
)
