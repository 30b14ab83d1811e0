"""`run` and `create`, in docker's order of calls.

run: create (404 → "Unable to find image" → pull → create again) → attach (hijacked,
before start) → wait (condition next-exit, or removed with --rm; its headers read before
start) → start → resize (TTY) → copy streams → exit with the wait's StatusCode.
"""

from __future__ import annotations

import os
import sys

from dockyard.cli.command import BIN, Cli, Command, StatusError, daemon_error
from dockyard.cli.runflags import CREATE_FLAGS, RUN_FLAGS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.flags import Parsed

__all__ = ["RUN", "CREATE", "create_container", "pull_image", "to_status_error"]


def to_status_error(err: BaseException, path: str) -> StatusError:
    """docker's toStatusError: 127 not found, 126 not executable, else 125."""
    text = daemon_error(err)
    code = 125
    if "executable file not found" in text or "no such file or directory" in text:
        code = 127
    elif "permission denied" in text or "is a directory" in text:
        code = 126
    return StatusError(f"{BIN}: {text}\n\nRun '{BIN} {path} --help' for more information", code)


def _stored_auth(name: str) -> str:
    from dockyard.cli.dockerconfig import auth_header
    from dockyard.errors import InvalidArgument
    from dockyard.store import references

    try:
        return auth_header(references.parse_normalized(name).domain)
    except (InvalidArgument, ValueError):
        return "e30="


def pull_image(cli: Cli, image: str, platform: str = "", quiet: bool = False, out: Any = None) -> None:
    """`POST /images/create?fromImage=..&tag=..`, progress on stderr (stdout is for the id)."""
    from dockyard.cli.jsonstream import display_stream
    from dockyard.cli.refs import split_reference

    name, tag, digest = split_reference(image)
    params = {"fromImage": name, "tag": digest or tag or "latest", "platform": platform or None}
    out = out or sys.stderr
    messages = cli.client.stream_json("POST", "/images/create", params,
                                      headers={"X-Registry-Auth": _stored_auth(name)})
    if quiet:
        for m in messages:
            if isinstance(m, dict) and (m.get("error") or m.get("errorDetail")):
                from dockyard.cli.jsonstream import StreamError

                raise StreamError((m.get("errorDetail") or {}).get("message") or m.get("error") or "")
        return
    display_stream(messages, out, is_terminal=out.isatty())


def create_container(cli: Cli, o: Parsed, body: dict[str, Any]) -> str:
    """Create (pulling when the image is missing, per --pull); returns the id."""
    from dockyard.errors import NotFound

    pull = o.str("pull", "missing")
    if pull not in ("always", "missing", "never"):
        raise ValueError(f"invalid pull option: '{pull}': must be one of \"always\", \"missing\" or \"never\"")
    cidfile = o.str("cidfile")
    if cidfile and os.path.exists(cidfile):
        raise ValueError(f"container ID file found, make sure the other container isn't running or delete {cidfile}")
    image = body["Image"]
    platform = o.str("platform")
    if pull == "always":
        pull_image(cli, image, platform, o.bool("quiet"))
    try:
        resp = cli.client.create_container(body, name=o.str("name") or None, platform=platform or None)
    except NotFound:
        if pull != "missing" or "@" in image and image.startswith("sha256:"):
            raise
        from dockyard.cli.refs import familiar_string

        cli.eprint(f"Unable to find image '{familiar_string(image)}' locally")
        pull_image(cli, image, platform, o.bool("quiet"))
        resp = cli.client.create_container(body, name=o.str("name") or None, platform=platform or None)
    for w in resp.get("Warnings") or []:
        cli.eprint(f"WARNING: {w}")
    cid = resp["Id"]
    if cidfile:
        with open(cidfile, "w") as f:
            f.write(cid)
    return cid


def _body(o: Parsed, detach: bool) -> dict[str, Any]:
    from dockyard.cli.runconfig import build_create_body, console_size

    image, cmd = o.args[0], o.args[1:]
    body = build_create_body(o, image, cmd, detach=detach)
    if body["Tty"]:
        body["HostConfig"]["ConsoleSize"] = console_size(1)
    return body


