"""A container's files from outside: `docker cp` (stat, archive, extract), `export`, `diff`.

ArchiveService is what the API handlers call. As moby's daemon/archive.go:

* `stat(ref, path)`: the path's lstat (a trailing "/" or "/." follows a last symlink),
  and for a symlink its target with every link followed inside the container;
* `archive(ref, path)`: that stat and a tar of the path: a directory's contents named
  after the path's base name (`/etc` → `etc/...`, `/etc/.` → `./...`), a non-directory
  alone (a symlink as itself);
* `extract(ref, path, body, ...)`: unpack a tar into the directory `path`
  (engine/archive_extract.py);
* `export(ref)`: the container's merged overlay as one tar, names relative to "/";
* `changes(ref)`: `docker diff` (store/changes.py).

A missing path is "Could not find the file PATH in container NAME" (404), NAME as the client
gave it. Running containers are read and written through their own view of their root
(mounts included), stopped ones through their overlay mounted for the call
(engine/containerfs.py); never through a host path built from a container path.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import stat
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from dockyard import errors, fdtar
from dockyard.engine import archive_extract
from dockyard.engine.containerfs import ContainerFS, check_visible, open_view
from dockyard.engine.state import Status
from dockyard.oci.image_spec import rfc3339
from dockyard.securejoin import open_in_root, scoped_path
from dockyard.store.changes import container_changes

__all__ = ["ArchiveService", "PathStat", "ViewStream", "go_file_mode", "go_base", "preserve_trailing"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


@dataclass(frozen=True)
class PathStat:
    """Docker's container.PathStat (`X-Docker-Container-Path-Stat`)."""
    name: str
    size: int
    mode: int            # a Go os.FileMode
    mtime: str           # RFC 3339 with nanoseconds
    link_target: str


def go_file_mode(st_mode: int) -> int:
    """Go's os.FileMode for a unix st_mode (type bits high, permissions low)."""
    out = st_mode & 0o777
    kind = stat.S_IFMT(st_mode)
    out |= {stat.S_IFDIR: 1 << 31, stat.S_IFLNK: 1 << 27, stat.S_IFBLK: 1 << 26,
            stat.S_IFCHR: (1 << 26) | (1 << 21), stat.S_IFIFO: 1 << 25, stat.S_IFSOCK: 1 << 24}.get(kind, 0)
    if st_mode & stat.S_ISUID:
        out |= 1 << 23
    if st_mode & stat.S_ISGID:
        out |= 1 << 22
    if st_mode & stat.S_ISVTX:
        out |= 1 << 20
    return out


def go_base(path: str) -> str:
    """Go's filepath.Base."""
    if path == "":
        return "."
    path = path.rstrip("/")
    if path == "":
        return "/"
    return path.rsplit("/", 1)[-1]


def _asserts_dir(path: str) -> bool:
    return path.endswith("/") or go_base(path) == "."


def preserve_trailing(cleaned: str, original: str) -> str:
    """go-archive PreserveTrailingDotOrSeparator."""
    if go_base(cleaned) != "." and go_base(original) == ".":
        if not cleaned.endswith("/"):
            cleaned += "/"
        cleaned += "."
    if not cleaned.endswith("/") and original.endswith("/"):
        cleaned += "/"
    return cleaned


def _absolute(path: str) -> str:
    """filepath.Join("/", path) with its trailing "/" or "/." kept."""
    return preserve_trailing(posixpath.normpath("/" + path.lstrip("/")), path)


def stat_in_root(root_fd: int, path: str) -> PathStat:
    fd, parts = open_in_root(root_fd, path, follow_last=_asserts_dir(path))
    try:
        check_visible(root_fd, parts, fd)
        st = os.fstat(fd)
    finally:
        os.close(fd)
    if _asserts_dir(path) and not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(f"lstat {path}: not a directory")
    target = scoped_path(root_fd, path) if stat.S_ISLNK(st.st_mode) else ""
    return PathStat(go_base(path), st.st_size, go_file_mode(st.st_mode), rfc3339(st.st_mtime_ns), target)


def _reopen_dir(root_fd: int, parts: list[str]) -> int:
    fd, _ = open_in_root(root_fd, "/" + "/".join(parts), follow_last=False)
    try:
        return os.open(f"/proc/self/fd/{fd}", _DIR_FLAGS)   # the magic link: the very inode found
    finally:
        os.close(fd)


def tar_in_root(root_fd: int, path: str) -> tuple[PathStat, Iterator[bytes]]:
    """The stat of `path` and the tar of it (moby's containerArchivePath)."""
    abs_path = _absolute(path)
    st = stat_in_root(root_fd, abs_path)
    rebase = go_base(abs_path)
    fd, parts = open_in_root(root_fd, abs_path, follow_last=_asserts_dir(abs_path))
    os.close(fd)
    if st.mode & (1 << 31):
        dfd = _reopen_dir(root_fd, parts)
        root_name, prefix = ("", "/") if rebase == "/" else (rebase, rebase + "/")
        return st, _Owned(fdtar.tar_dir(dfd, root_name=root_name, child_prefix=prefix), dfd)
    pfd = _reopen_dir(root_fd, parts[:-1])
    return st, _Owned(fdtar.tar_entry(pfd, parts[-1], rebase), pfd)


class _Owned:
    """Chunks that own a directory fd: closing them closes it, whether they were read or not."""

    def __init__(self, chunks: Iterator[bytes], fd: int) -> None:
        self._chunks, self._fd = chunks, fd

    def __iter__(self) -> _Owned:
        return self

    def __next__(self) -> bytes:
        return next(self._chunks)

    def close(self) -> None:
        try:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
        finally:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


