"""runtime/chrootexec.py: a command chrooted into a rootfs being built, its mounts private and
gone when it exits, nothing it starts left running (needs root and busybox-static)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dockyard.runtime.chrootexec import run_in_chroot

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/bin/busybox"),
                                reason="needs root and busybox-static")


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    for d in ("bin", "proc", "dev", "tmp", "run", "etc", "data"):
        (root / d).mkdir(parents=True)
    shutil.copy2("/bin/busybox", root / "bin/busybox")
    for applet in ("sh", "cat", "echo", "ls", "sleep", "mount", "touch"):
        os.symlink("busybox", root / "bin" / applet)
    return root


def our_mounts(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(str(path))]


def test_runs_chrooted_with_private_mounts(rootfs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET", "the daemon's environment stays outside")
    src = tmp_path / "cache"
    src.mkdir()
    (src / "in").write_text("from the host\n")
    lines: list[str] = []
    script = ("echo pid=$$; cat /tmp/cache/in; echo out > /tmp/cache/out; echo x > /tmp/scratch; "
              "echo y > /dev/null; ls /dev; echo env=$HOME:$SECRET; echo no >> /etc/ro/in || echo read-only; "
              "sleep 4242 & exit 3")
    (rootfs / "etc/ro").mkdir()
    status, tail = run_in_chroot(str(rootfs), ["/bin/sh", "-c", script], binds=[(str(src), "/tmp/cache")],
                                 ro_binds=[(str(src), "/etc/ro")],
                                 env={"PATH": "/bin", "HOME": "/root"}, on_line=lines.append)
    assert status == 3 and tail == lines
    assert "pid=1" in lines and "from the host" in lines and "env=/root:" in lines
    assert {"null", "zero", "urandom", "tty", "fd"} <= set(" ".join(lines).split())
    assert (src / "out").read_text() == "out\n"                      # the bind writes through
    assert "read-only" in lines and (src / "in").read_text() == "from the host\n"
    assert list((rootfs / "tmp").iterdir()) == [] and list((rootfs / "dev").iterdir()) == []
    assert our_mounts(tmp_path) == []                                # every mount went with it
    for pid in filter(str.isdigit, os.listdir("/proc")):             # and so did its background job
        try:
            assert b"4242" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue


def test_errors_are_reported(rootfs: Path) -> None:
    status, tail = run_in_chroot(str(rootfs), ["/bin/nope"], env={"PATH": "/bin"})
    assert status == 127 and any("nope" in line for line in tail)
    status, tail = run_in_chroot(str(rootfs), ["/bin/sh", "-c", "true"], binds=[("/etc", "/missing")])
    assert status == 127 and any("mount target /missing does not exist" in line for line in tail)
    assert our_mounts(rootfs) == []
