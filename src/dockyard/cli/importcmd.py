"""`import`: a rootfs tarball (file, `-` for stdin, or URL) → `POST /images/create?fromSrc=`."""

from __future__ import annotations

import sys

from dockyard.cli.command import Cli, Command, StatusError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.flags import Parsed

__all__ = ["IMPORT"]


def _import(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.jsonstream import send_tar

    source = o.args[0]
    repo = o.args[1] if len(o.args) > 1 else ""
    params = {
        "fromSrc": source if source.startswith(("http://", "https://")) else "-",
        "repo": repo or None,
        "message": o.str("message") or None,
        "platform": o.str("platform") or None,
        "changes": o.list("change") or None,
    }
    body = None
    opened = None
    if params["fromSrc"] == "-":
        if source == "-":
            body = sys.stdin.buffer
        else:
            try:
                opened = open(source, "rb")  # noqa: SIM115 - closed below, after streaming
            except OSError as e:
                raise StatusError(f"open {source}: {(e.strerror or str(e)).lower()}", 1) from None
            body = opened
    try:
        send_tar(cli, "/images/create", params, body)
    finally:
        if opened is not None:
            opened.close()
    return 0


IMPORT = Command(
    "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
    "Import the contents from a tarball to create a filesystem image",
    _import,
    flags=(
        ("c", "change", "list", "Apply Dockerfile instruction to the created image"),
        ("m", "message", "string", "Set commit message for imported image"),
        ("", "platform", "string", "Set platform if server is multi-platform capable"),
    ),
    aliases=("image import", "import"),
    args=("min", 1),
)