class _ThreadedChunks:
    """Pull a blocking chunk generator from the event loop, one chunk per worker call;
    closing waits for the chunk being made (a generator cannot be closed while it runs)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._lock = threading.Lock()

    def step(self) -> bytes | None:
        with self._lock:
            return next(self._chunks, None)

    def close(self) -> None:
        with self._lock:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()


class ViewStream:
    """The chunks of a tar made in worker threads, as an async iterator over a container view.

    `aclose()` (the API server always calls it) closes the view, releasing a stopped
    container's mount and lock, whether the stream ran to its end, failed, or was never
    started; the release is shielded, so a client hanging up mid-cleanup cannot cut it short."""

    _closing: set[asyncio.Future[None]] = set()   # cleanups still running: referenced until done

    def __init__(self, chunks: Iterator[bytes], view: ContainerFS, on_end: Callable[[], None] | None = None,
                 wrap_error: Callable[[Exception], Exception] | None = None) -> None:
        self._source = _ThreadedChunks(chunks)
        self._view = view
        self._on_end = on_end
        self._wrap_error = wrap_error
        self._closed = False

    def __aiter__(self) -> ViewStream:
        return self

    async def __anext__(self) -> bytes:
        if self._closed:
            raise StopAsyncIteration
        try:
            chunk = await asyncio.get_running_loop().run_in_executor(None, self._source.step)
        except OSError as e:
            await self.aclose()
            raise (self._wrap_error(e) if self._wrap_error else errors.SystemError_(str(e))) from None
        except BaseException:
            await self.aclose()
            raise
        if chunk is None:
            await self.aclose()
            if self._on_end is not None:
                self._on_end()
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        task = asyncio.ensure_future(self._release())
        ViewStream._closing.add(task)
        task.add_done_callback(ViewStream._closing.discard)
        await asyncio.shield(task)

    async def _release(self) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(None, self._source.close)
        finally:
            await self._view.close()


class ArchiveService:
    def __init__(self, containers: Any) -> None:
        self.containers = containers

    def _not_found(self, path: str, ref: str) -> errors.NotFound:
        return errors.NotFound(f"Could not find the file {path} in container {ref}")

    async def _in_view(self, ref: str, path: str, fn: Callable[[int], Any]) -> Any:
        async with await open_view(self.containers, ref) as view:
            try:
                return await asyncio.get_running_loop().run_in_executor(None, fn, view.root_fd)
            except FileNotFoundError:
                raise self._not_found(path, ref) from None
            except OSError as e:
                raise errors.SystemError_(f"lstat {path}: {(e.strerror or str(e)).lower()}") from None

    async def stat(self, ref: str, path: str) -> PathStat:
        _check_path(path)
        return await self._in_view(ref, path, lambda root: stat_in_root(root, path))

    async def archive(self, ref: str, path: str) -> tuple[PathStat, AsyncIterator[bytes]]:
        _check_path(path)
        view = await open_view(self.containers, ref)
        try:
            st, chunks = await asyncio.get_running_loop().run_in_executor(None, tar_in_root, view.root_fd, path)
        except FileNotFoundError:
            await view.close()
            raise self._not_found(path, ref) from None
        except OSError as e:
            await view.close()
            raise errors.SystemError_(f"lstat {path}: {(e.strerror or str(e)).lower()}") from None
        except BaseException:
            await view.close()
            raise
        self.containers._emit("container", "archive-path", view.container)
        return st, ViewStream(chunks, view)

    async def extract(self, ref: str, path: str, body: Any, *, no_overwrite_dir_nondir: bool,
                      copy_uid_gid: bool) -> None:
        _check_path(path)
        view: ContainerFS
        async with await open_view(self.containers, ref) as view:
            c = view.container

            def work() -> None:
                dest = archive_extract.resolve_destination(view.root_fd, path, readonly_rootfs=view.readonly_rootfs)
                owner = archive_extract.container_owner(view.root_fd, c.config.get("User") or "") \
                    if copy_uid_gid else None
                archive_extract.extract_into(view.root_fd, dest, body, no_overwrite_dir_nondir=no_overwrite_dir_nondir,
                                             owner=owner)

            try:
                await asyncio.get_running_loop().run_in_executor(None, work)
            except FileNotFoundError:
                raise self._not_found(path, ref) from None
            except NotADirectoryError:
                raise errors.InvalidArgument("extraction point is not a directory") from None
            except OSError as e:
                raise errors.SystemError_(f"{path}: {(e.strerror or str(e)).lower()}") from None
        self.containers._emit("container", "extract-to-dir", c)

    async def export(self, ref: str) -> AsyncIterator[bytes]:
        c = self.containers.get(ref)
        if c.state.status is Status.DEAD:
            raise errors.Conflict(f"You cannot export container {c.id} which is Dead")
        if c.state.status is Status.REMOVING:
            raise errors.Conflict(f"You cannot export container {c.id} which is being removed")
        view = await open_view(self.containers, ref, own=False)
        chunks = fdtar.tar_dir(view.root_fd, root_name=None, child_prefix="")
        return ViewStream(chunks, view, on_end=lambda: self.containers._emit("container", "export", c),
                          wrap_error=lambda e: errors.SystemError_(f"Error exporting container {ref}: {e}"))

    async def changes(self, ref: str) -> list[tuple[str, int]]:
        c = self.containers.get(ref)
        upper = self.containers.paths.container(c.id) / "rw" / "upper"
        lowers = self.containers.images.rootfs_lowerdirs(c.image_id)
        return await asyncio.get_running_loop().run_in_executor(None, container_changes, upper, lowers)


def _check_path(path: str) -> None:
    if not path:
        raise errors.InvalidArgument("bad parameter: pathcannot be empty")   # moby's words, space missing

