"""The same bundles under the built-in runtime and under runc must give the same results."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import base_config
from runners import Runner

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")

MiB = 1 << 20


def cfg(rootfs: Path, args: list[str], **over) -> dict:
    c = base_config(args, **over)
    c["root"] = dict(c["root"], path=str(rootfs))
    return c


def sh(rootfs: Path, script: str, **over) -> dict:
    return cfg(rootfs, ["sh", "-c", script], **over)


def test_echo_and_exit_zero(runner: Runner, busybox_rootfs: Path) -> None:
    r = runner.run(sh(busybox_rootfs, "echo hello; echo oops >&2"))
    assert (r.exit_code, r.stdout, r.stderr) == (0, "hello\n", "oops\n")


def test_exit_code(runner: Runner, busybox_rootfs: Path) -> None:
    assert runner.run(sh(busybox_rootfs, "exit 3")).exit_code == 3


def test_killed_by_signal_is_128_plus(runner: Runner, busybox_rootfs: Path) -> None:
    # pid 1 ignores signals without a handler, except from the kernel: kill it from a child's view of it.
    r = runner.run(sh(busybox_rootfs, "trap 'exit 9' TERM; kill -TERM $$; sleep 1"))
    assert r.exit_code == 9
    r = runner.run(sh(busybox_rootfs, "kill -KILL $$ 2>/dev/null; echo still"))
    assert r.exit_code == 0 and r.stdout == "still\n"  # SIGKILL from inside the namespace is ignored


@pytest.mark.parametrize(("args", "message"), [
    (["/no/such/cmd"], 'exec: "/no/such/cmd": stat /no/such/cmd: no such file or directory'),
    (["nosuchcmd"], 'exec: "nosuchcmd": executable file not found in $PATH'),
    (["/etc/passwd"], 'exec: "/etc/passwd": permission denied'),
    (["/tmp"], 'exec: "/tmp": permission denied'),
])
def test_exec_failure_is_a_create_error(runner: Runner, busybox_rootfs: Path, args: list[str],
                                        message: str) -> None:
    r = runner.run(cfg(busybox_rootfs, args))
    assert r.exit_code is None
    assert message in r.create_error


def test_pid_one_and_hostname(runner: Runner, busybox_rootfs: Path) -> None:
    r = runner.run(sh(busybox_rootfs, "echo $$; hostname", hostname="conform"))
    assert r.stdout == "1\nconform\n"


def test_env_and_cwd_created(runner: Runner, busybox_rootfs: Path, overlay: Callable[[], Path]) -> None:
    rootfs = overlay()
    c = sh(rootfs, 'echo "$FOO|$HOME"; pwd')
    c["process"]["env"] = c["process"]["env"] + ["FOO=bar baz"]
    c["process"]["cwd"] = "/work/dir"
    r = runner.run(c)
    assert r.stdout == "bar baz|/root\n/work/dir\n"


def test_user_nobody(runner: Runner, busybox_rootfs: Path) -> None:
    c = sh(busybox_rootfs, "id -u; id -g; id -G; grep CapEff /proc/self/status; echo x > /dev/stdout")
    c["process"]["user"] = {"uid": 65534, "gid": 65534, "additionalGids": [5]}
    r = runner.run(c)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.split("\n")[:5] == ["65534", "65534", "65534 5", "CapEff:\t0000000000000000", "x"]


def test_capabilities_docker_default(runner: Runner, busybox_rootfs: Path) -> None:
    r = runner.run(sh(busybox_rootfs, "grep -E '^Cap(Eff|Prm|Bnd|Inh|Amb)' /proc/self/status"))
    assert r.stdout.split() == ["CapInh:", "0000000000000000", "CapPrm:", "00000000a80425fb",
                                "CapEff:", "00000000a80425fb", "CapBnd:", "00000000a80425fb",
                                "CapAmb:", "0000000000000000"]


def test_readonly_rootfs(runner: Runner, busybox_rootfs: Path, overlay: Callable[[], Path]) -> None:
    c = sh(overlay(), "touch /x 2>/dev/null && echo wrote; touch /dev/shm/ok /tmp/no 2>&1 | grep -c Read-only")
    c["root"]["readonly"] = True
    r = runner.run(c)
    assert r.stdout == "1\n"


def test_masked_and_readonly_paths(runner: Runner, busybox_rootfs: Path) -> None:
    files = [p for p in ("/proc/kcore", "/proc/keys", "/proc/timer_list") if os.path.exists(p)]
    dirs = [p for p in ("/proc/acpi", "/sys/firmware", "/proc/scsi") if os.path.isdir(p)]
    assert files and dirs
    script = "".join(f"wc -c < {p}; " for p in files) + "".join(f"ls -A {p} | wc -l; " for p in dirs)
    script += ("echo 1 > /proc/sys/kernel/printk 2>/dev/null || echo ro; "
               "grep -c ' /sys sysfs ro' /proc/mounts")
    r = runner.run(sh(busybox_rootfs, script))
    assert r.stdout.split() == ["0"] * (len(files) + len(dirs)) + ["ro", "1"]


def test_dev_and_mounts(runner: Runner, busybox_rootfs: Path) -> None:
    r = runner.run(sh(busybox_rootfs, "ls /dev | sort | tr '\\n' ' '; echo; readlink /dev/ptmx; "
                                      "grep ' /dev/shm ' /proc/mounts | grep -o 'size=[0-9]*k'"))
    devs, ptmx, shm = r.stdout.strip().split("\n")
    for d in ("full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout",
              "tty", "urandom", "zero", "fd"):
        assert d in devs.split(), d
    assert ptmx == "pts/ptmx"
    assert shm == "size=65536k"


def test_bind_mount_of_a_file(runner: Runner, busybox_rootfs: Path, tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("10.1.2.3 conformance\n")
    c = sh(busybox_rootfs, "cat /etc/hosts; echo extra >> /etc/hosts && cat /etc/hosts | wc -l")
    c["mounts"].append({"destination": "/etc/hosts", "type": "bind", "source": str(hosts),
                        "options": ["rbind", "rprivate"]})
    r = runner.run(c)
    assert r.stdout == "10.1.2.3 conformance\n2\n"
    assert hosts.read_text().endswith("extra\n")


def test_rlimits_and_no_new_privileges(runner: Runner, busybox_rootfs: Path) -> None:
    c = sh(busybox_rootfs, "ulimit -n; grep NoNewPrivs /proc/self/status | tr -d '\\t'")
    c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512}]
    c["process"]["noNewPrivileges"] = True
    assert runner.run(c).stdout == "512\nNoNewPrivs:1\n"


def test_join_netns_by_path(runner: Runner, busybox_rootfs: Path, netns: str) -> None:
    subprocess.run(["ip", "-n", netns, "link", "add", "dytest0", "type", "veth", "peer", "name", "dytest1"],
                   check=True)
    c = sh(busybox_rootfs, "grep -o dytest0 /proc/net/dev")
    c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
    c["linux"]["namespaces"].append({"type": "network", "path": f"/run/netns/{netns}"})
    assert runner.run(c).stdout == "dytest0\n"


def test_cgroup_namespace_and_mount(runner: Runner, busybox_rootfs: Path, cg_parent: str) -> None:
    c = sh(busybox_rootfs, "cat /proc/self/cgroup | grep memory; cat /sys/fs/cgroup/memory/memory.limit_in_bytes")
    c["linux"]["namespaces"].append({"type": "cgroup"})
    c["linux"]["cgroupsPath"] = f"{cg_parent}/cgns"
    c["linux"]["resources"] = {"memory": {"limit": 64 * MiB}}
    r = runner.run(c)
    assert r.stdout.split("\n")[:2] == [r.stdout.split("\n")[0].rsplit(":", 1)[0] + ":/", str(64 * MiB)]


def test_memory_limit_oom_kill(runner: Runner, busybox_rootfs: Path, cg_parent: str) -> None:
    c = sh(busybox_rootfs, 'x=$(head -c 300m /dev/zero | tr "\\0" a); echo survived')
    c["linux"]["cgroupsPath"] = f"{cg_parent}/oom"
    c["linux"]["resources"] = {"memory": {"limit": 32 * MiB, "swap": 32 * MiB}}
    r = runner.run(c, timeout=60)
    assert (r.exit_code, r.oom_killed) == (137, True)


def test_pids_limit(runner: Runner, busybox_rootfs: Path, cg_parent: str) -> None:
    c = sh(busybox_rootfs, "for i in 1 2 3 4 5 6 7 8; do sleep 2 & done 2>&1; wait; echo done")
    c["linux"]["cgroupsPath"] = f"{cg_parent}/pids"
    c["linux"]["resources"] = {"pids": {"limit": 4}}
    r = runner.run(c)
    assert "can't fork" in r.stdout + r.stderr


def test_exec_format_error_after_start(runner: Runner, overlay: Callable[[], Path]) -> None:
    rootfs = overlay()
    (rootfs / "garbage").write_bytes(b"\x00\x01\x02 not a program\n")
    os.chmod(rootfs / "garbage", 0o755)
    r = runner.run(cfg(rootfs, ["/garbage"]))
    assert (r.exit_code, r.stderr) == (1, "exec /garbage: exec format error\n")


def test_device_cgroup_denies_disks(runner: Runner, busybox_rootfs: Path, cg_parent: str) -> None:
    from dockyard.oci.runtime_spec import DEFAULT_DEVICE_RULES
    c = sh(busybox_rootfs, "mknod /dev/sda-test b 8 0 && head -c 1 /dev/sda-test >/dev/null 2>&1 || echo denied; "
                           "head -c 1 /dev/zero | wc -c")
    c["linux"]["cgroupsPath"] = f"{cg_parent}/dev"
    c["linux"]["resources"] = {"devices": [dict(d) for d in DEFAULT_DEVICE_RULES]}
    r = runner.run(c)
    assert r.stdout.split() == ["denied", "1"], r
