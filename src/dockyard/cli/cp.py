"""`cp`: copy files between a container and the local filesystem, as docker 28.2's `docker cp`.

Requests as the docker CLI sends them: `HEAD /containers/{c}/archive?path=` (the stat,
base64 JSON in X-Docker-Container-Path-Stat), `GET .../archive?path=` (a tar), `PUT
.../archive?path=&noOverwriteDirNonDir=true[&copyUIDGID=true]` (a tar to unpack). The
copy rules themselves are in cparchive.py. With stdout on a terminal (unless -q) it
ends with "Successfully copied 2.05kB to DEST" on stderr (the archive's size, as docker
counts it); `-` streams a tar on stdin/stdout.
"""

from __future__ import annotations

import sys

from dockyard.cli.command import Cli, Command, StatusError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from dockyard.cli.flags import Parsed

__all__ = ["CP"]

_MODE_DIR, _MODE_SYMLINK, _MODE_DEVICE, _MODE_IRREGULAR = 1 << 31, 1 << 27, 1 << 26, 1 << 19


class _Counter:
    """Counts the archive's bytes for "Successfully copied". docker 28.2 draws no live progress:
    its copyProgress asks whether the wrapped stderr writer is a terminal, and it never is."""

    def __init__(self) -> None:
        self.total = 0

    def count(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.total += len(chunk)
            yield chunk


def _stat(cli: Cli, container: str, path: str) -> dict[str, Any]:
    import base64
    import json

    from dockyard.client.api import quote

    resp = cli.client.request("HEAD", f"/containers/{quote(container)}/archive", {"path": path})
    resp.close()
    return json.loads(base64.b64decode(resp.header("x-docker-container-path-stat") or "e30="))


def _from_container(cli: Cli, o: Parsed, container: str, src: str, dst: str, quiet: bool) -> int:
    import base64
    import json

    from dockyard.cli import cparchive as ca
    from dockyard.client.api import quote
    from dockyard.units import human_size

    if dst != "-":
        dst = ca.resolve_local_path(dst)
    _validate_output_path(dst)
    rebase = ""
    if o.bool("follow-link"):
        try:
            st = _stat(cli, container, src)
        except Exception:  # noqa: BLE001 - docker ignores a failed stat here; the GET reports it
            st = {}
        if st and int(st.get("mode") or 0) & _MODE_SYMLINK:
            target = st.get("linkTarget") or ""
            if not target.startswith("/"):
                target = ca.go_join(ca.split_path_dir_entry(src)[0], target)
            src, rebase = ca.get_rebase_name(src, target)
    resp = cli.client.request("GET", f"/containers/{quote(container)}/archive", {"path": src})
    try:
        try:
            stat = json.loads(base64.b64decode(resp.header("x-docker-container-path-stat")))
        except ValueError as e:
            raise StatusError(f"unable to get resource stat from response: unable to decode container path "
                              f"stat header: {e}", 1) from None
        if dst == "-":
            out = sys.stdout.buffer
            for chunk in resp.iter_raw():
                out.write(chunk)
            out.flush()
            return 0
        info = ca.CopyInfo(src, True, bool(int(stat.get("mode") or 0) & _MODE_DIR), rebase)
        progress = _Counter()
        chunks = progress.count(resp.iter_raw())
        if info.rebase_name:
            chunks = ca.rebase_entries(ca.ChunkReader(chunks), ca.split_path_dir_entry(info.path)[1], info.rebase_name)
        try:
            ca.copy_to(ca.ChunkReader(chunks), info, dst)
        except ca.CopyError as e:
            raise StatusError(str(e), 1) from None
        except FileNotFoundError as e:
            raise StatusError(f"stat {e.filename}: no such file or directory", 1) from None
        finally:
            if not quiet:   # docker prints it whatever the outcome
                cli.eprint(f"Successfully copied {human_size(progress.total)} to {dst}")
    finally:
        resp.close()
    return 0


def _validate_output_path(path: str) -> None:
    import os
    import stat as st

    parent = os.path.dirname(os.path.normpath(path)) if path != "-" else "."
    if parent not in ("", ".") and not os.path.exists(parent):
        raise StatusError(f'invalid output path: directory "{parent}" does not exist', 1)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if st.S_ISDIR(mode) or st.S_ISREG(mode):
        return
    if st.S_ISBLK(mode) or st.S_ISCHR(mode):
        raise StatusError(f'invalid output path: "{path}" must be a directory or a regular file: got a device', 1)


def _to_container(cli: Cli, o: Parsed, container: str, src: str, dst: str, quiet: bool) -> int:
    from dockyard.cli import cparchive as ca
    from dockyard.client.api import quote
    from dockyard.units import human_size

    if src != "-":
        src = ca.resolve_local_path(src)
    dst_info = ca.CopyInfo(dst)
    mode = 0
    try:
        st = _stat(cli, container, dst)
        if int(st.get("mode") or 0) & _MODE_SYMLINK:
            target = st.get("linkTarget") or ""
            if not target.startswith("/"):
                target = ca.go_join(ca.split_path_dir_entry(dst)[0], target)
            dst_info.path = target
            st = _stat(cli, container, target)
        mode = int(st.get("mode") or 0)
        dst_info.exists, dst_info.is_dir = True, bool(mode & _MODE_DIR)
    except Exception as e:  # noqa: BLE001 - a missing destination is fine: its parent may exist
        from dockyard.client.transport import ConnectError

        if isinstance(e, ConnectError):
            raise
    if mode & _MODE_DEVICE:
        raise StatusError(f'destination "{container}:{dst}" must be a directory or a regular file: got a device', 1)
    if src == "-":
        if not dst_info.is_dir:
            raise StatusError(f'destination "{container}:{dst}" must be a directory', 1)
        body: Any = sys.stdin.buffer
        target_dir = dst_info.path
        progress = _Counter()
    else:
        try:
            src_info = ca.copy_info_source_path(src, o.bool("follow-link"))
            archive = ca.tar_resource(src_info.path, src_info.rebase_name)
            target_dir, rename = ca.prepare_archive_copy(src_info, dst_info)
        except ca.CopyError as e:
            raise StatusError(str(e), 1) from None
        except FileNotFoundError as e:
            raise StatusError(f"lstat {e.filename or src}: no such file or directory", 1) from None
        if rename is not None:
            archive = ca.rebase_entries(ca.ChunkReader(archive), *rename)
        progress = _Counter()
        body = progress.count(archive)
    params = {"path": target_dir, "noOverwriteDirNonDir": "true",
              "copyUIDGID": "true" if o.bool("archive") else None}
    try:
        resp = cli.client.request("PUT", f"/containers/{quote(container)}/archive", params, body=body,
                                  headers={"Content-Type": "application/x-tar"})
        resp.read()
        resp.close()
    except ca.CopyError as e:
        raise StatusError(str(e), 1) from None
    finally:
        if not quiet:   # docker prints it whatever the outcome
            cli.eprint(f"Successfully copied {human_size(progress.total)} to {container}:{dst_info.path}")
    return 0


def _cp(cli: Cli, o: Parsed) -> int:
    from dockyard.cli import cparchive as ca

    source, destination = o.args
    if source == "":
        raise StatusError("source can not be empty", 1)
    if destination == "":
        raise StatusError("destination can not be empty", 1)
    quiet = o.bool("quiet") if o.changed("quiet") else not cli.out.isatty()
    src_container, src_path = ca.split_cp_arg(source)
    dst_container, dst_path = ca.split_cp_arg(destination)
    if src_container and dst_container:
        raise StatusError("copying between containers is not supported", 1)
    if src_container:
        return _from_container(cli, o, src_container, src_path, dst_path, quiet)
    if dst_container:
        return _to_container(cli, o, dst_container, src_path, dst_path, quiet)
    raise StatusError("must specify at least one container source", 1)


CP = Command(
    "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tdockyard cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
    "Copy files/folders between a container and the local filesystem\n\n"
    "Use '-' as the source to read a tar archive from stdin\n"
    "and extract it to a directory destination in a container.\n"
    "Use '-' as the destination to stream a tar archive of a\n"
    "container source to stdout.",
    _cp,
    flags=(
        ("a", "archive", "bool", "Archive mode (copy all uid/gid information)"),
        ("L", "follow-link", "bool", "Always follow symbol link in SRC_PATH"),
        ("q", "quiet", "bool", "Suppress progress output during copy. Progress output is automatically "
                               "suppressed if no terminal is attached"),
    ),
    aliases=("container cp", "cp"),
    args=("exact", 2),
)
