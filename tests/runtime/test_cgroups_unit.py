"""Pure and fake-tree tests for dockyard.runtime.cgroups.

The pure parts (mountinfo parsing, unit conversions, rule syntax) are tested
on strings. The v2 file-writing logic that this hybrid host cannot exercise
for real (memory/cpu/pids/io live in v1 here) runs against a fake cgroup2
directory: plain files standing in for the kernel's, with every write recorded.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.errors import InvalidArgument, SystemError_
from dockyard.runtime.cgroups import CgroupV2, cpu, devices, freezer, fs, io, memory
from dockyard.runtime.cgroups.base import split_path
from dockyard.runtime.cgroups.devices_bpf import compile_rules, effective_rules
from dockyard.runtime.cgroups.mounts import Hierarchies, parse_mountinfo

# -- mountinfo ---------------------------------------------------------------

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
99 22 0:38 / /tmp/private\\040mount rw,relatime - cgroup2 cgroup2 rw
"""

V2 = """\
22 1 0:21 / /sys rw shared:7 - sysfs sysfs rw
26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate
"""

COMOUNTED = """\
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw shared:1 opt:x - cgroup cgroup rw,cpu,cpuacct
33 31 0:29 / /mnt/again rw - cgroup cgroup rw,cpu,cpuacct
34 31 0:30 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio
35 31 0:31 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
"""


def test_mountinfo_hybrid() -> None:
    h = parse_mountinfo(HYBRID)
    assert h.mode == "hybrid"
    assert h.unified == "/sys/fs/cgroup/unified"  # canonical place beats the private mount
    assert h.v1 == {
        "cpu": "/sys/fs/cgroup/cpu",
        "cpuacct": "/sys/fs/cgroup/cpuacct",
        "memory": "/sys/fs/cgroup/memory",
        "name=systemd": "/sys/fs/cgroup/systemd",
    }


