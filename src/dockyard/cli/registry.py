"""`pull`, `push`, `login`, `logout`, as docker 28.2: progress as JSON messages from the daemon
(one redrawn line per layer on a terminal, plain lines otherwise), credentials from and to the
docker CLI's config.json, sent as the X-Registry-Auth header."""

from __future__ import annotations

import sys
from typing import Any

from dockyard.cli.command import Cli, Command, StatusError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.flags import Parsed

__all__ = ["PULL", "PUSH", "LOGIN", "LOGOUT"]


def _domain(name: str) -> tuple[str, Any]:
    from dockyard.errors import InvalidArgument
    from dockyard.store import references

    try:
        ref = references.parse_normalized(name)
    except InvalidArgument as e:
        raise StatusError(f'invalid reference format: {e.message}' if "format" not in e.message
                          else e.message, 1) from None
    return ref.domain, ref


def _stream(cli: Cli, path: str, params: dict[str, Any], auth: str, quiet: bool,
            aux: Any = None) -> None:
    from dockyard.cli.jsonstream import StreamError, display_stream

    try:
        messages = cli.client.stream_json("POST", path, params, headers={"X-Registry-Auth": auth})
        if quiet:
            for m in messages:
                if isinstance(m, dict) and (m.get("error") or m.get("errorDetail")):
                    raise StreamError((m.get("errorDetail") or {}).get("message") or m.get("error") or "")
        else:
            display_stream(messages, cli.out, is_terminal=cli.out.isatty(), aux=aux)
    except StreamError as e:
        raise StatusError(e.message, 1) from None


def _pull(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.dockerconfig import auth_header

    domain, ref = _domain(o.args[0])
    all_tags = o.bool("all-tags")
    if all_tags and (ref.tag or ref.digest):
        raise StatusError("tag can't be used with --all-tags/-a", 1)
    params: dict[str, Any] = {"fromImage": ref.name}
    if ref.digest:
        params["tag"] = ref.digest
    elif not all_tags:
        params["tag"] = ref.tag or "latest"
    if o.str("platform"):
        from dockyard.cli.saveload import _platform_param

        params["platform"] = _platform_param(o)
    _stream(cli, "/images/create", params, auth_header(domain), o.bool("quiet"))
    if not all_tags:
        shown = ref.with_default_tag() if not ref.digest else ref
        cli.print(str(shown))
    return 0


def _push(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.dockerconfig import auth_header

    domain, ref = _domain(o.args[0])
    all_tags = o.bool("all-tags")
    if all_tags and (ref.tag or ref.digest):
        raise StatusError("tag can't be used with --all-tags/-a", 1)
    tag = "" if all_tags else (ref.tag or "latest")
    if not all_tags and not ref.tag and not ref.digest:
        cli.print(f"Using default tag: {tag}")
    name = ref.familiar_name
    _stream(cli, f"/images/{name}/push", {"tag": tag}, auth_header(domain), o.bool("quiet"))
    if o.bool("quiet"):
        cli.print(str(ref.with_default_tag()) if not all_tags else ref.familiar_name)
    return 0


def _login(cli: Cli, o: Parsed) -> int:
    from dockyard.cli import dockerconfig

    server = o.args[0] if o.args else ""
    user, password = o.str("username"), o.str("password")
    if o.bool("password-stdin"):
        if password:
            raise StatusError("--password and --password-stdin are mutually exclusive", 1)
        if not user:
            raise StatusError("Must provide --username with --password-stdin", 1)
        password = sys.stdin.read().rstrip("\r\n")
    elif password:
        cli.eprint("WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
    if not user:
        raise StatusError("Error: Cannot perform an interactive login from a non TTY device", 1)
    key = dockerconfig.server_key(server)
    try:
        reply = cli.client.post_json("/auth", json={"username": user, "password": password, "serveraddress": key})
    except Exception as e:   # the daemon's words, as docker prints them
        message = getattr(e, "message", str(e))
        raise StatusError(f"Error response from daemon: {message}", 1) from None
    dockerconfig.store_auth(server, user, password)
    cli.print((reply or {}).get("Status") or "Login Succeeded")
    return 0


def _logout(cli: Cli, o: Parsed) -> int:
    from dockyard.cli import dockerconfig

    server = o.args[0] if o.args else ""
    shown = dockerconfig.server_key(server)
    if not dockerconfig.remove_auth(server):
        cli.print(f"Not logged in to {shown}")
        return 0
    cli.print(f"Removing login credentials for {shown}")
    return 0


PULL = Command(
    "[OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry", _pull,
    flags=(
        ("a", "all-tags", "bool", "Download all tagged images in the repository"),
        ("", "platform", "string", "Set platform if server is multi-platform capable"),
        ("q", "quiet", "bool", "Suppress verbose output"),
    ),
    aliases=("image pull", "pull"),
    args=("exact", 1),
)

PUSH = Command(
    "[OPTIONS] NAME[:TAG]", "Upload an image to a registry", _push,
    flags=(
        ("a", "all-tags", "bool", "Push all tags of an image to the repository"),
        ("q", "quiet", "bool", "Suppress verbose output"),
    ),
    aliases=("image push", "push"),
    args=("exact", 1),
)

LOGIN = Command(
    "[OPTIONS] [SERVER]", "Authenticate to a registry", _login,
    flags=(
        ("p", "password", "string", "Password or Personal Access Token (PAT)"),
        ("", "password-stdin", "bool", "Take the Password or Personal Access Token (PAT) from stdin"),
        ("u", "username", "string", "Username"),
    ),
    args=("max", 1),
)

LOGOUT = Command(
    "[SERVER]", "Log out from a registry", _logout,
    args=("max", 1),
)