def _create(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.jsonstream import StreamError
    from dockyard.client.transport import ConnectError
    from dockyard.errors import DockyardError

    body = _body(o, detach=False)   # as docker: only `run -d` clears the Attach* fields
    body["AttachStdin"] = False
    try:
        cid = create_container(cli, o, body)
    except (DockyardError, ConnectError, StreamError, OSError) as e:
        raise to_status_error(e, cli.path) from None
    cli.print(cid)
    return 0


def _run(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.jsonstream import StreamError
    from dockyard.client.transport import ConnectError
    from dockyard.errors import DockyardError

    detach = o.bool("detach")
    body = _body(o, detach)
    tty = body["Tty"]
    if not detach and body["AttachStdin"] and tty and not os.isatty(0):
        raise StatusError("the input device is not a TTY", 1)
    if body["OpenStdin"] and body["AttachStdin"]:
        body["StdinOnce"] = True
    client = cli.client
    try:
        cid = create_container(cli, o, body)
    except (DockyardError, ConnectError, StreamError, OSError) as e:
        raise to_status_error(e, cli.path) from None

    attach_out = body["AttachStdout"] or body["AttachStderr"]
    attached = body["AttachStdin"] or attach_out
    stream = None
    if attached:
        params = {"stream": 1, "stdin": body["AttachStdin"], "stdout": body["AttachStdout"],
                  "stderr": body["AttachStderr"], "detachKeys": o.str("detach-keys") or None}
        stream = client.hijack(f"/containers/{cid}/attach", params)

    condition = "removed" if body["HostConfig"]["AutoRemove"] else "next-exit"
    waiter = client.stream_raw("POST", f"/containers/{cid}/wait", {"condition": condition})

    try:
        client.start(cid)
    except DockyardError as e:
        if stream is not None:
            stream.close()
        if body["HostConfig"]["AutoRemove"]:
            try:
                waiter.read()
            except OSError:
                pass
        waiter.close()
        raise to_status_error(e, cli.path) from None

    if not attach_out:
        waiter.close()
        cli.print(cid)
        return 0

    undo_resize = None
    if tty and os.isatty(1):
        undo_resize = _watch_resize(client, cid)
    from dockyard.cli.stdio import SignalProxy, pump

    proxy = SignalProxy(lambda sig: client.call("POST", f"/containers/{cid}/kill", {"signal": sig}))
    use_proxy = o.bool("sig-proxy", True) and not tty
    try:
        if use_proxy:
            proxy.__enter__()
        assert stream is not None
        detached = pump(stream, tty, body["AttachStdin"], detach_keys=o.str("detach-keys"))
    finally:
        if use_proxy:
            proxy.__exit__()
        if undo_resize:
            undo_resize()
        stream.close()
    if detached:  # the container keeps running, as after docker's ctrl-p ctrl-q
        waiter.close()
        return 0
    return _wait_status(cli, waiter)


def _watch_resize(client: Any, cid: str) -> Any:
    from dockyard.cli.stdio import watch_resize

    return watch_resize(lambda h, w: client.resize(cid, h, w))


def _wait_status(cli: Cli, waiter: Any) -> int:
    """The StatusCode of a wait response (125 if the daemon reports a wait error)."""
    import json

    try:
        data = waiter.read()
    finally:
        waiter.close()
    try:
        doc = json.loads(data.decode().strip().splitlines()[-1]) if data.strip() else {}
    except (ValueError, IndexError):
        doc = {}
    err = doc.get("Error")
    if err and err.get("Message"):
        cli.eprint(f"Error waiting for container: {err['Message']}")
        return 125
    return int(doc.get("StatusCode", 125))


RUN = Command(
    "[OPTIONS] IMAGE [COMMAND] [ARG...]",
    "Create and run a new container from an image",
    _run,
    flags=RUN_FLAGS,
    aliases=("container run", "run"),
    args=("min", 1),
    interspersed=False,
    run_style_errors=True,
)

CREATE = Command(
    "[OPTIONS] IMAGE [COMMAND] [ARG...]",
    "Create a new container",
    _create,
    flags=CREATE_FLAGS,
    aliases=("container create", "create"),
    args=("min", 1),
    interspersed=False,
    run_style_errors=True,
)