def test_mountinfo_v2_and_v1() -> None:
    h = parse_mountinfo(V2)
    assert (h.mode, h.unified, h.v1) == ("v2", "/sys/fs/cgroup", {})
    h = parse_mountinfo(COMOUNTED)
    assert h.mode == "v1"
    assert h.v1["cpu"] == h.v1["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct"  # bind mount ignored
    assert h.v1_mountpoints() == ["/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/net_cls,net_prio", "/sys/fs/cgroup/pids"]


def test_mountinfo_v2_with_named_systemd_is_v2() -> None:
    extra = "40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
    assert parse_mountinfo(V2 + extra).mode == "v2"


def test_mountinfo_escapes_and_nothing_mounted() -> None:
    h = parse_mountinfo("99 22 0:38 / /tmp/a\\040b rw - cgroup2 cgroup2 rw\n")
    assert h.unified == "/tmp/a b"
    with pytest.raises(SystemError_):
        _ = Hierarchies().mode


# -- pure conversions ----------------------------------------------------------


def test_split_path() -> None:
    assert split_path("/dockyard/abc") == ["dockyard", "abc"]
    assert split_path("dockyard//abc/") == ["dockyard", "abc"]
    for bad in ("", "/", "//", "/a/..", "/./a"):
        with pytest.raises(InvalidArgument):
            split_path(bad)


def test_shares_to_weight() -> None:
    assert cpu.shares_to_weight(0) == 0
    assert cpu.shares_to_weight(2) == 1
    assert cpu.shares_to_weight(1) == 1  # clamped like the kernel
    assert cpu.shares_to_weight(1024) == 39  # Docker's default shares
    assert cpu.shares_to_weight(262144) == 10000
    assert cpu.shares_to_weight(10**9) == 10000


def test_swap_v2() -> None:
    assert memory.swap_v2(None, None) is None
    assert memory.swap_v2(64, 32) == 32
    assert memory.swap_v2(32, 32) == 0
    assert memory.swap_v2(-1, 32) == -1
    assert memory.swap_v2(None, -1) == -1
    assert memory.swap_v2(100, -1) == 100
    with pytest.raises(InvalidArgument):
        memory.swap_v2(16, 32)
    with pytest.raises(InvalidArgument):
        memory.swap_v2(64, None)


def test_blkio_weight_conversion() -> None:
    assert io.blkio_weight_to_io_weight(0) == 0
    assert io.blkio_weight_to_io_weight(10) == 1
    assert io.blkio_weight_to_io_weight(1000) == 10000
    assert io.blkio_weight_to_io_weight(500) == 1 + 490 * 9999 // 990


def test_device_rule_lines() -> None:
    assert devices.rule_line({"allow": False, "access": "rwm"}) == "a *:* rwm"
    assert devices.rule_line({"type": "c", "major": 1, "minor": 3, "access": "rw"}) == "c 1:3 rw"
    assert devices.rule_line({"type": "b", "major": 8}) == "b 8:* rwm"
    assert devices.rule_line({"type": "c", "major": -1, "minor": -1, "access": "m"}) == "c *:* m"
    for bad in ({"type": "x"}, {"type": "c", "access": "rwx"}, {"type": "c", "major": "1"}):
        with pytest.raises(InvalidArgument):
            devices.rule_line(bad)


def test_blkio_v1_stat_parsing(tmp_path: Path) -> None:
    (tmp_path / "blkio.throttle.io_service_bytes_recursive").write_text(
        "254:0 Read 4096\n254:0 Write 8192\n254:0 Total 12288\nTotal 12288\n"
    )
    (tmp_path / "blkio.throttle.io_serviced_recursive").write_text("")
    s = io.stats_v1(str(tmp_path))
    assert s["io_service_bytes_recursive"] == [
        {"major": 254, "minor": 0, "op": "Read", "value": 4096},
        {"major": 254, "minor": 0, "op": "Write", "value": 8192},
        {"major": 254, "minor": 0, "op": "Total", "value": 12288},
    ]
    assert s["io_serviced_recursive"] == []


def test_bad_resource_types() -> None:
    with pytest.raises(InvalidArgument):
        memory.set_v2("/nonexistent", {"memory": {"limit": "32m"}})
    with pytest.raises(InvalidArgument):
        memory.set_v2("/nonexistent", {"memory": [1]})
    with pytest.raises(InvalidArgument):
        memory.set_v1("/nonexistent", {"memory": {"swappiness": 101}})


# -- a fake cgroup2 tree ---------------------------------------------------------

V2_FILES = (
    "cgroup.procs cgroup.subtree_control cgroup.freeze cgroup.events cgroup.controllers "
    "memory.max memory.swap.max memory.low memory.current memory.stat memory.events "
    "cpu.weight cpu.max cpu.max.burst cpu.stat cpuset.cpus cpuset.mems pids.max pids.current "
    "io.max io.weight io.stat hugetlb.2MB.max memory.oom.group"
).split()


@pytest.fixture
def fake_v2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[tuple[str, str]]]:
    """A fake unified mount with /dockyard/c1 pre-made (plain dirs have no kernel files)."""
    root = tmp_path / "cg2"
    leaf = root / "dockyard" / "c1"
    leaf.mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids\n")
    (root / "cgroup.subtree_control").write_text("\n")
    (root / "dockyard" / "cgroup.subtree_control").write_text("\n")
    for name in V2_FILES:
        (leaf / name).write_text("")
    writes: list[tuple[str, str]] = []
    real_write = fs.write

    def recording_write(dirpath: str, name: str, value: str) -> None:
        real_write(dirpath, name, value)  # record only what succeeded
        writes.append((os.path.relpath(f"{dirpath}/{name}", root), value))

    monkeypatch.setattr(fs, "write", recording_write)
    return root, writes


ALL = "+cpuset +cpu +io +memory +hugetlb +pids"


