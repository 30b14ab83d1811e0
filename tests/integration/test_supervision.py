"""Supervision through the docker CLI and dockyard's: restart policies, --init, HEALTHCHECK,
json-file rotation, and containers that outlive a daemon killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

# PID 1 ignores TERM unless it traps it: these stop at once.
COUNTER = 'trap "exit 0" TERM; i=0; while :; do echo $i; i=$((i+1)); sleep 0.05; done'
FOREVER = 'trap "exit 0" TERM; while :; do sleep 0.1; done'


@pytest.fixture(params=["docker", "dockyard"])
def cli(request, daemon):
    return daemon.docker if request.param == "docker" else daemon.dockyard


def inspect(daemon, name: str) -> dict:
    return json.loads(daemon.docker("inspect", name).stdout_text)[0]


def wait_for(pred, timeout: float = 15.0, interval: float = 0.05):
    deadline = time.time() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(interval)


def rm(daemon, *names: str) -> None:
    daemon.docker("rm", "-f", *names, check=False)


# ---------------------------------------------------------------------------------- restart policies

def test_on_failure_retries_then_stays_exited(cli, daemon):
    cli("run", "-d", "--name", "onf", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 3")
    try:
        doc = wait_for(lambda: (d := inspect(daemon, "onf"))["State"]["Status"] == "exited"
                       and d["RestartCount"] == 2 and d)
        assert doc["State"]["ExitCode"] == 3 and doc["HostConfig"]["RestartPolicy"] == {
            "Name": "on-failure", "MaximumRetryCount": 2}
        time.sleep(0.5)
        assert inspect(daemon, "onf")["RestartCount"] == 2
        assert cli("logs", "onf").stdout_text == "run\n" * 3   # one log across the runs
    finally:
        rm(daemon, "onf")


def test_on_failure_ignores_success_and_no_never_restarts(daemon):
    daemon.docker("run", "-d", "--name", "ok0", "--restart", "on-failure", "busybox", "true")
    daemon.docker("run", "-d", "--name", "no1", "busybox", "sh", "-c", "exit 1")
    try:
        for name in ("ok0", "no1"):
            wait_for(lambda n=name: inspect(daemon, n)["State"]["Status"] == "exited")
        time.sleep(0.4)
        assert inspect(daemon, "ok0")["RestartCount"] == 0
        assert inspect(daemon, "no1")["RestartCount"] == 0
    finally:
        rm(daemon, "ok0", "no1")


def test_always_restarts_and_a_stop_ends_it(cli, daemon):
    cli("run", "-d", "--name", "alw", "--restart", "always", "busybox", "sh", "-c", "exit 1")
    try:
        # after a few restarts the backoff (0.1, 0.2, 0.4, 0.8 s...) leaves it `restarting` for a while
        doc = wait_for(lambda: (d := inspect(daemon, "alw"))["RestartCount"] >= 3
                       and d["State"]["Status"] == "restarting" and d)
        st = doc["State"]
        assert st["Restarting"] and st["Running"] and st["Pid"] == 0 and st["ExitCode"] == 1
        assert "Restarting (1)" in daemon.docker("ps", "--filter", "name=alw").stdout_text
        p = cli("rm", "alw", check=False)
        assert p.returncode != 0
        assert "container is restarting: stop the container before removing or force remove" in p.stderr_text
        t0 = time.time()
        cli("stop", "alw")
        assert time.time() - t0 < 5
        count = inspect(daemon, "alw")["RestartCount"]
        time.sleep(1.0)
        doc = inspect(daemon, "alw")
        assert doc["State"]["Status"] == "exited" and doc["RestartCount"] == count
        # a manual start resets the count and restarting resumes
        cli("start", "alw")
        wait_for(lambda: inspect(daemon, "alw")["RestartCount"] >= 1)
    finally:
        rm(daemon, "alw")
    assert daemon.docker("ps", "-aq", "--filter", "name=alw").stdout_text == ""


def test_rm_force_and_kill_of_restarting_containers(daemon):
    for name in ("rf1", "kl1"):
        daemon.docker("run", "-d", "--name", name, "--restart", "always", "busybox", "sh", "-c", "exit 2")
    try:
        for name in ("rf1", "kl1"):
            wait_for(lambda n=name: (d := inspect(daemon, n))["RestartCount"] >= 3
                     and d["State"]["Status"] == "restarting")
        daemon.docker("rm", "-f", "rf1")
        daemon.docker("kill", "kl1")
        time.sleep(1.0)
        doc = inspect(daemon, "kl1")
        assert doc["State"]["Status"] == "exited"
        count = doc["RestartCount"]
        time.sleep(1.0)
        assert inspect(daemon, "kl1")["RestartCount"] == count
    finally:
        rm(daemon, "rf1", "kl1")
    assert daemon.docker("ps", "-aq", "--filter", "name=rf1").stdout_text == ""


def test_kill_of_a_running_always_container_does_not_restart_it(cli, daemon):
    cli("run", "-d", "--name", "alk", "--restart", "always", "busybox", "sh", "-c", FOREVER)
    try:
        cli("kill", "alk")
        time.sleep(1.0)
        doc = inspect(daemon, "alk")
        assert doc["State"]["Status"] == "exited" and doc["State"]["ExitCode"] == 137
        assert doc["RestartCount"] == 0
    finally:
        rm(daemon, "alk")


def test_restart_events(daemon):
    since = str(int(time.time()) - 1)
    daemon.docker("run", "-d", "--name", "evr", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 5")
    try:
        wait_for(lambda: inspect(daemon, "evr")["State"]["Status"] == "exited"
                 and inspect(daemon, "evr")["RestartCount"] == 2)
        until = str(int(time.time()) + 1)
        p = daemon.docker("events", "--since", since, "--until", until, "--filter", "container=evr",
                          "--format", "{{.Action}} {{index .Actor.Attributes \"exitCode\"}}", timeout=30)
        actions = [line for line in p.stdout_text.splitlines() if line.split()[0] in ("start", "die")]
        assert actions == ["start ", "die 5"] * 3
    finally:
        rm(daemon, "evr")


def test_docker_restart_event(cli, daemon):
    since = str(int(time.time()) - 1)
    cid = cli("run", "-d", "--name", "rst", "busybox", "sh", "-c", FOREVER).stdout_text.strip()
    try:
        cli("restart", "-t", "2", "rst")
        p = daemon.docker("events", "--since", since, "--until", str(int(time.time()) + 1),
                          "--filter", f"container={cid}", "--format", "{{.Action}}", timeout=30)
        actions = [a for a in p.stdout_text.split() if a in ("start", "die", "stop", "restart")]
        assert actions == ["start", "die", "stop", "start", "restart"]
    finally:
        rm(daemon, "rst")


def _graceful_daemon_restart(daemon) -> None:
    daemon.proc.send_signal(signal.SIGTERM)
    daemon.proc.wait(60)
    daemon.start()


def test_policies_when_the_daemon_starts(daemon):
    d = daemon.docker
    d("run", "-d", "--name", "us-up", "--restart", "unless-stopped", "busybox", "sh", "-c", FOREVER)
    d("run", "-d", "--name", "us-down", "--restart", "unless-stopped", "busybox", "sh", "-c", FOREVER)
    d("run", "-d", "--name", "al-down", "--restart", "always", "busybox", "sh", "-c", FOREVER)
    d("run", "-d", "--name", "no-up", "busybox", "sh", "-c", FOREVER)
    d("create", "--name", "al-new", "--restart", "always", "busybox", "true")
    try:
        d("stop", "us-down", "al-down")
        _graceful_daemon_restart(daemon)   # stops every container (no live restore)
        status = {n: inspect(daemon, n)["State"]["Status"]
                  for n in ("us-up", "us-down", "al-down", "no-up", "al-new")}
        assert status == {"us-up": "running", "us-down": "exited", "al-down": "running",
                          "no-up": "exited", "al-new": "created"}
    finally:
        rm(daemon, "us-up", "us-down", "al-down", "no-up", "al-new")


# ---------------------------------------------------------------------------------- --init

def _zombies_under(pid: int) -> int:
    n = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == pid:
            n += 1
    return n


def test_init_reaps_orphans_and_forwards_term(cli, daemon):
    # the subshell exits at once: its `sleep 0.1` is orphaned to PID 1, which must reap it
    script = "(sleep 0.1 &); exec sleep 300"
    cli("run", "-d", "--name", "noinit", "busybox", "sh", "-c", script)
    cli("run", "-d", "--name", "withinit", "--init", "busybox", "sh", "-c", script)
    try:
        time.sleep(0.6)
        assert _zombies_under(inspect(daemon, "noinit")["State"]["Pid"]) == 1   # sleep as PID 1 never reaps
        doc = inspect(daemon, "withinit")
        assert _zombies_under(doc["State"]["Pid"]) == 0
        assert doc["HostConfig"]["Init"] is True
        assert doc["Path"] == "sh" and doc["Args"] == ["-c", script]
        ps = cli("exec", "withinit", "ps", "-o", "pid,args").stdout_text
        assert "1 /sbin/docker-init -- sh -c" in ps
        t0 = time.time()
        cli("stop", "withinit")   # TERM reaches `sleep` through tini: no 10 s wait for SIGKILL
        assert time.time() - t0 < 5
        assert inspect(daemon, "withinit")["State"]["ExitCode"] == 143
    finally:
        rm(daemon, "noinit", "withinit")


def test_init_keeps_exit_code_and_output(cli):
    p = cli("run", "--rm", "--init", "busybox", "sh", "-c", "echo $$; exit 7", check=False)
    assert p.returncode == 7
    assert p.stdout_text.strip() != "1"   # tini is PID 1, the command is its child


# ---------------------------------------------------------------------------------- HEALTHCHECK

def test_healthcheck_states_and_ps(cli, daemon):
    # unhealthy until /tmp/ok exists (after ~1.5 s), then healthy
    cli("run", "-d", "--name", "hc", "--health-cmd", "echo probing; test -e /tmp/ok",
        "--health-interval", "100ms", "--health-retries", "2", "--health-timeout", "2s",
        "busybox", "sh", "-c", "sleep 1.5; touch /tmp/ok; " + FOREVER)
    try:
        doc = wait_for(lambda: (d := inspect(daemon, "hc"))["State"]["Health"]["Status"] == "unhealthy" and d)
        h = doc["State"]["Health"]
        assert h["FailingStreak"] >= 2 and h["Log"][-1]["ExitCode"] == 1
        assert h["Log"][-1]["Output"] == "probing\n"
        assert "(unhealthy)" in cli("ps", "--filter", "name=hc").stdout_text
        doc = wait_for(lambda: (d := inspect(daemon, "hc"))["State"]["Health"]["Status"] == "healthy" and d)
        h = doc["State"]["Health"]
        assert h["FailingStreak"] == 0 and len(h["Log"]) <= 5 and h["Log"][-1]["ExitCode"] == 0
        assert set(h["Log"][-1]) == {"Start", "End", "ExitCode", "Output"}
        assert "(healthy)" in cli("ps", "--filter", "name=hc").stdout_text
        cli("stop", "hc")
        log_after_stop = inspect(daemon, "hc")["State"]["Health"]
        time.sleep(0.5)
        again = inspect(daemon, "hc")["State"]["Health"]
        assert again == log_after_stop and again["Status"] == "unhealthy"   # no probe after stop
    finally:
        rm(daemon, "hc")


def test_health_status_events(daemon):
    since = str(int(time.time()) - 1)
    daemon.docker("run", "-d", "--name", "hev", "--health-cmd", "true", "--health-interval", "100ms",
                  "busybox", "sh", "-c", FOREVER)
    try:
        wait_for(lambda: inspect(daemon, "hev")["State"]["Health"]["Status"] == "healthy")
        p = daemon.docker("events", "--since", since, "--until", str(int(time.time()) + 1),
                          "--filter", "container=hev", "--filter", "event=health_status",
                          "--format", "{{.Action}}", timeout=30)
        assert p.stdout_text.splitlines() == ["health_status: healthy"]
    finally:
        rm(daemon, "hev")


def test_ps_health_filter_and_pause(cli, daemon):
    cli("run", "-d", "--name", "hf1", "--health-cmd", "true", "--health-interval", "100ms", "busybox",
        "sh", "-c", FOREVER)
    cli("run", "-d", "--name", "hf2", "busybox", "sh", "-c", FOREVER)
    try:
        wait_for(lambda: inspect(daemon, "hf1")["State"]["Health"]["Status"] == "healthy")
        names = cli("ps", "--filter", "health=healthy", "--format", "{{.Names}}").stdout_text.split()
        assert "hf1" in names and "hf2" not in names
        names = cli("ps", "--filter", "health=none", "--format", "{{.Names}}").stdout_text.split()
        assert "hf2" in names and "hf1" not in names
        p = cli("ps", "--filter", "health=sick", check=False)
        assert p.returncode != 0 and "Unrecognised filter value for health: sick" in p.stderr_text
        cli("pause", "hf1")   # no probes into a frozen container
        time.sleep(0.3)
        before = inspect(daemon, "hf1")["State"]["Health"]["Log"][-1]
        time.sleep(0.5)
        assert inspect(daemon, "hf1")["State"]["Health"]["Log"][-1] == before
        cli("unpause", "hf1")
        wait_for(lambda: inspect(daemon, "hf1")["State"]["Health"]["Log"][-1] != before)
    finally:
        rm(daemon, "hf1", "hf2")


def test_healthcheck_from_the_image_timeout_and_none(daemon, tmp_path):
    from daemon_harness import busybox_rootfs_tar
    tar = busybox_rootfs_tar(tmp_path)
    daemon.docker("import", "-c", "HEALTHCHECK --interval=100ms --timeout=200ms --retries=1 CMD sleep 5",
                  "-c", 'CMD ["sh"]', str(tar), "hcimage:1")
    daemon.docker("run", "-d", "--name", "hci", "hcimage:1", "sh", "-c", FOREVER)
    daemon.docker("run", "-d", "--name", "hcn", "--no-healthcheck", "hcimage:1", "sh", "-c", FOREVER)
    daemon.docker("run", "-d", "--name", "hcc", "--health-cmd", "true", "--health-interval", "100ms",
                  "hcimage:1", "sh", "-c", FOREVER)
    try:
        doc = wait_for(lambda: (d := inspect(daemon, "hci"))["State"]["Health"]["Status"] == "unhealthy" and d)
        assert doc["Config"]["Healthcheck"]["Test"] == ["CMD-SHELL", "sleep 5"]   # shell form
        last = doc["State"]["Health"]["Log"][-1]
        assert last["ExitCode"] == -1 and last["Output"] == "Health check exceeded timeout (200ms)"
        assert "Health" not in inspect(daemon, "hcn")["State"]
        # the request's command, the image's interval
        doc = wait_for(lambda: (d := inspect(daemon, "hcc"))["State"]["Health"]["Status"] == "healthy" and d)
        assert doc["Config"]["Healthcheck"]["Test"] == ["CMD-SHELL", "true"]
        assert doc["Config"]["Healthcheck"]["Interval"] == 100_000_000
    finally:
        rm(daemon, "hci", "hcn", "hcc")
        daemon.docker("rmi", "hcimage:1", check=False)


def test_healthcheck_bad_values(daemon):
    import docker as docker_py
    client = docker_py.DockerClient(base_url=daemon.host)
    with pytest.raises(docker_py.errors.APIError) as e:
        client.api.create_container("busybox", "true", healthcheck={"Test": ["CMD", "true"], "Interval": 10})
    assert e.value.status_code == 400
    assert "Interval in Healthcheck cannot be less than 1ms" in str(e.value)
    with pytest.raises(docker_py.errors.APIError) as e:
        client.api.create_container("busybox", "true", healthcheck={"Test": ["CMD", "true"], "Retries": -1})
    assert e.value.status_code == 400 and "Retries in Healthcheck cannot be negative" in str(e.value)


# ---------------------------------------------------------------------------------- json-file rotation

def _log_files(daemon, cid: str) -> list[str]:
    return sorted(p.name.replace(cid, "ID") for p in (daemon.dir / "root" / "containers" / cid).glob("*-json.log*"))


def test_log_rotation(cli, daemon):
    cid = cli("run", "-d", "--log-opt", "max-size=1k", "--log-opt", "max-file=3", "busybox", "sh", "-c",
              "i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done").stdout_text.strip()
    try:
        assert cli("wait", cid).stdout_text == "0\n"
        assert _log_files(daemon, cid) == ["ID-json.log", "ID-json.log.1", "ID-json.log.2"]
        lines = cli("logs", cid).stdout_text.splitlines()
        nums = [int(x.split()[1]) for x in lines]
        assert nums == list(range(nums[0], 300)) and 20 < len(nums) < 60   # the newest, contiguous
        assert cli("logs", "--tail", "3", cid).stdout_text == "line 297\nline 298\nline 299\n"
        assert inspect(daemon, cid)["HostConfig"]["LogConfig"] == {
            "Type": "json-file", "Config": {"max-size": "1k", "max-file": "3"}}
    finally:
        rm(daemon, cid)


def test_logs_follow_through_rotations(daemon):
    cid = daemon.docker("run", "-d", "--log-opt", "max-size=2k", "--log-opt", "max-file=10", "busybox",
                        "sh", "-c", "i=0; while [ $i -lt 150 ]; do echo $i; i=$((i+1)); sleep 0.01; done"
                        ).stdout_text.strip()
    try:
        out = daemon.docker("logs", "-f", cid, timeout=60).stdout_text.split()
        assert [int(x) for x in out] == list(range(int(out[0]), 150)) and len(out) > 100
        assert len(_log_files(daemon, cid)) >= 3
    finally:
        rm(daemon, cid)


@pytest.mark.parametrize("opt,message", [
    ("max-size=abc", "invalid size: 'abc'"),
    ("max-size=0", "max-size must be a positive number"),
    ("max-file=0", "max-file cannot be less than 1"),
    ("colour=blue", "unknown log opt 'colour' for json-file log driver"),
])
def test_log_opt_errors(cli, opt, message):
    p = cli("run", "--rm", "--log-opt", opt, "busybox", "true", check=False)
    assert p.returncode == 125
    assert message in p.stderr_text


# ---------------------------------------------------------------------------------- daemon crash

def _counter_lines(daemon, name: str) -> list[int]:
    return [int(x) for x in daemon.docker("logs", name).stdout_text.split()]


def test_containers_survive_a_daemon_crash(daemon):
    d = daemon.docker
    names = [f"crash{i}" for i in range(5)]
    for name in names:
        d("run", "-d", "--name", name, "busybox", "sh", "-c", COUNTER)
    d("run", "-d", "--name", "dies7", "busybox", "sh", "-c", "sleep 1; exit 7")
    d("run", "-d", "--name", "always-dies", "--restart", "always", "busybox", "sh", "-c",
      "sleep 1; " + FOREVER.replace("while", "exit 1; while"))
    d("run", "-d", "--name", "always-later", "--restart", "always", "busybox", "sh", "-c", "sleep 4; exit 3")
    pids = {n: inspect(daemon, n)["State"]["Pid"] for n in names}
    time.sleep(0.5)
    daemon.kill9()
    crashed_at = time.time()
    time.sleep(7)   # long enough for the exited ones' shims to be gone too (they linger 5 s)
    for name in names:
        os.kill(pids[name], 0)   # still there without any daemon
    daemon.start()
    try:
        for name in names:
            doc = inspect(daemon, name)
            assert doc["State"]["Status"] == "running" and doc["State"]["Pid"] == pids[name]
        doc = inspect(daemon, "dies7")
        assert doc["State"]["Status"] == "exited" and doc["State"]["ExitCode"] == 7
        doc = inspect(daemon, "always-dies")   # died while nobody watched: started again by the daemon
        assert doc["State"]["Status"] in ("running", "restarting")
        assert doc["State"]["StartedAt"] > time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(crashed_at))
        # a re-adopted container's next exit still follows its policy
        wait_for(lambda: inspect(daemon, "always-later")["RestartCount"] >= 1, timeout=20)
        time.sleep(0.5)
        for name in names:
            d("stop", name)
            assert inspect(daemon, name)["State"]["ExitCode"] == 0
            seq = _counter_lines(daemon, name)
            assert seq == list(range(len(seq))) and len(seq) > 100   # no gap while the daemon was away
        assert d("logs", "dies7").stdout_text == ""
    finally:
        rm(daemon, *names, "dies7", "always-dies", "always-later")


# ---------------------------------------------------------------------------------- shim memory

def _mergeable(pid: int) -> bool:
    return any(line.startswith("VmFlags:") and " mg" in line
               for line in Path(f"/proc/{pid}/smaps").read_text().splitlines())


def test_shim_memory_is_mergeable_but_not_the_containers(daemon):
    cid = daemon.docker("run", "-d", "busybox", "sh", "-c", FOREVER).stdout_text.strip()
    try:
        shim_pid = int((daemon.dir / "exec" / "s" / cid[:24] / "shim.pid").read_text())
        wait_for(lambda: _mergeable(shim_pid))
        assert not _mergeable(inspect(daemon, cid)["State"]["Pid"])
        # an exec is forked by the shim, then execs: it starts unmerged too
        out = daemon.docker("exec", cid, "sh", "-c", "grep -c ' mg' /proc/self/smaps || true").stdout_text
        assert out.strip() == "0"
    finally:
        rm(daemon, cid)
