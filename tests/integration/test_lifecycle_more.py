"""More of the container lifecycle: kill, restart, wait, prune, filters, sizes, cgroup limits, daemon files."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest


@pytest.fixture(params=["docker", "dockyard"])
def cli(request, daemon):
    return daemon.docker if request.param == "docker" else daemon.dockyard


def _cgroup_file(pid: int, controller: str, name: str) -> str:
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        if controller in ctrls.split(","):
            return (Path("/sys/fs/cgroup") / ctrls / path.lstrip("/") / name).read_text().strip()
    raise AssertionError(f"{controller} not found for {pid}")


def test_kill_with_signal_restart_and_wait(cli):
    cli("run", "-d", "--name", "sig", "busybox", "sh", "-c", 'trap "exit 42" USR1; while :; do sleep 0.1; done')
    try:
        cli("kill", "-s", "USR1", "sig")
        assert cli("wait", "sig").stdout_text == "42\n"
        cli("restart", "-t", "1", "sig")
        assert cli("inspect", "-f", "{{.State.Running}}", "sig").stdout_text == "true\n"
        cli("kill", "sig")
        assert cli("inspect", "-f", "{{.State.ExitCode}}", "sig").stdout_text == "137\n"
        p = cli("kill", "sig", check=False)
        assert p.returncode != 0 and "is not running" in p.stderr_text
        p = cli("kill", "-s", "NOPE", "sig", check=False)
        assert p.returncode != 0
    finally:
        cli("rm", "-f", "sig")


def test_ps_filters_and_size(cli, daemon):
    assert cli("run", "--name", "done1", "busybox", "sh", "-c", "echo x > /file; exit 2", check=False).returncode == 2
    cli("run", "-d", "--name", "live1", "busybox", "sleep", "300")
    try:
        exited = cli("ps", "-a", "--filter", "status=exited", "--format", "{{.Names}}").stdout_text.split()
        assert "done1" in exited and "live1" not in exited
        assert cli("ps", "-a", "--filter", "exited=2", "--format", "{{.Names}}").stdout_text.split() == ["done1"]
        running = cli("ps", "--filter", "ancestor=busybox", "--format", "{{.Names}}").stdout_text.split()
        assert running == ["live1"]
        cid = cli("inspect", "-f", "{{.Id}}", "live1").stdout_text.strip()
        assert cli("ps", "-q", "--filter", f"id={cid[:6]}").stdout_text.strip() == cid[:12]
        sizes = json.loads(daemon.docker("ps", "-a", "-s", "--filter", "name=done1", "--format", "{{json .}}")
                           .stdout_text)
        assert sizes["Size"].startswith("2B") or "B" in sizes["Size"]
        assert cli("ps", "-a", "-n", "1", "--format", "{{.Names}}").stdout_text.split() == ["live1"]
    finally:
        cli("rm", "-f", "done1", "live1")


def test_container_prune(cli):
    cli("create", "--name", "pr1", "busybox", "true")
    cli("run", "-d", "--name", "pr2", "busybox", "sleep", "300")
    try:
        out = cli("container", "prune", "-f").stdout_text
        assert "Total reclaimed space" in out
        names = cli("ps", "-a", "--format", "{{.Names}}").stdout_text.split()
        assert "pr1" not in names and "pr2" in names
    finally:
        cli("rm", "-f", "pr2")


def test_cpu_and_memory_limits_reach_cgroups(cli):
    cli("run", "-d", "--name", "lim", "--cpus", "0.5", "--cpu-shares", "512", "-m", "64m", "--pids-limit", "50",
        "busybox", "sleep", "300")
    try:
        pid = int(cli("inspect", "-f", "{{.State.Pid}}", "lim").stdout_text)
        assert _cgroup_file(pid, "cpu", "cpu.cfs_quota_us") == "50000"
        assert _cgroup_file(pid, "cpu", "cpu.cfs_period_us") == "100000"
        assert _cgroup_file(pid, "cpu", "cpu.shares") == "512"
        assert _cgroup_file(pid, "memory", "memory.limit_in_bytes") == str(64 << 20)
        assert _cgroup_file(pid, "pids", "pids.max") == "50"
        hc = json.loads(cli("inspect", "lim").stdout_text)[0]["HostConfig"]
        assert hc["NanoCpus"] == 500_000_000 and hc["Memory"] == 64 << 20
    finally:
        cli("rm", "-f", "lim")


def test_default_capabilities_and_no_new_privs(cli):
    out = cli("run", "--rm", "busybox", "sh", "-c", "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status").stdout_text
    assert "CapEff:\t00000000a80425fb" in out


def test_etc_files_and_dev(cli):
    out = cli("run", "--rm", "--hostname", "etcbox", "busybox", "sh", "-c",
              "cat /etc/hostname; grep -c localhost /etc/hosts; ls /dev/null /dev/zero /dev/pts/ptmx /dev/shm;"
              " mount | grep -c ' /sys .*ro,'").stdout_text.split()
    assert out[0] == "etcbox" and int(out[1]) >= 1 and out[-1] == "1"


def test_socket_mode_and_daemon_restart_keeps_records(daemon):
    assert stat.S_IMODE(os.stat(daemon.socket).st_mode) == 0o660
    daemon.docker("create", "--name", "survivor", "busybox", "true")
    daemon.docker("run", "-d", "--name", "runner", "busybox", "sh", "-c", "while :; do echo t; sleep 0.2; done")
    try:
        daemon.kill9()
        time.sleep(0.5)
        daemon.start()
        names = daemon.docker("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout_text
        assert "survivor created" in names and "runner running" in names
        a = len(daemon.docker("logs", "runner").stdout_text.splitlines())
        time.sleep(0.6)
        assert len(daemon.docker("logs", "runner").stdout_text.splitlines()) > a
        t0 = time.time()
        daemon.docker("stop", "-t", "1", "runner")
        assert time.time() - t0 < 5
    finally:
        daemon.docker("rm", "-f", "survivor", "runner", check=False)


def test_force_remove_of_a_container_exiting_right_then(daemon):
    """rm -f racing the container's own exit (kill finds it gone) still removes it."""
    for _ in range(20):
        cid = daemon.docker("run", "-d", "busybox", "true").stdout_text.strip()
        daemon.docker("rm", "-f", cid)
        assert daemon.docker("ps", "-aq", "--filter", f"id={cid}").stdout_text == ""
