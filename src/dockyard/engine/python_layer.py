"""The `python:3.11-slim` layer: Debian's python3, pip and venv on top of the Debian image.

Made as Docker makes a RUN layer: an overlay whose lower layers are the Debian image's
snapshots from the store (read only) and whose upper dir starts empty; apt-get runs
chrooted into the overlay (runtime/chrootexec: host network, private mounts), and
the upper dir is then exactly the layer's changes, whiteouts included.

Inside the layer, as the official image has it: `python` and `pip` in /usr/local/bin,
no `EXTERNALLY-MANAGED` marker (so `pip install -r requirements.txt` works as root),
and the host's pip.conf settings that apply inside (hostsettings.image_pip_conf).
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
from collections.abc import Callable
from pathlib import Path

from dockyard.engine import rootfs_build
from dockyard.engine.bootstrap_catalog import PYTHON_PACKAGES
from dockyard.engine.hostsettings import HostSettings, image_pip_conf
from dockyard.errors import SystemError_
from dockyard.securejoin import resolve_in_root
from dockyard.store.snapshots import mount_rootfs, unmount

__all__ = ["build_python_upper", "installed_version", "upstream_version"]

_SYMLINKS = (("usr/local/bin/python", "/usr/bin/python3"), ("usr/local/bin/pip", "/usr/bin/pip3"))


def upstream_version(debian_version: str) -> str:
    """`3.11.2-6+deb12u6` → `3.11.2`; an epoch (`1:`) goes too."""
    version = debian_version.partition(":")[2] if ":" in debian_version else debian_version
    return version.rsplit("-", 1)[0] if "-" in version else version


def installed_version(status: str, package: str) -> str:
    """The Version of an installed package in a dpkg status file ("" if it is not installed)."""
    for paragraph in re.split(r"\n\s*\n", status):
        fields = dict(re.findall(r"^([A-Za-z-]+): ?(.*)$", paragraph, flags=re.M))
        if fields.get("Package") == package and "installed" in fields.get("Status", "").split():
            return fields.get("Version", "")
    return ""


def build_python_upper(lowerdirs: list[str], workdir: Path, *, host: HostSettings, lists: Path,
                       archives: Path, on_line: Callable[[str], None]) -> tuple[Path, str, int]:
    """Install the packages into an overlay on `lowerdirs`: (upper dir, python version, epoch)."""
    upper, work, merged = workdir / "upper", workdir / "work", workdir / "merged"
    for d in (upper, work, merged):
        d.mkdir()
    mount_rootfs(lowerdirs, str(upper), str(work), str(merged))
    try:
        rootfs_build.apt_get(merged, ["update"], lists=lists, archives=archives, on_line=on_line,
                             env=host.proxy_env)
        rootfs_build.apt_get(merged, ["install", "-y", "--no-install-recommends", *PYTHON_PACKAGES],
                             lists=lists, archives=archives, on_line=on_line, env=host.proxy_env)
        status = (merged / "var/lib/dpkg/status").read_text(errors="replace")
        minor = _python3_minor(status)
        version = upstream_version(installed_version(status, f"python{minor}"))
        if not version:
            raise SystemError_(f"python{minor} is not installed after apt-get install")
        for rel, target in _SYMLINKS:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(merged / rel)
            os.symlink(target, merged / rel)
        for marker in glob.glob(str(merged / "usr/lib/python3*/EXTERNALLY-MANAGED")):
            os.unlink(marker)
        pip_conf = image_pip_conf(host.pip_conf, lambda p: os.path.lexists(resolve_in_root(merged, p)))
        if pip_conf:
            rootfs_build.write_file(merged, "etc/pip.conf", pip_conf)
        epoch = rootfs_build.release_epoch(lists)
        rootfs_build.scrub(merged, epoch)
    finally:
        unmount(str(merged))
    return upper, version, epoch


def _python3_minor(status: str) -> str:
    """`3.11` from the installed `python3` package's Depends on `python3.11`."""
    for paragraph in re.split(r"\n\s*\n", status):
        if re.search(r"^Package: python3$", paragraph, flags=re.M):
            m = re.search(r"^Depends:.*\bpython(3\.\d+)\b", paragraph, flags=re.M)
            if m:
                return m.group(1)
    raise SystemError_("python3 is not installed after apt-get install")
