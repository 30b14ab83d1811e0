"""Low-level cgroupfs file access shared by every controller module.

Cgroup interface files are tiny and kernel-backed, so this goes straight to
``os.open``/``os.write`` (no buffered ``open()``): it is on the container start
path. Every failure becomes :class:`dockyard.errors.SystemError_` with the file
and the errno text in the message, so a user can see *which* knob the kernel
refused and why.

Writes use ``O_TRUNC`` (harmless on cgroupfs, as runc does) so the same code
also works on plain files in a fake tree for unit tests.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterator

from dockyard.errors import SystemError_

__all__ = [
    "CgroupFileError",
    "write",
    "write_many",
    "read",
    "read_optional",
    "read_int",
    "read_key_values",
    "exists",
    "mkdir",
    "rmdir_tree",
    "read_procs",
    "walk_dirs",
    "parse_limit",
]

_WFLAGS = os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC
_RFLAGS = os.O_RDONLY | os.O_CLOEXEC


class CgroupFileError(SystemError_):
    """A cgroup file operation failed; ``errno`` keeps the kernel's reason for callers that retry."""

    def __init__(self, message: str, err: int) -> None:
        super().__init__(message)
        self.errno = err


def _fail(op: str, path: str, exc: OSError, value: str | None = None) -> CgroupFileError:
    what = f"{op} {value!r} to {path}" if value is not None else f"{op} {path}"
    return CgroupFileError(f"cgroups: failed to {what}: {os.strerror(exc.errno or 0)}", exc.errno or 0)


def write(dirpath: str, name: str, value: str) -> None:
    """Write ``value`` into the interface file ``dirpath/name`` in one write(2)."""
    path = f"{dirpath}/{name}"
    try:
        fd = os.open(path, _WFLAGS)
    except OSError as exc:
        raise _fail("write", path, exc, value) from None
    try:
        os.write(fd, value.encode())
    except OSError as exc:
        raise _fail("write", path, exc, value) from None
    finally:
        os.close(fd)


def write_many(dirpath: str, name: str, values: list[str]) -> None:
    """Write several records to one file, one write(2) each (devices, io.max, throttle files)."""
    for value in values:
        write(dirpath, name, value)


def read(dirpath: str, name: str) -> str:
    path = f"{dirpath}/{name}"
    try:
        fd = os.open(path, _RFLAGS)
    except OSError as exc:
        raise _fail("read", path, exc) from None
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError as exc:
        raise _fail("read", path, exc) from None
    finally:
        os.close(fd)
    return b"".join(chunks).decode()


def read_optional(dirpath: str, name: str) -> str | None:
    """Like :func:`read` but ``None`` when the file (or its cgroup) does not exist."""
    try:
        return read(dirpath, name)
    except CgroupFileError as exc:
        if exc.errno in (errno.ENOENT, errno.ENODEV):
            return None
        raise


def parse_limit(text: str) -> int | None:
    """``"max"`` (v2) → None; a number → int."""
    text = text.strip()
    return None if text == "max" else int(text)


def read_int(dirpath: str, name: str) -> int | None:
    """An integer file, or None if the file is missing or holds ``max``."""
    text = read_optional(dirpath, name)
    return None if text is None else parse_limit(text)


def read_key_values(dirpath: str, name: str) -> dict[str, int] | None:
    """A flat-keyed file (``key value`` per line: memory.stat, cpu.stat, memory.events)."""
    text = read_optional(dirpath, name)
    if text is None:
        return None
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        try:
            out[key] = int(value)
        except ValueError:
            continue
    return out


def exists(dirpath: str, name: str) -> bool:
    return os.path.exists(f"{dirpath}/{name}")


def mkdir(path: str) -> bool:
    """Create one cgroup directory. True if it was created, False if it already existed."""
    try:
        os.mkdir(path, 0o755)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        raise _fail("mkdir", path, exc) from None


def walk_dirs(path: str) -> Iterator[str]:
    """``path`` and every sub-cgroup below it, children before parents (rmdir order)."""
    try:
        entries = [e.path for e in os.scandir(path) if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _fail("list", path, exc) from None
    for sub in entries:
        yield from walk_dirs(sub)
    yield path


def read_procs(path: str, recursive: bool = True) -> list[int]:
    """PIDs in ``cgroup.procs`` of ``path`` (and its sub-cgroups); missing cgroup → []."""
    dirs = walk_dirs(path) if recursive else iter([path])
    pids: list[int] = []
    for d in dirs:
        text = read_optional(d, "cgroup.procs")
        if text:
            pids.extend(int(x) for x in text.split())
    return pids


def _rmdir(path: str) -> int:
    """rmdir; 0 on success or if already gone, else the errno."""
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return 0
    except OSError as exc:
        return exc.errno or errno.EIO
    return 0


def rmdir_tree(path: str, retries: int = 0) -> int:
    """Remove ``path`` and its sub-cgroups, deepest first.

    cgroupfs rmdir fails with EBUSY while tasks remain (or are still exiting),
    so the caller can ask for a few retries with a short backoff.
    Returns 0 or the errno of the last failure (never raises).
    """
    delay = 0.001
    while True:
        err = 0
        if _rmdir(path) != 0:  # fast path: a leaf with no children
            for d in walk_dirs(path):
                err = _rmdir(d) or err
        if err != errno.EBUSY or retries <= 0:
            return err
        retries -= 1
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
