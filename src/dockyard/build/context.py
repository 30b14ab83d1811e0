"""The build context on the daemon side: unpack the tar the client sent, apply .dockerignore,
find and read the Dockerfile, with Docker's errors.

The order Docker's classic builder follows, which `prepare_context` does in one call:

1. `extract_context`: the request body (a tar, plain or gzip/bzip2/xz) into an empty
   directory. Entries that would land outside it (`..`, absolute names, a parent that is a
   symlink, a hardlink to something not in the archive) are refused, naming the entry,
   and the directory is left empty again.
2. `apply_dockerignore`: the docker CLI already left out what .dockerignore excludes, but
   other API clients may not; the same walk is applied here, keeping the Dockerfile and
   .dockerignore themselves (the CLI always sends them).
3. `read_dockerfile`: `Dockerfile` falls back to `dockerfile`; a missing one is
   "Cannot locate specified Dockerfile: X"; a name leaving the context is refused.
4. `remove_build_files`: the Dockerfile and .dockerignore are then removed if
   .dockerignore excludes them, so `COPY . .` does not copy them.

The client side (`make_context_tar`, what `dockyard build DIR` sends) is in contexttar.py.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tarfile
from pathlib import Path
from typing import Any

from dockyard.build import gopath
from dockyard.build.contexttar import make_context_tar
from dockyard.build.dockerignore import PatternMatcher, read_patterns, trim_build_files, walk_context
from dockyard.build.sourcehash import Forbidden, full_path
from dockyard.build.treewriter import EntryError, TreeWriter, client_or_host_error, unpack_tar
from dockyard.errors import InvalidArgument
from dockyard.securejoin import resolve_in_root
from dockyard.store.entryops import empty_dir
from dockyard.store.layers import DecompressingReader

__all__ = [
    "DEFAULT_DOCKERFILE",
    "extract_context",
    "apply_dockerignore",
    "locate_dockerfile",
    "read_dockerfile",
    "remove_build_files",
    "prepare_context",
    "make_context_tar",
]

DEFAULT_DOCKERFILE = "Dockerfile"
DOCKERIGNORE = ".dockerignore"


# -- 1. extraction ---------------------------------------------------------------


def extract_context(stream: Any, dest: Path) -> None:
    """Unpack the context tar read from `stream` (`.read(n)`) into `dest` (missing or empty).

    Keeps modes, owners, times, symlinks, hardlinks and xattrs. On any error raises
    InvalidArgument (bad or unsafe archive) or SystemError_ (the host failed), after
    removing what it wrote (and `dest` itself if it created it).
    """
    dest = Path(dest)
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    root_fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _extract(DecompressingReader(stream, what="build contexts"), root_fd)
    except BaseException:
        empty_dir(root_fd)
        os.close(root_fd)
        root_fd = -1
        if created:
            shutil.rmtree(dest, ignore_errors=True)
        raise
    finally:
        if root_fd >= 0:
            os.close(root_fd)


def _extract(reader: DecompressingReader, root_fd: int) -> None:
    writer = TreeWriter(root_fd, links="refuse", absolute_names="refuse")
    try:
        unpack_tar(reader, writer)
        reader.drain()
    except EntryError as e:
        raise client_or_host_error(f"invalid build context: {e}", e.cause) from None
    except tarfile.TarError as e:
        raise InvalidArgument(f"invalid build context: {e}") from None
    finally:
        writer.close()


# -- 2. .dockerignore --------------------------------------------------------------


def _read_dockerignore(root: Path) -> list[str] | None:
    """The patterns of root/.dockerignore (followed within the context), None if there is none."""
    path = resolve_in_root(root, DOCKERIGNORE)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise InvalidArgument(f"error reading .dockerignore: read {DOCKERIGNORE}: {e.strerror}") from None
    return read_patterns(data)


def apply_dockerignore(root: Path, dockerfile_name: str) -> None:
    """Remove what root/.dockerignore excludes, as the docker CLI would have left it out.

    The Dockerfile (`dockerfile_name`, or `dockerfile` when that is what the default name
    finds) and .dockerignore stay: the builder reads them first (see remove_build_files).
    """
    root = Path(root)
    patterns = _read_dockerignore(root)
    if not patterns:
        return
    try:
        name = _clean_name(locate_dockerfile(root, dockerfile_name))
    except InvalidArgument:
        name = _clean_name(dockerfile_name)  # reported when it is read
    matcher = PatternMatcher(trim_build_files(patterns, name))
    entered: list[str] = []
    for item in walk_context(str(root), matcher):
        if not item.excluded:
            continue
        if item.entered:
            entered.append(item.path)  # holds re-included files: removed below if it ends up empty
        elif stat.S_ISDIR(item.st.st_mode):
            shutil.rmtree(item.path)
        else:
            os.unlink(item.path)
    for path in reversed(entered):
        try:
            os.rmdir(path)
        except OSError as e:
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise


# -- 3. the Dockerfile -------------------------------------------------------------


def _clean_name(name: str) -> str:
    return gopath.clean("/" + (name or DEFAULT_DOCKERFILE))[1:]


def _full_path(root: Path, name: str) -> str:
    """The host path of context path `name`, symlinks followed inside the context (moby FullPath)."""
    try:
        return full_path(str(root), name)
    except Forbidden:
        raise InvalidArgument(f"forbidden path outside the build context: {name} ()") from None


def locate_dockerfile(root: Path, name: str) -> str:
    """The context path of the Dockerfile the client named: `name`, or `dockerfile` for the default."""
    name = name or DEFAULT_DOCKERFILE
    if os.path.exists(_full_path(Path(root), name)):
        return name
    if name == DEFAULT_DOCKERFILE and os.path.exists(_full_path(Path(root), name.lower())):
        return name.lower()
    raise InvalidArgument(f"Cannot locate specified Dockerfile: {name}")


def read_dockerfile(root: Path, name: str) -> bytes:
    """The Dockerfile's bytes, with Docker's errors for a missing, empty or unreadable one."""
    found = locate_dockerfile(root, name)
    try:
        with open(_full_path(Path(root), found), "rb") as f:
            data = f.read()
    except OSError as e:
        raise InvalidArgument(f"unexpected error reading Dockerfile: read {found}: {e.strerror}") from None
    if not data:
        raise InvalidArgument(f"the Dockerfile ({name or DEFAULT_DOCKERFILE}) cannot be empty")
    return data


def remove_build_files(root: Path, dockerfile_name: str) -> None:
    """Drop .dockerignore and the Dockerfile from the context if .dockerignore excludes them."""
    root = Path(root)
    try:
        patterns = _read_dockerignore(root)
        found = locate_dockerfile(root, dockerfile_name)
    except InvalidArgument:
        return
    if not patterns:
        return
    try:
        matcher = PatternMatcher(patterns)
    except InvalidArgument:
        return  # Docker ignores the error here too
    for name in (DOCKERIGNORE, found):
        try:
            if not matcher.matches(name):
                continue
            path = _full_path(root, name)
        except InvalidArgument:
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.lexists(path):
            os.unlink(path)


def prepare_context(stream: Any, dest: Path, dockerfile_name: str) -> bytes:
    """Steps 1-4: unpack the body into `dest` and return the Dockerfile's bytes.

    On error `dest` is left empty (or removed, if this call created it).
    """
    dest = Path(dest)
    created = not dest.exists()
    extract_context(stream, dest)
    try:
        apply_dockerignore(dest, dockerfile_name)
        data = read_dockerfile(dest, dockerfile_name)
        remove_build_files(dest, dockerfile_name)
    except BaseException:
        if created:
            shutil.rmtree(dest, ignore_errors=True)
        else:
            fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                empty_dir(fd)
            finally:
                os.close(fd)
        raise
    return data
