"""An isolated dockyard daemon for tests: its own data root, exec root, socket, cgroup parent
and bridge name; torn down completely (processes, mounts, cgroups) even when a test fails."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKER = shutil.which("docker") or "/usr/local/bin/docker"


class Daemon:
    def __init__(self, extra_args: list[str] | None = None) -> None:
        self.extra_args = list(extra_args or [])   # more `dockyard daemon` flags, e.g. --bootstrap-cache
        self.tag = secrets.token_hex(3)
        self.dir = Path(tempfile.mkdtemp(prefix=f"dy-{self.tag}-", dir="/tmp"))
        self.socket = self.dir / "d.sock"
        self.host = f"unix://{self.socket}"
        self.cgroup_parent = f"dockyard-test-{self.tag}"
        self.bridge = f"dyt{self.tag}"[:15]
        self.log_path = self.dir / "daemon.log"
        self.proc: subprocess.Popen | None = None

    # -- lifecycle
    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dockyard.daemon", "--host", self.host,
             "--data-root", str(self.dir / "root"), "--exec-root", str(self.dir / "exec"),
             "--cgroup-parent", self.cgroup_parent, "--bridge", self.bridge, "--log-level", "debug",
             *self.extra_args],
            stdout=log, stderr=log, start_new_session=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited: {self.log_path.read_text()[-3000:]}")
            if self.socket.exists() and self.docker("version", check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"daemon did not answer: {self.log_path.read_text()[-3000:]}")

    def kill9(self) -> None:
        """A crash: the daemon dies, its containers' shims must live on."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> dict[str, list]:
        """Stop the daemon as an admin would (SIGTERM), report what it left behind, then clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        left = self.leftovers()
        self.cleanup()
        return left

    def cleanup(self) -> None:
        """Whatever is left: processes in our cgroups, mounts under our dir, the cgroups."""
        for pid in self._cgroup_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in self._shim_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
        for mnt in sorted(self._mounts(), reverse=True):
            subprocess.run(["umount", "-l", mnt], capture_output=True)
        for link in self._bridges():
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        if self._nft_table():
            subprocess.run(["nft", "delete", "table", "ip", self._nft_table()], capture_output=True)
        for base in Path("/sys/fs/cgroup").iterdir():
            target = base / self.cgroup_parent
            if target.is_dir():
                for sub in sorted(target.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                    if sub.is_dir():
                        with contextlib.suppress(OSError):
                            sub.rmdir()
                with contextlib.suppress(OSError):
                    target.rmdir()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _mounts(self) -> list[str]:
        out = []
        with open("/proc/self/mountinfo") as f:
            for line in f:
                mnt = line.split()[4]
                if mnt.startswith(str(self.dir)):
                    out.append(mnt)
        return out

    def _cgroup_pids(self) -> list[int]:
        pids: set[int] = set()
        for base in Path("/sys/fs/cgroup").iterdir():
            target = base / self.cgroup_parent
            if target.is_dir():
                for procs in target.rglob("cgroup.procs"):
                    with contextlib.suppress(OSError, ValueError):
                        pids |= {int(p) for p in procs.read_text().split()}
        return sorted(pids)

    def _shim_pids(self) -> list[int]:
        out = []
        exec_root = str(self.dir / "exec")
        for pid_file in Path(exec_root).glob("s/*/shim.pid") if Path(exec_root).exists() else []:
            with contextlib.suppress(OSError, ValueError):
                out.append(int(pid_file.read_text().strip()))
        return out

    def _bridges(self) -> list[str]:
        """Bridges this daemon made: tagged with its owner alias (network/bridge.py)."""
        out = []
        for dev in Path("/sys/class/net").iterdir():
            with contextlib.suppress(OSError):
                if (dev / "ifalias").read_text().strip() == f"dockyard:{self.bridge}":
                    out.append(dev.name)
        return out

    def _nft_table(self) -> str:
        from dockyard.network.firewall import table_name
        name = table_name(self.bridge)
        tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout.split()
        return name if name in tables else ""

    def leftovers(self) -> dict[str, list]:
        shims = [p for p in self._shim_pids() if os.path.exists(f"/proc/{p}")]
        cgroups = [str(p) for base in Path("/sys/fs/cgroup").iterdir()
                   for p in (base / self.cgroup_parent).glob("*") if p.is_dir()]
        return {"mounts": self._mounts(), "cgroup_pids": self._cgroup_pids(), "shims": shims,
                "cgroups": cgroups, "bridges": self._bridges(), "nft": [t for t in [self._nft_table()] if t]}

    # -- clients
    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(DOCKER_HOST=self.host, DOCKER_BUILDKIT="0", DOCKER_CLI_HINTS="false")
        return env

    def docker(self, *args: str, check: bool = True, input: bytes | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess:
        return self._run([DOCKER, *args], check, input, timeout)

    def dockyard(self, *args: str, check: bool = True, input: bytes | None = None,
                 timeout: float = 120) -> subprocess.CompletedProcess:
        return self._run([sys.executable, "-m", "dockyard.cli", "-H", self.host, *args],
                         check, input, timeout)

    def _run(self, cmd: list[str], check: bool, input: bytes | None, timeout: float) -> subprocess.CompletedProcess:
        p = subprocess.run(cmd, env=self.env, capture_output=True, input=input, timeout=timeout)
        p.stdout_text = p.stdout.decode(errors="replace")  # type: ignore[attr-defined]
        p.stderr_text = p.stderr.decode(errors="replace")  # type: ignore[attr-defined]
        if check and p.returncode != 0:
            raise AssertionError(f"{cmd[1:]} exited {p.returncode}\nstdout: {p.stdout_text}\n"
                                 f"stderr: {p.stderr_text}\ndaemon log tail:\n"
                                 f"{self.log_path.read_text()[-2000:] if self.log_path.exists() else ''}")
        return p


def busybox_rootfs_tar(dest: Path) -> Path:
    """A busybox rootfs tar, as the acceptance checks build one."""
    root = dest / "bbroot"
    for d in ("bin", "etc", "tmp", "root", "proc", "sys", "dev"):
        (root / d).mkdir(parents=True, exist_ok=True)
    busybox = shutil.which("busybox") or "/bin/busybox"
    shutil.copy2(busybox, root / "bin" / "busybox")
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            with contextlib.suppress(FileExistsError):
                os.symlink("busybox", root / "bin" / applet)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    (root / "etc" / "group").write_text("root:x:0:\nnobody:x:65534:\n")
    os.chmod(root / "tmp", 0o1777)
    tar = dest / "busybox.tar"
    subprocess.run(["tar", "-C", str(root), "-cf", str(tar), "."], check=True)
    return tar


@contextlib.contextmanager
def daemon_with_busybox(scratch: Path, extra_args: list[str] | None = None) -> Iterator[Daemon]:
    """A started daemon (with these extra flags) holding busybox:latest; stopped at the end, and
    an error if it left mounts, cgroups, links or processes behind."""
    d = Daemon(extra_args)
    try:
        d.start()
        d.docker("import", "-c", 'CMD ["sh"]', str(busybox_rootfs_tar(scratch)), "busybox:latest")
        yield d
    finally:
        left = d.stop()
    assert not any(left.values()), f"the daemon left these behind: {left}"
