"""Run one OCI bundle under a runtime and collect what happened: the conformance harness.

Both runners drive the same create → start → wait → delete sequence; the
built-in one through the in-process API, runc through its command line.  The
test process is a child subreaper, so it reaps the container's init either way
and sees its real exit status.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.runtime import lifecycle, spawn
from dockyard.runtime.cgroups import open_cgroup
from dockyard.shim.runtimes import last_runtime_error

__all__ = ["Result", "Runner", "BuiltinRunner", "RuncRunner", "RUNC", "drain", "force_remove_cgroup"]

RUNC = shutil.which("runc")


@dataclass
class Result:
    exit_code: int | None          # None: create failed
    stdout: str = ""
    stderr: str = ""
    create_error: str = ""
    oom_killed: bool = False


def drain(fds: dict[int, bytearray], timeout: float) -> bool:
    """Read every fd to EOF; False on timeout."""
    deadline = time.monotonic() + timeout
    open_fds = set(fds)
    while open_fds:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select(list(open_fds), [], [], left)
        for fd in ready:
            data = os.read(fd, 65536)
            if data:
                fds[fd] += data
            else:
                open_fds.discard(fd)
    return True


def force_remove_cgroup(path: str) -> None:
    """Independent cleanup: kill what is left in `path` and rmdir it in every hierarchy."""
    roots = [os.path.join("/sys/fs/cgroup", d) for d in os.listdir("/sys/fs/cgroup")]
    for root in roots:
        top = root + path
        if not os.path.isdir(top):
            continue
        for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda t: -len(t[0])):
            with contextlib.suppress(OSError), open(os.path.join(dirpath, "freezer.state"), "w") as f:
                f.write("THAWED")
            with contextlib.suppress(OSError), open(os.path.join(dirpath, "cgroup.procs")) as f:
                for pid in f.read().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)
            for _ in range(100):
                try:
                    os.rmdir(dirpath)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)


class Runner:
    name = ""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.root = str(workdir / f"state-{self.name}")

    def bundle(self, config: dict[str, Any], cid: str) -> Path:
        b = self.workdir / f"bundle-{cid}"
        b.mkdir(parents=True, exist_ok=True)
        (b / "config.json").write_text(json.dumps(config))
        return b

    def run(self, config: dict[str, Any], timeout: float = 30.0) -> Result:
        cid = f"{self.name}-{uuid.uuid4().hex[:12]}"
        bundle = self.bundle(config, cid)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            try:
                pid = self.create(cid, bundle, (null, out_w, err_w))
            except RuntimeError as e:
                return Result(None, create_error=str(e))
            finally:
                os.close(out_w)
                os.close(err_w)
                os.close(null)
            try:
                self.start(cid)
                bufs = {out_r: bytearray(), err_r: bytearray()}
                if not drain(bufs, timeout):
                    os.kill(pid, signal.SIGKILL)
                _, status = os.waitpid(pid, 0)
                code = os.waitstatus_to_exitcode(status)
                cg_path = (config.get("linux") or {}).get("cgroupsPath")
                oom = bool(cg_path) and open_cgroup(cg_path).oom_kill_count() > 0
                return Result(128 - code if code < 0 else code, bufs[out_r].decode(errors="replace"),
                              bufs[err_r].decode(errors="replace"), oom_killed=oom)
            finally:
                with contextlib.suppress(ChildProcessError, ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                self.delete(cid)
        finally:
            os.close(out_r)
            os.close(err_r)

    # per runtime
    def create(self, cid: str, bundle: Path, stdio: tuple[int, int, int]) -> int:
        raise NotImplementedError

    def start(self, cid: str) -> None:
        raise NotImplementedError

    def delete(self, cid: str) -> None:
        raise NotImplementedError


class BuiltinRunner(Runner):
    name = "dockyard"

    def create(self, cid: str, bundle: Path, stdio: tuple[int, int, int]) -> int:
        try:
            return spawn.create(cid, str(bundle), self.root, stdio=stdio).pid
        except spawn.CreateError as e:
            raise RuntimeError(e.message) from None

    def start(self, cid: str) -> None:
        lifecycle.start(self.root, cid)

    def delete(self, cid: str) -> None:
        lifecycle.delete(self.root, cid, force=True)


class RuncRunner(Runner):
    name = "runc"

    def _cmd(self, *args: str) -> list[str]:
        assert RUNC
        return [RUNC, "--root", self.root, "--log", str(self.workdir / "runc.log"), "--log-format", "json",
                *args]

    def create(self, cid: str, bundle: Path, stdio: tuple[int, int, int]) -> int:
        pid_file = self.workdir / f"{cid}.pid"
        log = self.workdir / "runc.log"
        with contextlib.suppress(FileNotFoundError):
            log.unlink()
        proc = subprocess.run(self._cmd("create", "--bundle", str(bundle), "--pid-file", str(pid_file), cid),
                              stdin=stdio[0], stdout=stdio[1], stderr=stdio[2], check=False)
        if proc.returncode != 0:
            raise RuntimeError(last_runtime_error(str(log)) or "runc create failed")
        return int(pid_file.read_text())

    def start(self, cid: str) -> None:
        subprocess.run(self._cmd("start", cid), check=True, stdin=subprocess.DEVNULL)

    def delete(self, cid: str) -> None:
        subprocess.run(self._cmd("delete", "--force", cid), check=False, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
