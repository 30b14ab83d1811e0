"""Shared helpers for runtime tests: a busybox rootfs and OCI bundles built from it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from dockyard.oci.runtime_spec import (
    DEFAULT_CAPABILITIES,
    DEFAULT_MASKED_PATHS,
    DEFAULT_READONLY_PATHS,
    default_mounts,
)

__all__ = ["make_busybox_rootfs", "make_bundle", "base_config"]

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def make_busybox_rootfs(dest: Path) -> Path:
    """A minimal busybox rootfs from the host's static busybox."""
    dest.mkdir(parents=True, exist_ok=True)
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "root", "home"):
        (dest / d).mkdir(parents=True, exist_ok=True)
    tmp = dest / "tmp"
    tmp.mkdir(exist_ok=True)
    os.chmod(tmp, 0o1777)
    shutil.copy2("/bin/busybox", dest / "bin" / "busybox")
    applets = subprocess.run(["/bin/busybox", "--list-full"], capture_output=True, text=True,
                             check=True).stdout.split()
    for path in applets:
        link = dest / path
        if link.name == "busybox" or link.exists() or link.is_symlink():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink("/bin/busybox", link)
    (dest / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    (dest / "etc" / "group").write_text("root:x:0:\ntty:x:5:\nnogroup:x:65534:\n")
    return dest


def base_config(args: list[str], **over: Any) -> dict[str, Any]:
    """A Docker-like config.json (default mounts, caps, masked paths, fresh namespaces)."""
    caps = list(DEFAULT_CAPABILITIES)
    cfg: dict[str, Any] = {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False, "user": {"uid": 0, "gid": 0}, "args": args,
            "env": [PATH_ENV, "HOSTNAME=testhost"], "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "testhost",
        "mounts": [m.to_dict() for m in default_mounts()],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": list(DEFAULT_MASKED_PATHS),
            "readonlyPaths": list(DEFAULT_READONLY_PATHS),
        },
    }
    for key, value in over.items():
        if key in ("process", "linux", "root") and isinstance(value, dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    return cfg


def make_bundle(base: Path, rootfs: Path, config: dict[str, Any]) -> Path:
    """Bundle dir whose config points at `rootfs` by absolute path (runc refuses symlinked rootfs)."""
    base.mkdir(parents=True, exist_ok=True)
    config = dict(config, root=dict(config.get("root") or {}, path=str(rootfs)))
    (base / "config.json").write_text(json.dumps(config))
    return base
