"""The `local` volume driver: a directory per volume, or a filesystem mounted on it.

DATA-ROOT/volumes/<name>/_data holds a volume's files. With driver options (moby's
volume/local: `type`, `device`, `o`) the directory is a mount point instead: `type=tmpfs
device=tmpfs o=size=64m` a tmpfs, `type=none o=bind device=/srv/x` a bind of a host
directory. Such a volume is mounted when its first container starts and unmounted when its
last one stops (a tmpfs volume's files go with it, as in Docker). Names follow Docker's rule,
`[a-zA-Z0-9][a-zA-Z0-9_.-]+`, so a name is always one path component inside the root.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
from pathlib import Path

from dockyard import errors, mountinfo
from dockyard.fsusage import apparent_size
from dockyard.runtime import syscalls as sc
from dockyard.runtime.rootfs import parse_mount_options
from dockyard.store.snapshots import unmount

__all__ = ["LocalDriver", "validate_name", "validate_options", "DRIVER"]

DRIVER = "local"
NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]"
_NAME = re.compile(f"^{NAME_CHARS}+$")
_VALID_OPTS = ("type", "o", "device", "size")
# an option needs the others listed (checked in this order; Go's map order is random)
_REQUIRES = (("device", ("type",)), ("type", ("device",)), ("o", ("device", "type")))
_TRASH = ".removing-"   # never a volume name: names start with a letter or digit


def validate_name(name: str) -> None:
    if len(name) == 1:
        raise errors.InvalidArgument(
            "volume name is too short, names should be at least two alphanumeric characters")
    if not _NAME.match(name):
        raise errors.InvalidArgument(
            f'"{name}" includes invalid characters for a local volume name, only "{NAME_CHARS}" are allowed. '
            "If you intended to pass a host directory, use absolute path")


def _ram_in_bytes(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*", text, re.IGNORECASE)
    if not m:
        raise errors.InvalidArgument(f"invalid size: '{text}'")
    return int(float(m.group(1)) * 1024 ** " kmgtp".index(m.group(2).lower() or " "))


def validate_options(opts: dict[str, str]) -> None:
    """moby's validateOpts for the local driver."""
    for key in opts:
        if key not in _VALID_OPTS:
            raise errors.InvalidArgument(f'invalid option: "{key}"')
    if "size" in opts and _ram_in_bytes(opts["size"]) > 0:
        # quotas need an XFS project-quota root; dockyard's volumes live on a plain directory tree
        raise errors.InvalidArgument("quota size requested but no quota support")
    for key, needs in _REQUIRES:
        if key in opts:
            for other in needs:
                if other not in opts:
                    raise errors.InvalidArgument(f'missing required option: "{other}"')


def needs_mount(opts: dict[str, str] | None) -> bool:
    return bool(opts and (opts.get("type") or opts.get("device")))


class LocalDriver:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o701)
        self._lock = threading.Lock()
        self._active: dict[str, set[str]] = {}   # volume → ids of the containers using its mount

    # -- layout
    def data_path(self, name: str) -> Path:
        return self.root / name / "_data"

    def names(self) -> list[str]:
        """The volume directories on disk (a crash may leave one without a record)."""
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME.match(p.name))

    def created_at(self, name: str) -> float:
        try:
            return os.stat(self.root / name).st_ctime
        except OSError:
            return 0.0

    def sweep(self) -> None:
        """Finish removals a crash interrupted."""
        for p in self.root.iterdir():
            if p.name.startswith(_TRASH) and p.is_symlink():
                p.unlink()
            elif p.name.startswith(_TRASH):
                self._unmount_all_under(p)
                shutil.rmtree(p, ignore_errors=True)

    # -- create / remove
    def create(self, name: str, opts: dict[str, str] | None) -> Path:
        validate_name(name)
        validate_options(opts or {})
        top = self.root / name
        top.mkdir(mode=0o701, exist_ok=True)
        data = top / "_data"
        data.mkdir(mode=0o755, exist_ok=True)
        return data

    def ensure(self, name: str) -> Path:
        """The data dir, made again if someone deleted it behind our back."""
        data = self.data_path(name)
        if not data.is_dir():
            data.mkdir(mode=0o755, parents=True, exist_ok=True)
        return data

    def remove(self, name: str, opts: dict[str, str] | None) -> None:
        validate_name(name)
        with self._lock:
            if self._active.get(name):
                raise errors.SystemError_(f"remove {name}: volume has active mounts")
            top = self.root / name
            if needs_mount(opts):
                self._unmount(name)
            if top.is_symlink():   # not ours (we make directories): drop the link, never follow it
                top.unlink()
                return
            if not top.exists():
                return
            # out of the namespace first (atomic), then delete: a crash leaves only trash
            trash = self.root / f"{_TRASH}{name}"
            os.rename(top, trash)
        self._unmount_all_under(trash)
        shutil.rmtree(trash, ignore_errors=True)

    @staticmethod
    def _unmount_all_under(path: Path) -> None:
        for point in mountinfo.mounts_under(os.path.realpath(path)):
            with contextlib.suppress(errors.DockyardError):
                unmount(point)

    # -- mounts (volumes with driver options)
    def mount(self, name: str, opts: dict[str, str] | None, ref: str) -> Path:
        data = self.ensure(name)
        if not needs_mount(opts):
            return data
        assert opts is not None
        with self._lock:
            users = self._active.setdefault(name, set())
            if not users and not mountinfo.is_mountpoint(os.path.realpath(data)):
                flags, prop, extra = parse_mount_options((opts.get("o") or "").split(","))
                device = opts.get("device") or ""
                try:
                    sc.mount(device, str(data), opts.get("type") or None, flags | prop, extra or None)
                except OSError as e:
                    if not users:
                        self._active.pop(name, None)
                    raise errors.SystemError_(
                        f"failed to mount local volume: mount {device}:{data}, flags: {flags | prop:#x}, "
                        f"data: {extra}: {(e.strerror or str(e)).lower()}") from None
            users.add(ref)
        return data

    def unmount(self, name: str, opts: dict[str, str] | None, ref: str) -> None:
        if not needs_mount(opts):
            return
        with self._lock:
            users = self._active.get(name, set())
            users.discard(ref)
            if not users:
                self._active.pop(name, None)
                self._unmount(name)

    def adopt(self, name: str, opts: dict[str, str] | None, ref: str) -> None:
        """A container still running from before a daemon restart holds this volume's mount."""
        if needs_mount(opts):
            with self._lock:
                self._active.setdefault(name, set()).add(ref)

    def _unmount(self, name: str) -> None:
        data = os.path.realpath(self.data_path(name))
        if mountinfo.is_mountpoint(data):
            unmount(data)

    def size(self, name: str) -> int:
        return apparent_size(self.data_path(name))
