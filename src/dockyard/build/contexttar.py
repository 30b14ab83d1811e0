"""The build context on the client side: what `docker build DIR` sends, made the same way.

As the docker CLI: the context directory's symlinks are resolved; the Dockerfile is
`-f` taken relative to the current directory, or DIR/Dockerfile (DIR/dockerfile if only
that exists); .dockerignore is read and applied while walking, but the Dockerfile and
.dockerignore are always sent (the daemon drops them after reading them if they are
excluded); every entry is owned by 0:0; a Dockerfile outside the context (or from
stdin) is added under a generated name `.dockerfile.<20 hex>` that .dockerignore then
lists, so the daemon removes it once read. Errors carry the CLI's words.
"""

from __future__ import annotations

import io
import os
import stat
import sys
import tarfile
import time
from typing import BinaryIO

from dockyard.build.dockerignore import PatternMatcher, read_patterns, trim_build_files, walk_context
from dockyard.build.tarentry import header_for
from dockyard.errors import InvalidArgument

__all__ = ["make_context_tar", "resolve_dockerfile"]

DEFAULT_DOCKERFILE = "Dockerfile"
DOCKERIGNORE = ".dockerignore"
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def make_context_tar(
    dir: os.PathLike[str] | str,  # noqa: A002 - the name the interface was given
    dockerfile: str | None,
    out: BinaryIO,
    *,
    stdin: BinaryIO | None = None,
) -> str:
    """Write the context of directory `dir` to `out` as an uncompressed tar.

    `dockerfile` is the `-f` value as typed (None: the default; "-": read it from `stdin`,
    default sys.stdin). Returns the Dockerfile's name inside the tar, for the `dockerfile`
    parameter of POST /build. Raises InvalidArgument with the docker CLI's message.
    """
    context = _context_dir(os.fspath(dir))
    rel_dockerfile = resolve_dockerfile(context, dockerfile)
    extra: bytes | None = None  # a Dockerfile that is not in the context
    if dockerfile == "-":
        extra = (stdin or sys.stdin.buffer).read()
    elif rel_dockerfile.startswith("../"):
        given = dockerfile or ""  # (a default Dockerfile linking outside: Docker fails the same way)
        try:
            with open(given, "rb") as f:
                extra = f.read()
        except OSError as e:
            raise InvalidArgument(f"unable to open Dockerfile: open {given}: {(e.strerror or '').lower()}") from None

    patterns = _read_dockerignore(context)
    try:
        matcher = PatternMatcher(patterns)
        _check_readable(context, matcher)
        matcher = PatternMatcher(trim_build_files(patterns, rel_dockerfile, dockerfile_from_stdin=dockerfile == "-"))
    except InvalidArgument as e:
        raise InvalidArgument(f"error checking context: {e}") from None

    extra_name = ".dockerfile." + os.urandom(10).hex() if extra is not None else ""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape") as tf:
        wrote_ignore = _write_entries(tf, context, matcher, extra_name)
        if extra is not None:
            now = int(time.time())
            if not wrote_ignore:
                _add_bytes(tf, DOCKERIGNORE, f"{DOCKERIGNORE}\n{extra_name}\n".encode(), now)
            _add_bytes(tf, extra_name, extra, now)
    return extra_name or rel_dockerfile


def _context_dir(given: str) -> str:
    if not os.path.lexists(given):
        raise InvalidArgument(f'unable to prepare context: path "{given}" not found')
    path = os.path.realpath(os.path.abspath(given))
    if not os.path.isdir(path) or os.path.islink(path):
        raise InvalidArgument(f"unable to prepare context: context must be a directory: {path}")
    return path


def resolve_dockerfile(context: str, given: str | None) -> str:
    """The Dockerfile's path relative to `context` (slash-separated; "../x" when outside; "-" for stdin)."""
    if given == "-":
        return "-"
    if given:
        path = os.path.abspath(given)  # -f is relative to the current directory
    else:
        path = os.path.join(context, DEFAULT_DOCKERFILE)
        lower = os.path.join(context, DEFAULT_DOCKERFILE.lower())
        if not os.path.lexists(path) and os.path.lexists(lower):
            path = lower
    missing = _first_missing(path)
    if missing is not None:
        raise InvalidArgument(
            "unable to prepare context: unable to evaluate symlinks in Dockerfile path: "
            f"lstat {missing}: no such file or directory"
        )
    real = os.path.realpath(path)
    if not os.path.lexists(real):
        raise InvalidArgument(f'unable to prepare context: cannot locate Dockerfile: "{real}"')
    return os.path.relpath(real, context).replace(os.sep, "/")


def _first_missing(path: str) -> str | None:
    """The first component of `path` (symlinks followed) that does not exist, as EvalSymlinks reports it."""
    current = "/"
    for part in path.strip("/").split("/"):
        candidate = os.path.join(current, part)
        if not os.path.lexists(candidate):
            return candidate
        current = os.path.realpath(candidate)
        if not os.path.lexists(current):
            return current  # a dangling symlink
    return None


def _read_dockerignore(context: str) -> list[str]:
    try:
        with open(os.path.join(context, DOCKERIGNORE), "rb") as f:
            return read_patterns(f.read())
    except FileNotFoundError:
        return []
    except OSError as e:
        raise InvalidArgument(f"error reading .dockerignore: {e.strerror}") from None


def _check_readable(context: str, matcher: PatternMatcher) -> None:
    """ValidateContextDirectory: every file that will be sent can be opened, before sending any."""
    for item in walk_context(context, matcher):
        if item.excluded or not stat.S_ISREG(item.st.st_mode):
            continue
        try:
            os.close(os.open(item.path, _READ_FLAGS))
        except PermissionError:
            raise InvalidArgument(f"no permission to read from '{item.path}'") from None
        except FileNotFoundError:
            raise InvalidArgument(f"file ('{item.path}') not found or excluded by .dockerignore") from None


def _write_entries(tf: tarfile.TarFile, context: str, matcher: PatternMatcher, extra_name: str) -> bool:
    """Add the context's included entries; True if a .dockerignore was among them."""
    seen: dict[tuple[int, int], str] = {}  # inode -> first name, for hardlinks
    wrote_ignore = False
    for item in walk_context(context, matcher):
        if item.excluded:
            continue
        st = item.st
        link = os.readlink(item.path) if stat.S_ISLNK(st.st_mode) else ""
        try:
            info = header_for(item.rel, st, linkname=link, path=item.path)
        except ValueError:
            continue  # sockets cannot be archived: skipped, as Docker does
        info.uid = info.gid = 0
        if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
            first = seen.setdefault((st.st_dev, st.st_ino), info.name)
            if first != info.name:
                info.type, info.linkname, info.size = tarfile.LNKTYPE, first, 0
        if info.isreg() and extra_name and info.name == DOCKERIGNORE:
            with open(item.path, "rb") as f:
                data = f.read() + f"\n{extra_name}\n".encode()
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
            wrote_ignore = True
        elif info.isreg():
            fd = os.open(item.path, _READ_FLAGS)
            with os.fdopen(fd, "rb") as f:
                tf.addfile(info, f)
        else:
            tf.addfile(info)
    return wrote_ignore


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, mtime
    info.uname = info.gname = ""
    tf.addfile(info, io.BytesIO(data))
