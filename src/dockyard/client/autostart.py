"""Start a daemon when nobody answers on the default socket, so a fresh machine just works.

A lock file serialises concurrent CLIs: the first starts `dockyard daemon` detached (own
session, stdio to a log file), the others wait for the same socket.  Only ever used for
the default host; an explicit -H or DOCKER_HOST that does not answer is an error.
"""

from __future__ import annotations

import os
import sys
import time

from dockyard.client.transport import ConnectError, Connection, host_path

__all__ = ["ensure_daemon", "daemon_command", "LOG_CANDIDATES", "WAIT_SECONDS"]

WAIT_SECONDS = 10.0
LOG_CANDIDATES = ("/var/log/dockyard.log", "/run/dockyard/daemon.log")


def daemon_command() -> list[str]:
    """How to run `dockyard daemon` with this very interpreter and package."""
    return [sys.executable, "-m", "dockyard.cli", "daemon"]


def _answers(host: str) -> bool:
    try:
        conn = Connection(host, timeout=1.0)
    except ConnectError:
        return False
    try:
        resp = conn.request("HEAD", "/_ping")
        ok = resp.status < 500
        resp.close()
        return ok
    except OSError:
        return False
    except Exception:
        return False
    finally:
        conn.close()


def _open_log() -> tuple[int, str]:
    for path in LOG_CANDIDATES:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640), path
        except OSError:
            continue
    return os.open(os.devnull, os.O_WRONLY), os.devnull


def _tail(path: str, lines: int = 10) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 4096))
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-lines:])
    except OSError:
        return ""


def ensure_daemon(host: str, wait: float = WAIT_SECONDS) -> None:
    """Make sure a daemon answers on `host`, starting one if needed; raise ConnectError if not."""
    import fcntl
    import subprocess

    sock_dir = os.path.dirname(host_path(host)) or "/"
    os.makedirs(sock_dir, exist_ok=True)
    lock_fd = os.open(os.path.join(sock_dir, ".autostart.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        if _answers(host):
            return  # another CLI started it while we waited for the lock
        log_fd, log_path = _open_log()
        try:
            proc = subprocess.Popen(
                daemon_command(),
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=log_fd,
                start_new_session=True,
                close_fds=True,
                cwd="/",
            )
        finally:
            os.close(log_fd)
        deadline = time.monotonic() + wait
        delay = 0.01
        while time.monotonic() < deadline:
            if _answers(host):
                return
            if proc.poll() is not None:
                tail = _tail(log_path)
                why = f"dockyard daemon exited with status {proc.returncode}: {tail}"
                raise ConnectError(host, OSError(why), detail=f"auto-start failed: {why} (log: {log_path})")
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        why = f"dockyard daemon did not answer within {wait:g}s (log: {log_path})"
        raise ConnectError(host, OSError(why), detail=f"auto-start failed: {why}")
    finally:
        os.close(lock_fd)
