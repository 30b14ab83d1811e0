"""`diff` and `export`: a container's changes and its whole filesystem, as docker 28.2 shows them."""

from __future__ import annotations

import sys

from dockyard.cli.command import Cli, Command, StatusError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.flags import Parsed

__all__ = ["DIFF", "EXPORT"]

_KINDS = {0: "C", 1: "A", 2: "D"}


def _diff(cli: Cli, o: Parsed) -> int:
    from dockyard.client.api import quote

    name = o.args[0]
    if name == "":
        raise StatusError("Container name cannot be empty", 1)
    for change in cli.client.get_json(f"/containers/{quote(name)}/changes") or []:
        cli.print(f"{_KINDS.get(int(change.get('Kind', -1)), '')} {change.get('Path', '')}")
    return 0


def _export(cli: Cli, o: Parsed) -> int:
    import os
    import tempfile

    from dockyard.client.api import quote

    output = o.str("output")
    if not output and cli.out.isatty():
        raise StatusError("cowardly refusing to save to a terminal. Use the -o flag or redirect", 1)
    tmp = ""
    if output:   # atomically: a temp file next to it, renamed into place at the end (0600, as docker)
        folder = os.path.dirname(os.path.abspath(output))
        try:
            if os.path.isdir(output):
                raise IsADirectoryError(f"cannot write to a directory: {output}")
            fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(output), dir=folder)
        except OSError as e:
            raise StatusError(f"failed to export container: {e.strerror or e}", 1) from None
        out = os.fdopen(fd, "wb")
    else:
        cli.out.flush()
        out = sys.stdout.buffer
    try:
        resp = cli.client.request("GET", f"/containers/{quote(o.args[0])}/export")
        try:
            for chunk in resp.iter_raw():
                out.write(chunk)
        finally:
            resp.close()
        out.flush()
        if tmp:
            os.fsync(out.fileno())
            out.close()
            os.chmod(tmp, 0o600)
            os.replace(tmp, output)
            tmp = ""
    finally:
        if tmp:
            out.close()
            os.unlink(tmp)
    return 0


DIFF = Command("CONTAINER", "Inspect changes to files or directories on a container's filesystem", _diff,
               aliases=("container diff", "diff"), args=("exact", 1))
EXPORT = Command(
    "[OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive", _export,
    flags=(("o", "output", "string", "Write to a file, instead of STDOUT"),),
    aliases=("container export", "export"), args=("exact", 1),
)
