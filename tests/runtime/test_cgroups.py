"""Real-kernel tests for dockyard.runtime.cgroups.

One conformance suite runs against both managers: v1 on this host's v1
hierarchies (skipped on v2-only hosts) and v2 on a private cgroup2 mount (the
same unified hierarchy; on hybrid hosts it holds few controllers, so v2 limit
writing is covered by the fake-tree tests in test_cgroups_unit.py). Then
version-specific tests: OOM kills, pids limits, device rules, memory ordering.

Every test works under a unique parent (``/dockyard-test-<hex>``) that the
fixtures remove from every hierarchy afterwards, killing anything left in it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.errors import InvalidArgument, SystemError_
from dockyard.runtime.cgroups import CgroupV1, CgroupV2, detect_mode, open_cgroup
from dockyard.runtime.cgroups.base import Cgroup
from dockyard.runtime.cgroups.devices_bpf import effective_rules
from dockyard.runtime.cgroups.mounts import Hierarchies, hierarchies

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="cgroups need root")

BUSYBOX = shutil.which("busybox")
MiB = 1 << 20


# -- independent cleanup (does not trust the code under test) ---------------


def _all_roots(extra: list[str]) -> list[str]:
    h = hierarchies()
    roots = list(dict.fromkeys(h.v1.values()))
    if h.unified:
        roots.append(h.unified)
    return roots + extra


def _force_remove(path: str) -> None:
    if not os.path.isdir(path):
        return
    for name in ("freezer.state", "cgroup.freeze"):
        try:
            with open(os.path.join(path, name), "w") as f:
                f.write("THAWED" if name == "freezer.state" else "0")
        except OSError:
            pass
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            _force_remove(entry.path)
    for _ in range(200):
        try:
            with open(os.path.join(path, "cgroup.procs")) as f:
                for pid in f.read().split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)
    os.rmdir(path)  # raise the real error


def _leftovers(parent: str, extra: list[str]) -> list[str]:
    return [r + parent for r in _all_roots(extra) if os.path.exists(r + parent)]


# -- fixtures ---------------------------------------------------------------


@pytest.fixture(scope="module")
def v2_mount() -> Iterator[str]:
    """A private mount of the unified hierarchy; root subtree_control restored afterwards.

    The root's subtree_control is host-wide, so concurrent runs of this suite
    take turns (flock): each then restores exactly what it found.
    """
    lock = open("/run/dockyard-test-cgroup2.lock", "w")  # noqa: SIM115 - held for the module
    fcntl.flock(lock, fcntl.LOCK_EX)
    mnt = tempfile.mkdtemp(prefix="dockyard-cg2-")
    try:
        if subprocess.run(["mount", "-t", "cgroup2", "none", mnt], capture_output=True).returncode != 0:
            pytest.skip("cannot mount cgroup2")
        with open(f"{mnt}/cgroup.subtree_control") as f:
            before = set(f.read().split())
        try:
            yield mnt
        finally:
            with open(f"{mnt}/cgroup.subtree_control") as f:
                added = set(f.read().split()) - before
            for c in added:
                with open(f"{mnt}/cgroup.subtree_control", "w") as f:
                    f.write("-" + c)
            subprocess.run(["umount", mnt], check=True)
    finally:
        os.rmdir(mnt)
        lock.close()


@pytest.fixture
def parent(request: pytest.FixtureRequest) -> Iterator[str]:
    """A unique parent cgroup path, force-removed everywhere at teardown."""
    path = f"/dockyard-test-{secrets.token_hex(4)}"
    extra: list[str] = []
    request.node.cg_extra_roots = extra
    yield path
    for root in _all_roots(extra):
        _force_remove(root + path)
    assert not _leftovers(path, extra)


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes started by a test; killed and reaped at teardown whatever happens."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)


def _v1(path: str, request: pytest.FixtureRequest) -> Cgroup:
    if detect_mode() == "v2":
        pytest.skip("no v1 hierarchies on this host")
    return CgroupV1(path)


def _v2(path: str, request: pytest.FixtureRequest) -> Cgroup:
    mnt = request.getfixturevalue("v2_mount")
    request.node.cg_extra_roots.append(mnt)
    return CgroupV2(path, mountpoint=mnt)


def _v1_pure(path: str, request: pytest.FixtureRequest) -> Cgroup:
    """v1 as on a host without cgroup2: no cgroup.kill, freeze-signal-thaw instead."""
    if detect_mode() == "v2":
        pytest.skip("no v1 hierarchies on this host")
    return CgroupV1(path, hier=Hierarchies(v1=hierarchies().v1, unified=None))


@pytest.fixture(params=["v1", "v1-pure", "v2"])
def make(request: pytest.FixtureRequest, parent: str) -> Callable[[str], Cgroup]:
    """make("name") → an (uncreated) manager for <parent>/name, of the parametrised version."""
    factory = {"v1": _v1, "v1-pure": _v1_pure, "v2": _v2}[request.param]
    return lambda name: factory(f"{parent}/{name}", request)


@pytest.fixture
def make_v1(request: pytest.FixtureRequest, parent: str) -> Callable[[str], Cgroup]:
    return lambda name: _v1(f"{parent}/{name}", request)


@pytest.fixture
def make_v2(request: pytest.FixtureRequest, parent: str) -> Callable[[str], Cgroup]:
    return lambda name: _v2(f"{parent}/{name}", request)


def spawn(cg: Cgroup, procs: list[subprocess.Popen[bytes]], script: str, **kw: object) -> subprocess.Popen[bytes]:
    """Start ``busybox sh -c script`` inside ``cg``: it waits on stdin until it has been moved in."""
    assert BUSYBOX, "busybox is needed"
    p = subprocess.Popen(
        [BUSYBOX, "sh", "-c", 'read _; exec "$0" sh -c "$1"', BUSYBOX, script],
        stdin=subprocess.PIPE,
        **kw,  # type: ignore[arg-type]
    )
    procs.append(p)
    cg.add_process(p.pid)
    assert p.stdin is not None
    p.stdin.write(b"go\n")
    p.stdin.close()
    return p


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def wait_for(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


# -- conformance: both managers --------------------------------------------


def test_create_add_pids_delete(make: Callable[[str], Cgroup], procs: list, parent: str) -> None:
    cg = make("c1")
    assert not cg.exists()
    cg.create(None)
    assert cg.exists() and all(os.path.isdir(d) for d in cg.directories())
    cg.create(None)  # idempotent
    p = spawn(cg, procs, "sleep 1000")
    wait_for(lambda: cg.pids() == [p.pid])
    for d in cg.directories():
        assert str(p.pid) in read(f"{d}/cgroup.procs").split()
    cg.kill_all(signal.SIGKILL)
    assert p.wait(timeout=5) == -signal.SIGKILL
    cg.delete()
    assert not cg.exists()
    cg.delete()  # idempotent


def test_children_are_listed_and_killed(make: Callable[[str], Cgroup], procs: list) -> None:
    cg = make("c1")
    cg.create({})
    p = spawn(cg, procs, "sleep 1000 & sleep 1000 & sleep 1000 & wait")
    wait_for(lambda: len(cg.pids()) == 4)
    assert p.pid in cg.pids()
    cg.kill_all(signal.SIGTERM)  # the busybox sleeps die on TERM; sh then ends
    assert p.wait(timeout=5) == -signal.SIGTERM
    wait_for(lambda: cg.pids() == [])
    cg.delete()


def test_delete_kills_what_is_left(make: Callable[[str], Cgroup], procs: list) -> None:
    cg = make("c1")
    cg.create(None)
    p = spawn(cg, procs, "sleep 1000 & sleep 1000")
    wait_for(lambda: len(cg.pids()) == 2)
    cg.delete()  # processes inside: SIGKILL and retry
    assert not cg.exists()
    assert p.wait(timeout=5) == -signal.SIGKILL


def test_delete_removes_sub_cgroups(make: Callable[[str], Cgroup]) -> None:
    cg = make("c1")
    cg.create(None)
    for d in cg.directories():
        os.mkdir(f"{d}/nested")
        os.mkdir(f"{d}/nested/deeper")
    cg.delete()
    assert not cg.exists()


def test_freeze_thaw(make: Callable[[str], Cgroup], procs: list, tmp_path: object) -> None:
    counter = f"{tmp_path}/counter"
    cg = make("c1")
    cg.create(None)
    spawn(cg, procs, f"i=0; while :; do i=$((i+1)); echo $i > {counter}; sleep 0.01; done")
    wait_for(lambda: os.path.exists(counter) and read(counter) not in ("", "1"))
    assert not cg.is_frozen()
    cg.freeze()
    assert cg.is_frozen()
    frozen_at = read(counter)
    time.sleep(0.2)
    assert read(counter) == frozen_at
    cg.thaw()
    assert not cg.is_frozen()
    wait_for(lambda: read(counter) not in ("", frozen_at))


def test_kill_all_on_frozen_cgroup(make: Callable[[str], Cgroup], procs: list) -> None:
    cg = make("c1")
    cg.create(None)
    p = spawn(cg, procs, "sleep 1000")
    wait_for(lambda: cg.pids() == [p.pid])
    cg.freeze()
    cg.kill_all(signal.SIGKILL)
    assert p.wait(timeout=5) == -signal.SIGKILL
    cg.delete()


def test_kill_all_while_forking(make: Callable[[str], Cgroup], procs: list) -> None:
    cg = make("c1")
    cg.create(None)
    p = spawn(cg, procs, "i=0; while [ $i -lt 300 ]; do sleep 1000 & i=$((i+1)); done; wait")
    wait_for(lambda: len(cg.pids()) > 3)
    cg.kill_all(signal.SIGKILL)  # cgroup.kill, or freeze-signal-thaw: no fork escapes
    assert p.wait(timeout=5) == -signal.SIGKILL
    wait_for(lambda: cg.pids() == [])
    cg.delete()
    assert not cg.exists()


DEVICE_RULES = [
    {"allow": False, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},
    {"allow": True, "type": "c", "access": "m"},
]


def _device_probe(cg: Cgroup, procs: list) -> list[bytes]:
    p = spawn(
        cg,
        procs,
        "echo x > /dev/null && echo null-ok; "
        "head -c1 /dev/zero >/dev/null 2>&1 && echo zero-read-ok || echo zero-read-denied; "
        "(echo x > /dev/zero) 2>/dev/null && echo zero-write-ok || echo zero-write-denied",
        stdout=subprocess.PIPE,
    )
    assert p.stdout is not None
    out = p.stdout.read()
    assert p.wait(timeout=10) == 0
    return out.split()


def test_device_rules(make: Callable[[str], Cgroup], procs: list) -> None:
    cg = make("c1")
    cg.create({"devices": DEVICE_RULES})
    assert _device_probe(cg, procs) == [b"null-ok", b"zero-read-denied", b"zero-write-denied"]
    cg.update({"devices": [*DEVICE_RULES, {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "r"}]})
    assert _device_probe(cg, procs) == [b"null-ok", b"zero-read-ok", b"zero-write-denied"]
    cg.update({"devices": [{"allow": True, "access": "rwm"}]})
    assert _device_probe(cg, procs) == [b"null-ok", b"zero-read-ok", b"zero-write-ok"]


def test_kill_all_missing_cgroup_is_noop(make: Callable[[str], Cgroup]) -> None:
    cg = make("never-created")
    cg.kill_all(signal.SIGKILL)
    assert cg.pids() == []
    cg.delete()


def test_stats_shape(make: Callable[[str], Cgroup], procs: list) -> None:
    cg = make("c1")
    cg.create(None)
    spawn(cg, procs, "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 1000")
    wait_for(lambda: len(cg.pids()) == 1)
    s = cg.stats()
    assert set(s) == {"cpu_stats", "memory_stats", "pids_stats", "blkio_stats"}
    for section in s.values():
        assert isinstance(section, dict)


def test_bad_paths() -> None:
    for bad in ("", "/", "/a/../b", "./x"):
        with pytest.raises(InvalidArgument):
            open_cgroup(bad)


# -- v1 (and hybrid) -------------------------------------------------------


def _block_device() -> tuple[int, int]:
    for name in sorted(os.listdir("/sys/block")):
        major, minor = read(f"/sys/block/{name}/dev").split(":")
        return int(major), int(minor)
    pytest.skip("no block device")


def test_v1_limits_written(make_v1: Callable[[str], Cgroup]) -> None:
    major, minor = _block_device()
    cg = make_v1("c1")
    assert isinstance(cg, CgroupV1)
    cg.create(
        {
            "memory": {"limit": 64 * MiB, "swap": 128 * MiB, "reservation": 32 * MiB, "swappiness": 10},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000},
            "pids": {"limit": 42},
            "blockIO": {"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}]},
        }
    )
    mem = cg.controller_path("memory")
    assert read(f"{mem}/memory.limit_in_bytes") == str(64 * MiB)
    if os.path.exists(f"{mem}/memory.memsw.limit_in_bytes"):
        assert read(f"{mem}/memory.memsw.limit_in_bytes") == str(128 * MiB)
    assert read(f"{mem}/memory.soft_limit_in_bytes") == str(32 * MiB)
    assert read(f"{mem}/memory.swappiness") == "10"
    c = cg.controller_path("cpu")
    assert read(f"{c}/cpu.shares") == "512"
    assert read(f"{c}/cpu.cfs_quota_us") == "50000"
    assert read(f"{c}/cpu.cfs_period_us") == "100000"
    assert read(f"{cg.controller_path('pids')}/pids.max") == "42"
    assert f"{major}:{minor} 1048576" in read(f"{cg.controller_path('blkio')}/blkio.throttle.read_bps_device")
    assert cg.stats()["pids_stats"] == {"current": 0, "limit": 42}
    assert cg.stats()["memory_stats"]["limit"] == 64 * MiB


def test_v1_unlimited_and_update_ordering(make_v1: Callable[[str], Cgroup]) -> None:
    cg = make_v1("c1")
    cg.create({"memory": {"limit": 32 * MiB, "swap": 64 * MiB}, "pids": {"limit": 0}})
    mem = cg.controller_path("memory")
    has_memsw = os.path.exists(f"{mem}/memory.memsw.limit_in_bytes")
    assert read(f"{cg.controller_path('pids')}/pids.max") == "max"
    # Raising both: memsw must go first or the kernel refuses limit > memsw.
    cg.update({"memory": {"limit": 256 * MiB, "swap": 512 * MiB}})
    assert read(f"{mem}/memory.limit_in_bytes") == str(256 * MiB)
    # Lowering both: the limit must go first.
    cg.update({"memory": {"limit": 16 * MiB, "swap": 20 * MiB}})
    assert read(f"{mem}/memory.limit_in_bytes") == str(16 * MiB)
    if has_memsw:
        assert read(f"{mem}/memory.memsw.limit_in_bytes") == str(20 * MiB)
    cg.update({"memory": {"limit": -1}, "pids": {"limit": 7}})
    assert int(read(f"{mem}/memory.limit_in_bytes")) > 1 << 60
    if has_memsw:
        assert int(read(f"{mem}/memory.memsw.limit_in_bytes")) > 1 << 60
    assert read(f"{cg.controller_path('pids')}/pids.max") == "7"


def test_v1_cpuset_inherited_and_set(make_v1: Callable[[str], Cgroup], procs: list, parent: str) -> None:
    cpuset_root = hierarchies().v1.get("cpuset")
    if cpuset_root is None:
        pytest.skip("no cpuset hierarchy")
    cg = make_v1("c1")
    cg.create(None)
    root_cpus, root_mems = read(f"{cpuset_root}/cpuset.cpus"), read(f"{cpuset_root}/cpuset.mems")
    for d in (cpuset_root + parent, cg.controller_path("cpuset")):
        assert (read(f"{d}/cpuset.cpus"), read(f"{d}/cpuset.mems")) == (root_cpus, root_mems)
    spawn(cg, procs, "sleep 1000")  # would fail with ENOSPC on an empty cpuset
    cg2 = make_v1("c2")
    cg2.create({"cpu": {"cpus": "0", "mems": root_mems}})
    assert read(f"{cg2.controller_path('cpuset')}/cpuset.cpus") == "0"
    with pytest.raises(SystemError_) as err:
        cg2.update({"cpu": {"cpus": "4095"}})
    assert "cpuset.cpus" in str(err.value)
    assert str(err.value).endswith((os.strerror(errno.EINVAL), os.strerror(errno.ERANGE)))


def test_v1_oom_kill_counted(make_v1: Callable[[str], Cgroup], procs: list) -> None:
    cg = make_v1("c1")
    cg.create({"memory": {"limit": 32 * MiB, "swap": 32 * MiB}})
    assert cg.oom_kill_count() == 0
    # One process filling a 300 MiB buffer: exactly one OOM kill.
    p = spawn(cg, procs, "exec dd if=/dev/zero of=/dev/null bs=300M count=1", stderr=subprocess.DEVNULL)
    assert p.wait(timeout=60) == -signal.SIGKILL
    assert cg.oom_kill_count() == 1
    assert cg.stats()["memory_stats"]["max_usage"] > 16 * MiB


def test_v1_oom_kill_in_a_pipeline(make_v1: Callable[[str], Cgroup], procs: list) -> None:
    cg = make_v1("c1")
    cg.create({"memory": {"limit": 32 * MiB, "swap": 32 * MiB}})
    p = spawn(cg, procs, "x=$(head -c 300m /dev/zero | tr '\\0' a)", stderr=subprocess.DEVNULL)
    assert p.wait(timeout=60) == -signal.SIGKILL
    # The shell is the victim; now and then the kernel also takes head/tr
    # before the first victim's memory is back, so count at least one.
    assert cg.oom_kill_count() >= 1


def test_v1_pids_limit_makes_fork_fail(make_v1: Callable[[str], Cgroup], procs: list) -> None:
    cg = make_v1("c1")
    cg.create({"pids": {"limit": 3}})
    script = (
        "import os, sys\n"
        "sys.stdin.readline()\n"
        "ok = failed = 0\n"
        "for _ in range(6):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except BlockingIOError:\n"
        "        failed += 1\n"
        "        continue\n"
        "    if pid == 0:\n"
        "        os.read(0, 1); os._exit(0)\n"
        "    ok += 1\n"
        "print(ok, failed, flush=True)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    procs.append(p)
    cg.add_process(p.pid)
    out, _ = p.communicate(b"go\n", timeout=30)
    ok, failed = map(int, out.split())
    assert (ok, failed) == (2, 4)  # the parent itself is the third task


def test_v1_device_rules_listed(make_v1: Callable[[str], Cgroup]) -> None:
    if "devices" not in hierarchies().v1:
        pytest.skip("no devices hierarchy")
    cg = make_v1("c1")
    cg.create({"devices": DEVICE_RULES})
    listed = read(f"{cg.controller_path('devices')}/devices.list").splitlines()
    assert set(listed) == {"c 1:3 rwm", "c 136:* rwm", "c *:* m"}


_DEV_RULES = st.lists(
    st.fixed_dictionaries(
        {
            "allow": st.booleans(),
            "type": st.sampled_from(["a", "b", "c", "c", "c", "c"]),
            "major": st.sampled_from([None, 1, 5]),
            "minor": st.sampled_from([None, 3, 5]),
            "access": st.sampled_from(["r", "w", "m", "rw", "rm", "wm", "rwm"]),
        }
    ),
    max_size=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rules=_DEV_RULES)
def test_v2_device_model_matches_the_v1_kernel(make_v1: Callable[[str], Cgroup], rules: list[dict]) -> None:
    """The exception list the BPF program is built from equals what the v1 kernel keeps."""
    if "devices" not in hierarchies().v1:
        pytest.skip("no devices hierarchy")
    rules = [{"allow": False, "access": "rwm"}, *rules]
    cg = make_v1(f"c{secrets.token_hex(3)}")
    try:
        cg.create({"devices": rules})
        listed = read(f"{cg.controller_path('devices')}/devices.list").splitlines()
    finally:
        cg.delete()
    default_allow, exceptions = effective_rules(rules)
    if default_allow:
        assert listed == ["a *:* rwm"]
        return
    kernel = {}
    for line in listed:
        kind, nums, access = line.split()
        major, minor = (None if n == "*" else int(n) for n in nums.split(":"))
        kernel[(1 if kind == "b" else 2, major, minor)] = sum({"m": 1, "r": 2, "w": 4}[c] for c in access)
    assert kernel == exceptions


def test_v1_hybrid_joins_unified(make_v1: Callable[[str], Cgroup], procs: list) -> None:
    if detect_mode() != "hybrid":
        pytest.skip("not a hybrid host")
    cg = make_v1("c1")
    cg.create(None)
    unified = cg.directories()[-1]
    assert unified.startswith(hierarchies().unified or "/nonexistent")
    p = spawn(cg, procs, "sleep 1000")
    assert read(f"{unified}/cgroup.procs") == str(p.pid)
    assert any(line.startswith("0::") and line.endswith(cg.path) for line in read(f"/proc/{p.pid}/cgroup").split())


def test_v1_failed_create_cleans_up(make_v1: Callable[[str], Cgroup]) -> None:
    cg = make_v1("c1")
    with pytest.raises(SystemError_) as err:
        cg.create({"cpu": {"cpus": "4095"}})
    assert "cpuset.cpus" in str(err.value)
    assert not any(os.path.exists(d) for d in cg.directories())


def test_v1_memory_below_usage_is_explained(make_v1: Callable[[str], Cgroup], procs: list) -> None:
    cg = make_v1("c1")
    cg.create({"memory": {"limit": 64 * MiB}})
    spawn(cg, procs, "x=$(head -c 8m /dev/zero | tr '\\0' a); sleep 1000")
    mem = cg.controller_path("memory")
    wait_for(lambda: int(read(f"{mem}/memory.usage_in_bytes")) > 8 * MiB, timeout=20)
    # The kernel reclaims what it can and then refuses (EBUSY).
    with pytest.raises(SystemError_) as err:
        cg.update({"memory": {"limit": 1 * MiB, "swap": -1}})
    assert "current usage" in str(err.value)


# -- v2 on a private cgroup2 mount -----------------------------------------


def test_v2_enables_controllers_and_limits_hugetlb(make_v2: Callable[[str], Cgroup], v2_mount: str) -> None:
    available = read(f"{v2_mount}/cgroup.controllers").split()
    if "hugetlb" not in available or not os.path.isdir("/sys/kernel/mm/hugepages/hugepages-2048kB"):
        pytest.skip("hugetlb not available in cgroup2 here")
    cg = make_v2("c1")
    assert isinstance(cg, CgroupV2)
    cg.create({"hugepageLimits": [{"pageSize": "2MB", "limit": 4 * MiB}]})
    parent_dir = os.path.dirname(cg.dir)
    assert "hugetlb" in read(f"{v2_mount}/cgroup.subtree_control").split()
    assert "hugetlb" in read(f"{parent_dir}/cgroup.subtree_control").split()
    assert read(f"{cg.dir}/cgroup.subtree_control") == ""  # the leaf must be able to hold tasks
    assert read(f"{cg.dir}/hugetlb.2MB.max") == str(4 * MiB)
    cg.update({"hugepageLimits": [{"pageSize": "2MB", "limit": -1}]})
    assert read(f"{cg.dir}/hugetlb.2MB.max") == "max"


def test_v2_missing_controller_names_the_file(make_v2: Callable[[str], Cgroup], v2_mount: str) -> None:
    if "pids" in read(f"{v2_mount}/cgroup.controllers").split():
        pytest.skip("pids is available in cgroup2 here")
    cg = make_v2("c1")
    with pytest.raises(SystemError_) as err:
        cg.create({"pids": {"limit": 5}})
    assert "pids.max" in str(err.value) and "No such file or directory" in str(err.value)
    assert not os.path.exists(cg.dir)


