"""The first slice (run, lifecycle, resources) through the real docker CLI and through dockyard's own."""

from __future__ import annotations

import json
import time

import pytest


@pytest.fixture(params=["docker", "dockyard"])
def cli(request, daemon):
    return daemon.docker if request.param == "docker" else daemon.dockyard


def test_run_echo(cli):
    p = cli("run", "--rm", "busybox", "echo", "hello")
    assert p.stdout_text == "hello\n"


def test_exit_code_propagates(cli):
    p = cli("run", "--rm", "busybox", "sh", "-c", "exit 3", check=False)
    assert p.returncode == 3


def test_pid_namespace(cli):
    p = cli("run", "--rm", "busybox", "sh", "-c", "echo $$; ps -o pid | wc -l")
    pid, lines = p.stdout_text.split()
    assert pid == "1" and int(lines) <= 4


def test_hostname_and_default_hostname(cli):
    assert cli("run", "--rm", "--hostname", "box1", "busybox", "hostname").stdout_text == "box1\n"
    cid = cli("run", "-d", "busybox", "sleep", "30").stdout_text.strip()
    try:
        host = cli("exec", cid, "hostname", check=False).stdout_text.strip() or \
            cli("inspect", "-f", "{{.Config.Hostname}}", cid).stdout_text.strip()
        assert host == cid[:12]
    finally:
        cli("rm", "-f", cid)


def test_env_workdir_user(cli):
    p = cli("run", "--rm", "-e", "FOO=bar", "-w", "/tmp", "busybox", "sh", "-c", "echo $FOO $(pwd)")
    assert p.stdout_text == "bar /tmp\n"
    assert cli("run", "--rm", "-u", "65534", "busybox", "id", "-u").stdout_text == "65534\n"
    assert cli("run", "--rm", "-u", "nobody", "busybox", "id", "-un").stdout_text == "nobody\n"


def test_readonly_rootfs(cli):
    p = cli("run", "--rm", "--read-only", "busybox", "touch", "/x", check=False)
    assert p.returncode != 0
    assert "Read-only file system" in p.stderr_text


def test_missing_image_exit_125(cli):
    p = cli("run", "--rm", "acc-no/such:image", "true", check=False)
    assert p.returncode == 125
    assert "Unable to find image" in p.stderr_text


def test_missing_command_exit_127(cli):
    p = cli("run", "--rm", "busybox", "/no/such/cmd", check=False)
    assert p.returncode == 127, p.stderr_text
    assert "no such file or directory" in p.stderr_text


def test_rootfs_isolated(cli):
    cli("run", "--rm", "busybox", "sh", "-c", "echo x > /etc/marker")
    p = cli("run", "--rm", "busybox", "sh", "-c", "test -e /etc/marker && echo leaked || echo clean")
    assert p.stdout_text == "clean\n"


def test_detach_ps_logs_stop_rm(cli):
    cli("run", "-d", "--name", "life", "busybox", "sh", "-c",
                  'echo started; trap "exit 0" TERM; while :; do sleep 1; done')
    try:
        names = cli("ps", "--format", "{{.Names}}").stdout_text.split()
        assert "life" in names
        deadline = time.time() + 5
        while "started" not in cli("logs", "life").stdout_text:
            assert time.time() < deadline
            time.sleep(0.1)
        t0 = time.time()
        cli("stop", "-t", "5", "life")
        assert time.time() - t0 < 4
        st = cli("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "life").stdout_text
        assert st == "exited 0\n"
        table = cli("ps", "-a").stdout_text
        assert "Exited (0)" in table and "life" in table
    finally:
        cli("rm", "-f", "life", check=False)
    assert cli("inspect", "life", check=False).returncode != 0


def test_stop_kills_after_timeout(cli):
    cli("run", "-d", "--name", "stubborn", "busybox", "sh", "-c", 'trap "" TERM; while :; do sleep 1; done')
    try:
        t0 = time.time()
        cli("stop", "-t", "1", "stubborn")
        assert time.time() - t0 < 5
        assert cli("inspect", "-f", "{{.State.ExitCode}}", "stubborn").stdout_text == "137\n"
    finally:
        cli("rm", "-f", "stubborn", check=False)


def test_logs_split_stdout_stderr(cli):
    cli("run", "--name", "split", "busybox", "sh", "-c", "echo out; echo err >&2")
    try:
        p = cli("logs", "split")
        assert p.stdout_text == "out\n" and p.stderr_text == "err\n"
        p = cli("logs", "-t", "split")
        assert p.stdout_text.endswith(" out\n") and p.stdout_text[:4].isdigit()
    finally:
        cli("rm", "split")


def test_inspect_format_and_label_filter(cli):
    cli("run", "-d", "--name", "insp", "-e", "K=V", "--label", "acc=yes", "busybox", "sleep", "300")
    try:
        p = cli("inspect", "-f", '{{.Name}} {{.State.Running}} {{index .Config.Labels "acc"}}', "insp")
        assert p.stdout_text == "/insp true yes\n"
        p = cli("ps", "--filter", "label=acc=yes", "--format", "{{.Names}}")
        assert p.stdout_text.split() == ["insp"]
        p = cli("ps", "--filter", "label=acc=no", "--format", "{{.Names}}")
        assert p.stdout_text.split() == []
        doc = json.loads(cli("inspect", "insp").stdout_text)[0]
        assert "K=V" in doc["Config"]["Env"] and doc["State"]["Pid"] > 0
    finally:
        cli("rm", "-f", "insp")


def test_rm_running_refused(cli):
    cli("run", "-d", "--name", "busy", "busybox", "sleep", "300")
    p = cli("rm", "busy", check=False)
    assert p.returncode != 0 and "stop the container" in p.stderr_text
    cli("rm", "-f", "busy")


def test_name_conflict(cli):
    cli("create", "--name", "twin", "busybox", "true")
    try:
        p = cli("create", "--name", "twin", "busybox", "true", check=False)
        assert p.returncode != 0 and "is already in use" in p.stderr_text
    finally:
        cli("rm", "twin")


def test_memory_limit_oom(cli):
    p = cli("run", "--name", "oom", "-m", "32m", "--memory-swap", "32m", "busybox", "sh", "-c",
                      'x=$(head -c 300m /dev/zero | tr "\\0" a); echo survived', check=False)
    try:
        assert p.returncode == 137
        assert cli("inspect", "-f", "{{.State.OOMKilled}}", "oom").stdout_text == "true\n"
    finally:
        cli("rm", "-f", "oom")


def test_pids_limit(cli):
    p = cli("run", "--rm", "--pids-limit", "10", "busybox", "sh", "-c",
                      "for i in $(seq 30); do sleep 3 & done 2>&1; wait", check=False)
    assert "fork" in (p.stdout_text + p.stderr_text).lower() or "resource" in (p.stdout_text + p.stderr_text).lower()


@pytest.mark.parametrize("runtime", ["runc"])
def test_other_runtime(cli, runtime):
    p = cli("run", "--rm", "--runtime", runtime, "busybox", "sh", "-c", "echo $$; hostname")
    lines = p.stdout_text.split()
    assert lines[0] == "1"
