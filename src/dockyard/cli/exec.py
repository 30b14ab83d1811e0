"""`exec` and `attach`: hijacked streams into a running container."""

from __future__ import annotations

import os

from dockyard.cli.command import Cli, Command, StatusError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.flags import Parsed

__all__ = ["EXEC", "ATTACH"]


def _exec(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.runconfig import _kv_env, parse_env_file
    from dockyard.cli.stdio import pump, watch_resize
    from dockyard.client.api import quote

    name, cmd = o.args[0], o.args[1:]
    tty = o.bool("tty")
    stdin = o.bool("interactive")
    detach = o.bool("detach")
    if tty and stdin and not detach and not os.isatty(0):
        raise StatusError("the input device is not a TTY", 1)
    env: list[str] = []
    for path in o.list("env-file"):
        env.extend(parse_env_file(path))
    for e in o.list("env"):
        v = _kv_env(e)
        if v is not None:
            env.append(v)
    client = cli.client
    client.inspect_container(name)
    body = {
        "User": o.str("user"), "Privileged": o.bool("privileged"), "Tty": tty,
        "AttachStdin": stdin and not detach, "AttachStderr": not detach, "AttachStdout": not detach,
        "Detach": detach, "DetachKeys": o.str("detach-keys"), "Env": env or None,
        "WorkingDir": o.str("workdir"), "Cmd": cmd,
    }
    if tty:
        from dockyard.cli.runconfig import console_size

        body["ConsoleSize"] = console_size(1)
    exec_id = client.post_json(f"/containers/{quote(name)}/exec", json=body)["Id"]
    if detach:
        client.call("POST", f"/exec/{exec_id}/start", json={"Detach": True, "Tty": tty})
        return 0
    stream = client.hijack(f"/exec/{exec_id}/start", json={"Detach": False, "Tty": tty})
    undo = None
    if tty and os.isatty(1):
        undo = watch_resize(lambda h, w: client.resize(exec_id, h, w, exec_id=True))
    try:
        detached = pump(stream, tty, stdin, detach_keys=o.str("detach-keys"))
    finally:
        if undo:
            undo()
        stream.close()
    if detached:
        raise StatusError("read escape sequence", 1)  # docker exec's words for a detach
    info = client.get_json(f"/exec/{exec_id}/json") or {}
    code = info.get("ExitCode")
    return int(code) if code is not None else 0


def _force_redraw(client, cid: str) -> None:
    """Resize to a size off by one first, as docker attach does: the process redraws (a shell
    prints its prompt again), then the real size follows."""
    from dockyard.cli.runconfig import console_size

    h, w = console_size(1)
    if h and w:
        try:
            client.resize(cid, h + 1, w + 1)
        except Exception:  # noqa: BLE001 - cosmetic
            pass


def _attach(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.run import _wait_status, _watch_resize
    from dockyard.cli.stdio import SignalProxy, pump

    client = cli.client
    info = client.inspect_container(o.args[0])
    state = info.get("State") or {}
    if not state.get("Running"):
        raise StatusError("You cannot attach to a stopped container, start it first", 1)
    if state.get("Paused"):
        raise StatusError("You cannot attach to a paused container, unpause it first", 1)
    cid = info["Id"]
    config = info.get("Config") or {}
    tty = bool(config.get("Tty"))
    stdin = bool(config.get("OpenStdin")) and not o.bool("no-stdin")
    if stdin and tty and not os.isatty(0):
        raise StatusError("the input device is not a TTY", 1)
    waiter = client.stream_raw("POST", f"/containers/{cid}/wait")
    stream = client.hijack(f"/containers/{cid}/attach", {
        "stream": 1, "stdin": stdin, "stdout": 1, "stderr": 1, "detachKeys": o.str("detach-keys") or None,
    })
    undo = None
    if tty and os.isatty(1):
        _force_redraw(client, cid)
        undo = _watch_resize(client, cid)
    proxy = SignalProxy(lambda sig: client.call("POST", f"/containers/{cid}/kill", {"signal": sig}))
    use_proxy = o.bool("sig-proxy", True) and not tty
    try:
        if use_proxy:
            proxy.__enter__()
        detached = pump(stream, tty, stdin, detach_keys=o.str("detach-keys"))
    finally:
        if use_proxy:
            proxy.__exit__()
        if undo:
            undo()
        stream.close()
    if detached:  # docker attach reports a detach as an error, unlike docker run
        waiter.close()
        raise StatusError("read escape sequence", 1)
    return _wait_status(cli, waiter)


EXEC = Command(
    "[OPTIONS] CONTAINER COMMAND [ARG...]",
    "Execute a command in a running container",
    _exec,
    flags=(
        ("d", "detach", "bool", "Detached mode: run command in the background"),
        ("", "detach-keys", "string", "Override the key sequence for detaching a container"),
        ("e", "env", "list", "Set environment variables"),
        ("", "env-file", "list", "Read in a file of environment variables"),
        ("i", "interactive", "bool", "Keep STDIN open even if not attached"),
        ("", "privileged", "bool", "Give extended privileges to the command"),
        ("t", "tty", "bool", "Allocate a pseudo-TTY"),
        ("u", "user", "string", 'Username or UID (format: "<name|uid>[:<group|gid>]")'),
        ("w", "workdir", "string", "Working directory inside the container"),
    ),
    aliases=("container exec", "exec"),
    args=("min", 2),
    interspersed=False,
)

ATTACH = Command(
    "[OPTIONS] CONTAINER",
    "Attach local standard input, output, and error streams to a running container",
    _attach,
    flags=(
        ("", "detach-keys", "string", "Override the key sequence for detaching a container"),
        ("", "no-stdin", "bool", "Do not attach STDIN"),
        ("", "sig-proxy", "bool", "Proxy all received signals to the process (default true)"),
    ),
    aliases=("container attach", "attach"),
    args=("exact", 1),
)