def test_v2_create_writes(fake_v2: tuple[Path, list[tuple[str, str]]]) -> None:
    root, writes = fake_v2
    cg = CgroupV2("/dockyard/c1", mountpoint=str(root))
    cg.create(
        {
            "memory": {"limit": 32 << 20, "swap": 64 << 20, "reservation": 16 << 20},
            "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
            "pids": {"limit": 100},
            "blockIO": {
                "weight": 500,
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 0}],
            },
            "hugepageLimits": [{"pageSize": "2MB", "limit": 1 << 21}],
            "unified": {"memory.oom.group": "1"},
        }
    )
    assert writes == [
        ("cgroup.subtree_control", ALL),
        ("dockyard/cgroup.subtree_control", ALL),
        ("dockyard/c1/memory.swap.max", str(32 << 20)),
        ("dockyard/c1/memory.max", str(32 << 20)),
        ("dockyard/c1/memory.low", str(16 << 20)),
        ("dockyard/c1/cpu.weight", "39"),
        ("dockyard/c1/cpu.max", "50000 100000"),
        ("dockyard/c1/cpuset.mems", "0"),
        ("dockyard/c1/cpuset.cpus", "0"),
        ("dockyard/c1/pids.max", "100"),
        ("dockyard/c1/io.weight", str(io.blkio_weight_to_io_weight(500))),
        ("dockyard/c1/io.max", "8:0 rbps=1000"),
        ("dockyard/c1/io.max", "8:0 wiops=max"),
        ("dockyard/c1/hugetlb.2MB.max", str(1 << 21)),
        ("dockyard/c1/memory.oom.group", "1"),
    ]


def test_v2_enabled_controllers_not_rewritten(fake_v2: tuple[Path, list[tuple[str, str]]]) -> None:
    root, writes = fake_v2
    for d in (root, root / "dockyard"):
        (d / "cgroup.subtree_control").write_text("cpuset cpu io memory hugetlb pids\n")
    cg = CgroupV2("/dockyard/c1", mountpoint=str(root))
    cg.create(None)
    assert writes == []


def test_v2_unlimited_values(fake_v2: tuple[Path, list[tuple[str, str]]]) -> None:
    root, writes = fake_v2
    (root / "dockyard/c1/memory.swap.max").unlink()  # no swap accounting
    cg = CgroupV2("/dockyard/c1", mountpoint=str(root))
    cg.update({"memory": {"limit": -1}, "cpu": {"quota": -1, "period": 50000}, "pids": {"limit": -1}})
    assert writes == [
        ("dockyard/c1/memory.max", "max"),
        ("dockyard/c1/cpu.max", "max 50000"),
        ("dockyard/c1/pids.max", "max"),
    ]
    writes.clear()
    cg.update({"memory": {"limit": 32 << 20, "swap": 32 << 20}})  # "no swap": fine without the file
    assert writes == [("dockyard/c1/memory.max", str(32 << 20))]
    with pytest.raises(SystemError_) as err:
        cg.update({"memory": {"limit": 32 << 20, "swap": 64 << 20}})  # asks for swap: must fail
    assert "memory.swap.max" in str(err.value)


def test_v2_rejects_what_v2_cannot_do(fake_v2: tuple[Path, list[tuple[str, str]]]) -> None:
    root, _ = fake_v2
    cg = CgroupV2("/dockyard/c1", mountpoint=str(root))
    with pytest.raises(InvalidArgument):
        cg.update({"cpu": {"realtimeRuntime": 1000}})
    for bad in ({"cgroup.procs": "1"}, {"../x": "1"}, {"memory.max": 5}):
        with pytest.raises(InvalidArgument):
            cg.update({"unified": bad})


