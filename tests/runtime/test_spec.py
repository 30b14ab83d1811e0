"""engine/spec.py: Docker's rules as data, then specs it builds run under both runtimes."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from runners import Runner

from dockyard.engine.spec import (
    Resources,
    build_spec,
    daemon_env,
    linux_resources,
    resolve_user,
    tweak_capabilities,
)
from dockyard.errors import InvalidArgument
from dockyard.oci.runtime_spec import DEFAULT_CAPABILITIES

MiB = 1 << 20


@pytest.fixture
def etc_root(tmp_path: Path) -> str:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n"
        "app:x:1000:1000::/home/app:/bin/sh\n")
    (tmp_path / "etc" / "group").write_text(
        "root:x:0:root\nwheel:x:10:root,app\naudio:x:29:app\nnogroup:x:65534:\napp:x:1000:\n")
    return str(tmp_path)


def test_resolve_user(etc_root: str) -> None:
    assert resolve_user(etc_root, "") == resolve_user(etc_root, "root")
    root = resolve_user(etc_root, "")
    assert (root.uid, root.gid, root.additional_gids) == (0, 0, (0, 10))
    app = resolve_user(etc_root, "app")
    assert (app.uid, app.gid, app.additional_gids) == (1000, 1000, (10, 29))
    assert resolve_user(etc_root, "1000").additional_gids == (10, 29)
    explicit = resolve_user(etc_root, "app:audio")
    assert (explicit.gid, explicit.additional_gids) == (29, ())
    assert (resolve_user(etc_root, "4242:77").uid, resolve_user(etc_root, "4242:77").gid) == (4242, 77)
    assert resolve_user(etc_root, "nobody", ["wheel", "5"]).additional_gids == (10, 5)
    with pytest.raises(InvalidArgument, match="unable to find user ghost: no matching entries in passwd file"):
        resolve_user(etc_root, "ghost")
    with pytest.raises(InvalidArgument, match="unable to find group ghosts: no matching entries in group file"):
        resolve_user(etc_root, "app:ghosts")


def test_tweak_capabilities() -> None:
    assert tweak_capabilities([], [], False) == list(DEFAULT_CAPABILITIES)
    caps = tweak_capabilities(["sys_admin"], ["chown", "CAP_KILL"], False)
    assert "CAP_SYS_ADMIN" in caps and "CAP_CHOWN" not in caps and "CAP_KILL" not in caps
    assert tweak_capabilities(["NET_ADMIN"], ["ALL"], False) == ["CAP_NET_ADMIN"]
    assert "CAP_CHOWN" not in tweak_capabilities(["ALL"], ["CHOWN"], False)
    assert "CAP_SYS_ADMIN" in tweak_capabilities([], [], True)
    with pytest.raises(InvalidArgument):
        tweak_capabilities(["NOPE"], [], False)


def test_daemon_env() -> None:
    assert daemon_env([], "h", False) == [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=h"]
    assert daemon_env(["PATH=/bin", "A=1", "TERM"], "h", True) == ["PATH=/bin", "HOSTNAME=h", "A=1"]


def test_linux_resources() -> None:
    r = linux_resources(Resources(memory=32 * MiB, nano_cpus=1_500_000_000, cpu_shares=512, pids_limit=10))
    assert r["memory"] == {"limit": 32 * MiB, "swap": 64 * MiB}
    assert r["cpu"] == {"shares": 512, "period": 100000, "quota": 150000}
    assert r["pids"] == {"limit": 10}
    assert r["devices"][0] == {"allow": False, "access": "rwm"}
    assert linux_resources(Resources(memory=MiB, memory_swap=-1))["memory"]["swap"] == -1
    assert "pids" not in linux_resources(Resources(pids_limit=-1))
    for bad in (Resources(memory_swap=10), Resources(memory=10, memory_swap=5),
                Resources(nano_cpus=1, cpu_quota=5)):
        with pytest.raises(InvalidArgument):
            linux_resources(bad)


def _spec(rootfs: Path, args: list[str], tmp: Path, **kw) -> dict:
    hostfile = tmp / "hostname"
    hostfile.write_text("spec-host\n")
    base = dict(rootfs=str(rootfs), args=args, env=["FOO=1"], cwd="/", user="", hostname="spec-host",
                tty=False, readonly_rootfs=False, cgroups_path="", resources=Resources(),
                etc_files={"/etc/hostname": str(hostfile)})
    base.update(kw)
    return build_spec(**base)


def test_spec_shape(busybox_rootfs: Path, tmp_path: Path) -> None:
    s = _spec(busybox_rootfs, ["sh"], tmp_path, user="nobody", readonly_rootfs=True, tty=True,
              mounts=[{"destination": "/data/sub", "type": "bind", "source": "/tmp", "options": ["rbind"]},
                      {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": []}])
    assert s["process"]["user"] == {"uid": 65534, "gid": 65534}
    assert s["process"]["env"][-2:] == ["TERM=xterm", "FOO=1"]
    assert s["process"]["capabilities"]["bounding"] == list(DEFAULT_CAPABILITIES)
    assert "inheritable" not in s["process"]["capabilities"]
    dests = [m["destination"] for m in s["mounts"]]
    assert dests[:7] == ["/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"]
    assert dests.index("/data") < dests.index("/data/sub")
    etc = next(m for m in s["mounts"] if m["destination"] == "/etc/hostname")
    assert etc["options"] == ["rbind", "rprivate", "ro"]
    assert {n["type"] for n in s["linux"]["namespaces"]} >= {"pid", "ipc", "uts", "mount", "network"}
    assert s["root"] == {"path": str(busybox_rootfs), "readonly": True}
    joined = _spec(busybox_rootfs, ["sh"], tmp_path, netns_path="/run/netns/x")
    assert {"type": "network", "path": "/run/netns/x"} in joined["linux"]["namespaces"]
    host = _spec(busybox_rootfs, ["sh"], tmp_path, host_network=True)
    assert "network" not in {n["type"] for n in host["linux"]["namespaces"]}


@pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")
def test_built_spec_runs(runner: Runner, overlay: Callable[[], Path], tmp_path: Path, cg_parent: str) -> None:
    rootfs = overlay()
    s = _spec(rootfs, ["sh", "-c", "id; echo $FOO $HOSTNAME; cat /etc/hostname; hostname; "
                                   "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; touch /x || echo ro"],
              tmp_path, user="nobody", readonly_rootfs=True, cgroups_path=f"{cg_parent}/spec",
              resources=Resources(memory=64 * MiB, pids_limit=50))
    r = runner.run(s)
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("uid=65534(nobody) gid=65534(nogroup)")
    assert lines[1:5] == ["1 spec-host", "spec-host", "spec-host", str(64 * MiB)]
    assert lines[5] == "ro"


def test_exec_process_spec(busybox_rootfs: Path, tmp_path: Path) -> None:
    from dockyard.engine.spec import exec_process_spec
    container = _spec(busybox_rootfs, ["sh"], tmp_path, tty=True, env=["PATH=/bin", "A=1"])
    p = exec_process_spec(container, args=["ls"], env=["B=2", "A=3"])
    assert p["args"] == ["ls"] and p["terminal"] is False
    assert p["env"] == ["PATH=/bin", "HOSTNAME=spec-host", "A=3", "B=2"]
    assert p["user"] == {"uid": 0, "gid": 0}
    p = exec_process_spec(container, args=["sh"], user="nobody", cwd="/tmp", tty=True, privileged=True)
    assert (p["user"]["uid"], p["cwd"], p["terminal"]) == (65534, "/tmp", True)
    assert "TERM=xterm" in p["env"] and "CAP_SYS_ADMIN" in p["capabilities"]["effective"]
