"""`--init`: a tiny init (tini) as the container's PID 1, as Docker does it (moby daemon/oci_linux.go).

The host's static tini is bind-mounted read-only at ``/sbin/docker-init`` and
the process becomes ``/sbin/docker-init -- <path> <args...>``: tini reaps
zombies and forwards signals to the command.  Only with a private pid
namespace (Docker skips it for ``--pid host`` and ``--pid container:...``).
A static binary, since it runs inside any image's rootfs.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from dockyard import errors

__all__ = ["CONTAINER_INIT_PATH", "INIT_CANDIDATES", "wants_init", "find_init", "apply_init"]

CONTAINER_INIT_PATH = "/sbin/docker-init"
# Debian's `tini` package ships the static build; docker's own packages call it docker-init.
INIT_CANDIDATES = ("/usr/bin/tini-static", "/usr/libexec/docker/docker-init", "/usr/bin/docker-init")


def wants_init(host_config: dict[str, Any], daemon_default: bool = False) -> bool:
    init = host_config.get("Init")
    pid_mode = host_config.get("PidMode") or ""
    if pid_mode == "host" or pid_mode.startswith("container:"):
        return False
    return bool(init) if init is not None else daemon_default


def find_init(configured: str = "") -> str:
    """The host's init binary (an absolute path)."""
    for path in ([configured] if configured else []) + list(INIT_CANDIDATES):
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    found = shutil.which("docker-init")
    if found:
        return found
    raise errors.SystemError_("docker-init binary not found: install the tini package (tini-static)")


def apply_init(spec: dict[str, Any], init_path: str) -> None:
    """Make `init_path` the container's PID 1, running the spec's process under it."""
    process = spec["process"]
    process["args"] = [CONTAINER_INIT_PATH, "--", *process["args"]]
    spec["mounts"] = list(spec.get("mounts") or []) + [
        {"destination": CONTAINER_INIT_PATH, "type": "bind", "source": init_path, "options": ["bind", "ro"]}]
