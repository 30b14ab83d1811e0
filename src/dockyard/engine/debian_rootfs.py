"""A Debian minbase root filesystem, as the official `debian` image has it, made with debootstrap.

    debootstrap --variant=minbase --cache-dir=<cache>/debs/... bookworm <dir> <the host's mirror>

then, in that dir: the host's Debian sources as `/etc/apt/sources.list.d/debian.sources`
(release, -updates, -security: whatever the host uses), the apt and dpkg settings the
official images carry (no package caches or translations, unsafe-io, `policy-rc.d`
that keeps services from starting), the host's local CA files, and the updates of
-updates and -security installed with apt-get. Last, `scrub` makes it reproducible.

debootstrap runs in a private mount namespace: the /proc and /sys it mounts in the
target go away with it, even when it is killed.
"""

from __future__ import annotations

import os
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from dockyard.engine import rootfs_build
from dockyard.engine.hostsettings import LOCAL_CA_DIR, HostSettings
from dockyard.errors import SystemError_
from dockyard.runtime.chrootexec import run_lines

__all__ = ["find_debootstrap", "check_mirror", "run_debootstrap", "customise", "DEBOOTSTRAP_LINE"]

DEBOOTSTRAP_LINE = re.compile(r"^I: (Retrieving|Validating|Extracting|Unpacking|Configuring|Installing) (.*)$")

# The settings debuerreotype gives the official images (same keys, our own words).
_APT_CONF = {
    "docker-clean": 'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n',
    "docker-gzip-indexes": 'Acquire::GzipIndexes "true";\n',
    "docker-no-languages": 'Acquire::Languages "none";\n',
    "docker-autoremove-suggests": 'Apt::AutoRemove::SuggestsImportant "false";\n',
}
_POLICY_RC = "#!/bin/sh\n# no service starts inside an image build or a container: see invoke-rc.d(8)\nexit 101\n"


def find_debootstrap(search: str | None = None) -> str:
    """debootstrap's path; the daemon's PATH may lack the sbin dirs it is installed in."""
    if search is None:
        search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    found = shutil.which("debootstrap", path=search)
    if not found:
        raise SystemError_("cannot bootstrap a Debian image: debootstrap is not installed "
                           "(apt-get install debootstrap; `make install` installs it)")
    return found


def check_mirror(mirror: str, suite: str, timeout: float = 20) -> None:
    """Fail fast and clearly when the mirror does not answer (debootstrap's wget retries for minutes)."""
    url = f"{mirror.rstrip('/')}/dists/{suite}/InRelease"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return
    except urllib.error.HTTPError as e:
        raise SystemError_(f"cannot bootstrap Debian {suite}: the mirror {mirror} has no {suite} "
                           f"({url}: HTTP {e.code})") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise SystemError_(f"cannot bootstrap Debian {suite}: the mirror {mirror} is unreachable ({reason})") from None


def run_debootstrap(target: Path, *, suite: str, mirror: str, debs: Path, debootstrap: str,
                    on_line: Callable[[str], None], env: dict[str, str] | None = None) -> None:
    cmd = ["unshare", "--mount", "--propagation", "private", "--",
           debootstrap, "--variant=minbase", f"--cache-dir={debs.resolve()}", suite, str(target), mirror]
    status, tail = run_lines(cmd, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", **(env or {})},
                             on_line=on_line)
    if status != 0:
        errors = [ln for ln in tail if ln.startswith(("E:", "W:"))] or tail[-3:]
        raise SystemError_(f"debootstrap {suite} from {mirror} failed (exit {status}): " + " | ".join(errors[-3:]))


def customise(root: Path, *, sources: str, host: HostSettings, lists: Path, archives: Path,
              on_line: Callable[[str], None]) -> int:
    """Turn a fresh debootstrap into the image's rootfs; returns its time (the mirror's release date)."""
    rootfs_build.remove(root, "etc/apt/sources.list")
    rootfs_build.write_file(root, "etc/apt/sources.list.d/debian.sources", sources)
    for name, text in _APT_CONF.items():
        rootfs_build.write_file(root, f"etc/apt/apt.conf.d/{name}", text)
    rootfs_build.write_file(root, "etc/dpkg/dpkg.cfg.d/docker-apt-speedup", "force-unsafe-io\n")
    rootfs_build.write_file(root, "usr/sbin/policy-rc.d", _POLICY_RC, 0o755)
    ca_dir = str(LOCAL_CA_DIR).lstrip("/")
    for rel, data in host.ca_files:
        rootfs_build.write_file(root, f"{ca_dir}/{rel}", data)
    rootfs_build.apt_get(root, ["update"], lists=lists, archives=archives, on_line=on_line, env=host.proxy_env)
    rootfs_build.apt_get(root, ["-y", "dist-upgrade"], lists=lists, archives=archives, on_line=on_line,
                         env=host.proxy_env)
    epoch = rootfs_build.release_epoch(lists)
    rootfs_build.scrub(root, epoch)
    return epoch