def test_v2_observation(fake_v2: tuple[Path, list[tuple[str, str]]]) -> None:
    root, _ = fake_v2
    leaf = root / "dockyard" / "c1"
    (leaf / "memory.current").write_text("4096\n")
    (leaf / "memory.max").write_text("max\n")
    (leaf / "memory.stat").write_text("anon 1024\nfile 2048\n")
    (leaf / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n")
    (leaf / "cpu.stat").write_text(
        "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 2\nthrottled_usec 7\n"
    )
    (leaf / "pids.current").write_text("3\n")
    (leaf / "pids.max").write_text("max\n")
    (leaf / "io.stat").write_text("8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n")
    (leaf / "cgroup.procs").write_text("10\n11\n")
    cg = CgroupV2("/dockyard/c1", mountpoint=str(root))
    assert cg.oom_kill_count() == 1
    assert cg.pids() == [10, 11]
    s = cg.stats()
    machine = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert s["memory_stats"] == {"usage": 4096, "limit": machine, "stats": {"anon": 1024, "file": 2048}}
    assert s["cpu_stats"] == {
        "cpu_usage": {"total_usage": 1500000, "usage_in_kernelmode": 500000, "usage_in_usermode": 1000000},
        "throttling_data": {"periods": 4, "throttled_periods": 2, "throttled_time": 7000},
    }
    assert s["pids_stats"] == {"current": 3}
    assert s["blkio_stats"]["io_service_bytes_recursive"] == [
        {"major": 8, "minor": 0, "op": "read", "value": 100},
        {"major": 8, "minor": 0, "op": "write", "value": 200},
    ]


def test_v2_freeze_waits_for_events(fake_v2: tuple[Path, list[tuple[str, str]]]) -> None:
    root, writes = fake_v2
    leaf = root / "dockyard" / "c1"
    (leaf / "cgroup.events").write_text("populated 1\nfrozen 1\n")
    cg = CgroupV2("/dockyard/c1", mountpoint=str(root))
    cg.freeze()
    assert cg.is_frozen()
    (leaf / "cgroup.events").write_text("populated 1\nfrozen 0\n")
    with pytest.raises(SystemError_):
        freezer.freeze_v2(str(leaf), timeout=0.05)  # never reports frozen: thawed and reported
    assert writes[-1] == ("dockyard/c1/cgroup.freeze", "0")


# -- v1 memory write order on a fake memory cgroup --------------------------------


@pytest.fixture
def fake_mem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[tuple[str, str]]]:
    for name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes"):
        (tmp_path / name).write_text("9223372036854771712\n")
    writes: list[tuple[str, str]] = []
    real_write = fs.write

    def recording_write(dirpath: str, name: str, value: str) -> None:
        real_write(dirpath, name, value)
        writes.append((name, value))

    monkeypatch.setattr(fs, "write", recording_write)
    return tmp_path, writes


def test_v1_memory_order(fake_mem: tuple[Path, list[tuple[str, str]]]) -> None:
    d, writes = fake_mem
    memory.set_v1(str(d), {"memory": {"limit": 32, "swap": 64}}, fresh=True)
    assert writes == [("memory.limit_in_bytes", "32"), ("memory.memsw.limit_in_bytes", "64")]
    writes.clear()
    memory.set_v1(str(d), {"memory": {"limit": 128, "swap": 256}})  # raising: memsw first
    assert writes == [("memory.memsw.limit_in_bytes", "256"), ("memory.limit_in_bytes", "128")]
    writes.clear()
    memory.set_v1(str(d), {"memory": {"limit": 16, "swap": 20}})  # lowering: limit first
    assert writes == [("memory.limit_in_bytes", "16"), ("memory.memsw.limit_in_bytes", "20")]
    writes.clear()
    memory.set_v1(str(d), {"memory": {"limit": -1}})  # unlimited lifts memsw too, first
    assert writes == [("memory.memsw.limit_in_bytes", "-1"), ("memory.limit_in_bytes", "-1")]


def test_v1_memory_without_swap_accounting(fake_mem: tuple[Path, list[tuple[str, str]]]) -> None:
    d, writes = fake_mem
    (d / "memory.memsw.limit_in_bytes").unlink()
    memory.set_v1(str(d), {"memory": {"limit": 32, "swap": 64, "reservation": 16}}, fresh=True)
    assert writes == [("memory.limit_in_bytes", "32"), ("memory.soft_limit_in_bytes", "16")]


def test_error_names_file_and_errno(tmp_path: Path) -> None:
    with pytest.raises(fs.CgroupFileError) as err:
        fs.write(str(tmp_path), "nope", "1")
    assert err.value.errno == errno.ENOENT
    assert str(err.value) == f"cgroups: failed to write '1' to {tmp_path}/nope: No such file or directory"
    assert isinstance(err.value, SystemError_)


