"""Bind propagation from the host, mounts across a daemon crash, and `ps` showing mounts."""

from __future__ import annotations

import json
import subprocess
import time

import pytest


@pytest.fixture()
def shared_dir(tmp_path):
    """A host directory that is a shared mount of its own, as `rslave`/`rshared` binds need."""
    src = tmp_path / "shared"
    src.mkdir()
    subprocess.run(["mount", "--bind", str(src), str(src)], check=True)
    subprocess.run(["mount", "--make-shared", str(src)], check=True)
    yield src
    subprocess.run(["umount", "-R", "-l", str(src)], check=False)


@pytest.mark.parametrize("mode", ["rslave", "rshared"])
def test_host_mounts_reach_a_propagating_bind(daemon, shared_dir, mode):
    d = daemon
    name = f"prop-{mode}"
    d.docker("run", "-d", "--name", name, "-v", f"{shared_dir}:/mnt:{mode}", "busybox", "sleep", "300")
    try:
        (shared_dir / "sub").mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(shared_dir / "sub")], check=True)
        (shared_dir / "sub" / "late").write_text("arrived\n")
        out = d.docker("exec", name, "cat", "/mnt/sub/late").stdout_text
        assert out == "arrived\n"
    finally:
        d.docker("rm", "-f", name)


def test_private_bind_does_not_see_later_host_mounts(daemon, shared_dir):
    d = daemon
    d.docker("run", "-d", "--name", "prop-private", "-v", f"{shared_dir}:/mnt", "busybox", "sleep", "300")
    try:
        (shared_dir / "sub").mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(shared_dir / "sub")], check=True)
        (shared_dir / "sub" / "late").write_text("arrived\n")
        p = d.docker("exec", "prop-private", "cat", "/mnt/sub/late", check=False)
        assert p.returncode != 0
    finally:
        d.docker("rm", "-f", "prop-private")


def test_shared_bind_needs_a_shared_host_mount(daemon, tmp_path):
    p = daemon.docker("run", "--rm", "-v", f"{tmp_path}:/mnt:rshared", "busybox", "true", check=False)
    mount_point = subprocess.run(["findmnt", "-n", "-o", "TARGET", "--target", str(tmp_path)],
                                 capture_output=True, text=True).stdout.strip()
    propagation = subprocess.run(["findmnt", "-n", "-o", "PROPAGATION", mount_point],
                                 capture_output=True, text=True).stdout.strip()
    if "shared" in propagation:
        assert p.returncode == 0
    else:
        assert f"path {tmp_path} is mounted on {mount_point} but it is not a shared mount" in p.stderr_text


def test_a_tmpfs_volume_stays_mounted_for_a_container_that_survives_a_crash(daemon):
    d = daemon
    d.docker("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "crashvol")
    d.docker("run", "-d", "--name", "survivor", "-v", "crashvol:/s", "busybox", "sh", "-c",
             "echo alive > /s/f; trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done")
    data = d.dir / "root" / "volumes" / "crashvol" / "_data"
    for _ in range(50):
        if (data / "f").exists():
            break
        time.sleep(0.1)
    d.kill9()
    d.start()
    assert json.loads(d.docker("inspect", "survivor").stdout)[0]["State"]["Running"]
    assert (data / "f").read_text() == "alive\n"
    out = d.docker("run", "--rm", "-v", "crashvol:/s", "busybox", "cat", "/s/f").stdout_text
    assert out == "alive\n"   # the second user shares the mount; its exit does not take it away
    assert (data / "f").exists()
    d.docker("stop", "-t", "5", "survivor")
    assert not (data / "f").exists()   # the last user stopped: unmounted
    d.docker("rm", "survivor")
    d.docker("volume", "rm", "crashvol")


def test_dockyard_ps_shows_mounts(daemon, tmp_path):
    d = daemon
    cid = d.dockyard("create", "-v", "psvol:/a", "-v", f"{tmp_path}:/b", "busybox", "true").stdout_text.strip()
    for tool in (d.docker, d.dockyard):
        out = tool("ps", "-a", "--filter", f"id={cid}", "--format", "{{.Mounts}}").stdout_text.strip()
        assert sorted(out.split(",")) == sorted(["psvol", f"{str(tmp_path)[:14]}…"])
        out = tool("ps", "-a", "--no-trunc", "--filter", "volume=psvol", "--format", "{{.Mounts}}").stdout_text
        assert sorted(out.strip().split(",")) == sorted(["psvol", str(tmp_path)])
    d.dockyard("rm", cid)
    d.dockyard("volume", "rm", "psvol")
