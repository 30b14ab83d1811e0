"""Steps shared by the Debian and Python bootstraps: apt-get inside a rootfs, and tidying it.

apt runs chrooted (runtime/chrootexec) with the host's network and resolv.conf; its
package lists and downloaded .debs live in the bootstrap cache (bound in below the
chroot's private /tmp), so they never land in a layer and a rebuild downloads only
what changed. `scrub` removes what a build leaves behind that changes from run to
run (logs, `-old` backups, caches), and pins the password-change dates in
/etc/shadow, so that the same packages give the same layer.
"""

from __future__ import annotations

import contextlib
import email.utils
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from dockyard.errors import SystemError_
from dockyard.runtime.chrootexec import run_in_chroot

__all__ = ["apt_get", "scrub", "release_epoch", "CHROOT_ENV", "write_file", "remove"]

CHROOT_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
              "DEBIAN_FRONTEND": "noninteractive", "LANG": "C.UTF-8", "HOME": "/root"}
_LISTS, _ARCHIVES = "/tmp/apt/lists", "/tmp/apt/archives"
_APT_OPTIONS = ("-o", f"Dir::State::Lists={_LISTS}", "-o", f"Dir::Cache::Archives={_ARCHIVES}",
                "-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache=",
                # downloads run as root: the cache dirs on the host keep their owner
                "-o", "APT::Sandbox::User=root", "-o", "Acquire::Retries=3")

# Left behind by dpkg, apt and debootstrap, different on every run: never part of a layer.
_SCRUB_FILES = ("var/log/dpkg.log", "var/log/bootstrap.log", "var/log/alternatives.log",
                "var/cache/ldconfig/aux-cache", "var/lib/dpkg/status-old", "var/lib/dpkg/diversions-old",
                "var/lib/dpkg/statoverride-old", "var/lib/dpkg/available-old",
                "var/cache/debconf/config.dat-old", "var/cache/debconf/templates.dat-old",
                "var/cache/debconf/passwords.dat-old", "etc/resolv.conf", "etc/hostname")
_SCRUB_FILES_BELOW = ("var/log/apt", "var/cache/apt", "var/lib/apt/lists", "run")   # dirs and locks stay
_EMPTY = ("tmp", "var/tmp", "dev")   # /dev: the runtime mounts its own, as in the official image


def write_file(root: Path, rel: str, data: bytes | str, mode: int = 0o644) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    os.chmod(path, mode)


def remove(root: Path, rel: str) -> None:
    path = root / rel
    if path.is_dir() and not path.is_symlink():
        raise SystemError_(f"refusing to remove directory {rel} as a file")
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def apt_get(root: Path, args: Sequence[str], *, lists: Path, archives: Path,
            on_line: Callable[[str], None], env: Mapping[str, str] | None = None) -> None:
    """`apt-get ARGS` inside `root`, lists and archives from the cache. Raises SystemError_ on failure."""
    resolv = root / "etc" / "resolv.conf"
    made = not resolv.exists() and not resolv.is_symlink()
    if made:
        resolv.touch()   # a mountpoint for the host's; removed again below
    try:
        status, tail = run_in_chroot(
            str(root), ["apt-get", *_APT_OPTIONS, *args],
            binds=[(str(lists), _LISTS), (str(archives), _ARCHIVES)], ro_binds=[("/etc/resolv.conf", "/etc/resolv.conf")],
            env={**CHROOT_ENV, **(env or {})}, on_line=on_line)
    finally:
        if made:
            resolv.unlink()
    if status != 0:
        errors = [ln for ln in tail if ln.startswith(("E:", "W:", "Err:"))] or tail[-5:]
        raise SystemError_(f"apt-get {' '.join(args[:2])} failed (exit {status}): " + " | ".join(errors[-4:]))


def _shadow(text: str, days: int) -> str:
    out = []
    for line in text.splitlines(keepends=True):
        fields = line.split(":")
        if len(fields) > 2 and fields[2].isdigit():
            fields[2] = str(days)
        out.append(":".join(fields))
    return "".join(out)


def scrub(root: Path, epoch: int) -> None:
    """Remove run-to-run noise from a built rootfs (works on an overlay mount as well)."""
    for rel in _SCRUB_FILES:
        remove(root, rel)
    for rel in _SCRUB_FILES_BELOW:
        base = root / rel
        if base.is_dir() and not base.is_symlink():
            for dirpath, _, filenames in os.walk(base):
                for name in filenames:
                    if name != "lock":   # apt's lock files and its partial/ dirs are in the official image too
                        os.unlink(os.path.join(dirpath, name))
    for rel in _EMPTY:
        base = root / rel
        if base.is_dir() and not base.is_symlink():
            for child in base.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
    shadow = root / "etc" / "shadow"
    if shadow.is_file():
        text = shadow.read_text()
        fixed = _shadow(text, epoch // 86400)
        if fixed != text:   # on an overlay, an unchanged file stays in the lower layer
            shadow.write_text(fixed)


def release_epoch(lists: Path) -> int:
    """The newest `Date:` of the release files in an apt lists dir: when the mirror's state was made."""
    newest = 0
    for path in lists.iterdir():
        if not path.name.endswith(("_InRelease", "_Release")):
            continue
        with contextlib.suppress(OSError):
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("Date:"):   # in the first paragraph, after an InRelease's PGP header
                    with contextlib.suppress(TypeError, ValueError):
                        newest = max(newest, int(email.utils.parsedate_to_datetime(line[5:].strip()).timestamp()))
                    break
    if not newest:
        raise SystemError_(f"no release file with a Date in {lists}")
    return newest