# -- v2 device rules: the BPF program ---------------------------------------------


def run_bpf(prog: bytes, dev_type: int, access: int, major: int, minor: int) -> int:
    """A tiny interpreter for the opcodes compile_rules emits (little-endian hosts)."""
    import struct

    ctx = [dev_type | (access << 16), major, minor]
    regs = [0] * 11
    pc = 0
    insns = [struct.unpack_from("=BBhi", prog, i) for i in range(0, len(prog), 8)]
    for _ in range(10_000):
        code, r, off, imm = insns[pc]
        dst, src = r & 0xF, r >> 4
        pc += 1
        if code == 0x61:
            assert src == 1
            regs[dst] = ctx[off // 4]
        elif code == 0x54:
            regs[dst] = (regs[dst] & imm) & 0xFFFFFFFF
        elif code == 0x74:
            regs[dst] = (regs[dst] & 0xFFFFFFFF) >> imm
        elif code == 0xBC:
            regs[dst] = regs[src] & 0xFFFFFFFF
        elif code == 0xB7:
            regs[dst] = imm
        elif code == 0x15:
            pc += off if regs[dst] == imm else 0
        elif code == 0x55:
            pc += off if regs[dst] != imm else 0
        elif code == 0x95:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")
    raise AssertionError("no exit")


def decide(rules: list[dict], dev_type: int, access: int, major: int, minor: int) -> int:
    """The v1 permission check on the exception list (security/device_cgroup.c)."""
    default_allow, exceptions = effective_rules(rules)
    for (t, ma, mi), bits in exceptions.items():
        if t != dev_type or ma not in (None, major) or mi not in (None, minor):
            continue
        if default_allow and access & bits:
            return 0
        if not default_allow and not access & ~bits:
            return 1
    return int(default_allow)


RULES = st.lists(
    st.fixed_dictionaries(
        {
            "allow": st.booleans(),
            "type": st.sampled_from(["a", "b", "c", "c", "c"]),
            "major": st.sampled_from([None, 1, 5]),
            "minor": st.sampled_from([None, 3, 5]),
            "access": st.sampled_from(["r", "w", "m", "rw", "rm", "wm", "rwm"]),
        }
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(rules=RULES, dev_type=st.sampled_from([1, 2]), access=st.integers(1, 7), major=st.sampled_from([1, 5, 7]),
       minor=st.sampled_from([3, 5, 9]))  # fmt: skip
def test_bpf_program_matches_the_rules(rules: list[dict], dev_type: int, access: int, major: int, minor: int) -> None:
    assert run_bpf(compile_rules(rules), dev_type, access, major, minor) == decide(rules, dev_type, access, major, minor)


def test_effective_rules_follow_the_kernel() -> None:
    deny_all = {"allow": False, "access": "rwm"}
    # Allow rules merge per exact device; deny rules then remove bits from exact matches only.
    d, ex = effective_rules(
        [deny_all, {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "r"},
         {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "w"},
         {"allow": True, "type": "c", "major": 1, "access": "r"},
         {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "w"},
         {"allow": False, "type": "c", "major": 1, "minor": 5, "access": "r"}]
    )  # fmt: skip
    assert (d, ex) == (False, {(2, 1, 3): 2, (2, 1, None): 2})
    # "a" resets whatever came before, whatever its access.
    assert effective_rules([deny_all, {"allow": True, "type": "c", "major": 1, "access": "r"},
                            {"allow": True, "type": "a", "access": "m"}]) == (True, {})  # fmt: skip
    assert effective_rules([]) == (True, {})
    # Docker's list: the explicit deny of 10:229 under default-deny is a no-op.
    from dockyard.oci.runtime_spec import DEFAULT_DEVICE_RULES

    d, ex = effective_rules(list(DEFAULT_DEVICE_RULES))
    assert d is False and (2, 10, 229) not in ex and ex[(2, 136, None)] == 7 and ex[(2, None, None)] == 1
