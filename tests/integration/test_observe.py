"""Observing and adjusting running containers: events, stats, top, pause/unpause, rename, update, port.

Driven through the real docker CLI and dockyard's own (the `cli` fixture), docker-py, and raw HTTP
for the status codes.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import docker
import pytest

# written aside then renamed: a freeze between truncate and write would leave /tmp/n empty while paused
COUNTER = 'i=0; while :; do i=$((i+1)); echo $i > /tmp/n.new; mv /tmp/n.new /tmp/n; sleep 0.05; done'


@pytest.fixture(params=["docker", "dockyard"])
def cli(request, daemon):
    return daemon.docker if request.param == "docker" else daemon.dockyard


@pytest.fixture()
def client(daemon):
    c = docker.DockerClient(base_url=daemon.host, timeout=60)
    yield c
    c.close()


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.path)


def call(daemon, method, url, body=None):
    conn = UnixHTTP(str(daemon.socket))
    conn.request(method, url, body=json.dumps(body) if body is not None else None,
                 headers={"Content-Type": "application/json"} if body is not None else {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, (json.loads(data) if data.strip() else None)


def _cgroup_file(pid: int, controller: str, name: str) -> str:
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        if controller in ctrls.split(","):
            return (Path("/sys/fs/cgroup") / ctrls / path.lstrip("/") / name).read_text().strip()
    raise AssertionError(f"{controller} not found for {pid}")


def _pid(cli, name: str) -> int:
    return int(cli("inspect", "-f", "{{.State.Pid}}", name).stdout_text)


def _counter(cli, name: str) -> int:
    for _ in range(50):
        p = cli("exec", name, "cat", "/tmp/n", check=False)
        if p.returncode == 0 and p.stdout_text.strip():
            return int(p.stdout_text)
        time.sleep(0.1)
    raise AssertionError(f"no counter in {name}: {p.stderr_text}")


def _counter_from_host(cli, name: str) -> int:
    """Read the counter through /proc/<pid>/root: works while the container is frozen."""
    root = Path(f"/proc/{_pid(cli, name)}/root")
    for _ in range(50):
        text = (root / "tmp" / "n").read_text().strip() if (root / "tmp" / "n").exists() else ""
        if text:
            return int(text)
        time.sleep(0.1)
    raise AssertionError("no counter")


# ------------------------------------------------------------------ events

def test_events_since_until_filters_and_format(cli):
    start = time.time()
    cli("run", "--name", "ev1", "--label", "com.example.app=ev", "busybox", "true")
    cli("rm", "ev1")
    until = time.time() + 0.5
    since = f"{start - 0.002:.3f}"
    p = cli("events", "--since", since, "--until", f"{until:.3f}", "--filter", "container=ev1",
            "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")
    lines = p.stdout_text.splitlines()
    assert lines[:4] == ["container create ev1", "container start ev1", "container die ev1",
                         "container destroy ev1"], lines
    # the default rendering: time, type, action, id, (sorted attributes)
    p = cli("events", "--since", since, "--until", f"{until:.3f}", "--filter", "event=die",
            "--filter", "label=com.example.app=ev")
    (line,) = p.stdout_text.splitlines()
    assert " container die " in line and "com.example.app=ev" in line and "exitCode=0" in line
    assert "image=busybox" in line and "name=ev1" in line
    # json: the wire message itself
    p = cli("events", "--since", since, "--until", f"{until:.3f}", "--filter", "event=destroy",
            "--filter", "container=ev1", "--format", "json")
    msg = json.loads(p.stdout_text)
    assert msg["Type"] == "container" and msg["status"] == "destroy" and msg["from"] == "busybox"
    assert msg["scope"] == "local" and msg["timeNano"] // 10**9 == msg["time"]


def test_events_bad_since(cli, daemon):
    p = cli("events", "--since", "yesterday-ish", check=False)
    assert p.returncode == 1 and "yesterday-ish" in p.stderr_text
    status, body = call(daemon, "GET", "/v1.50/events?since=bogus")
    assert status == 400
    assert body["message"] == "invalid value for 'since': invalid timestamp \"bogus\": invalid seconds \"bogus\": invalid syntax"
    status, body = call(daemon, "GET", "/v1.50/events?since=200&until=100")
    assert status == 400 and "cannot be after `until`" in body["message"]


def test_events_stream_live_with_docker_py(client):
    got: list[dict] = []
    stream = client.events(decode=True, filters={"label": "com.docker.compose.project=obs",
                                                 "type": "container"},
                           until=int(time.time()) + 20)

    def read():
        for ev in stream:
            got.append(ev)
            if ev["Action"] == "destroy":
                break

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(0.3)
    client.containers.run("busybox", ["sh", "-c", "exit 3"], labels={"com.docker.compose.project": "obs"},
                          name="evpy", detach=True).wait()
    client.containers.run("busybox", "true", name="evpy-other", remove=True)  # filtered out
    client.containers.get("evpy").remove()
    reader.join(15)
    stream.close()
    assert [e["Action"] for e in got] == ["create", "start", "die", "destroy"]
    die = got[2]
    assert die["Actor"]["Attributes"]["exitCode"] == "3" and die["Actor"]["Attributes"]["name"] == "evpy"
    assert all(e["Actor"]["Attributes"]["com.docker.compose.project"] == "obs" for e in got)


def test_events_until_in_the_future_closes_the_stream(client):
    began = time.time()
    events = list(client.events(decode=True, since=int(began) - 1, until=int(began) + 2,
                                filters={"event": "no-such-action"}))
    assert events == [] and 0.5 < time.time() - began < 10


# ------------------------------------------------------------------ stats

def test_stats_no_stream_table(cli):
    cli("run", "-d", "--name", "st1", "-m", "64m", "busybox", "sh", "-c", "while :; do :; done")
    try:
        p = cli("stats", "--no-stream", "st1")
        header, row = p.stdout_text.splitlines()
        assert header.split() == ["CONTAINER", "ID", "NAME", "CPU", "%", "MEM", "USAGE", "/", "LIMIT", "MEM", "%",
                                  "NET", "I/O", "BLOCK", "I/O", "PIDS"]
        fields = row.split()
        assert fields[1] == "st1"
        cpu = float(fields[2].rstrip("%"))
        assert 20.0 < cpu < 250.0, row  # a busy loop on a 2-core machine
        assert fields[5] == "64MiB" and fields[3].endswith(("KiB", "MiB"))
        assert fields[-1] == "1"
        p = cli("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{.MemUsage}}", "st1")
        assert p.stdout_text.startswith("st1 1 ") and p.stdout_text.rstrip().endswith("/ 64MiB")
        p = cli("stats", "--no-stream", "--format", "json", "st1")
        assert json.loads(p.stdout_text)["Name"] == "st1"
    finally:
        cli("rm", "-f", "st1")


def test_stats_of_stopped_and_missing_containers(cli):
    cli("create", "--name", "st2", "busybox", "true")
    try:
        p = cli("stats", "--no-stream", "--format", "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}", "st2")
        assert p.stdout_text == "st2|0.00%|0B / 0B|0\n"
        p = cli("stats", "--no-stream", "no-such-ctr", check=False)
        assert p.returncode == 1 and "No such container: no-such-ctr" in p.stderr_text
    finally:
        cli("rm", "-f", "st2")


def test_stats_live_table_refreshes(daemon):
    """The live table: redrawn in place (cursor home, erase line) with new figures."""
    daemon.docker("run", "-d", "--name", "st3", "busybox", "sh", "-c", "while :; do :; done")
    try:
        for cmd in ([sys.executable, "-m", "dockyard.cli", "-H", daemon.host, "stats", "st3"],
                    ["docker", "stats", "st3"]):
            proc = subprocess.Popen(cmd, env=daemon.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(3)
            proc.kill()  # the docker CLI only marks its rows invalid on the first SIGTERM/SIGINT
            out, _ = proc.communicate(timeout=10)
            text = out.decode()
            frames = [f for f in text.split("\x1b[H") if "st3" in f]
            assert len(frames) >= 3, text
            assert "\x1b[K" in text and "\x1b[J" in text
            last = [line for line in frames[-1].splitlines() if "st3" in line][0]
            assert float(last.split()[2].rstrip("%")) > 20.0, last
    finally:
        daemon.docker("rm", "-f", "st3")


def _live_frames(daemon, cmd: list[str], during) -> list[list[str]]:
    """Run a live `stats` while `during()` runs; the NAME column of each redrawn table."""
    proc = subprocess.Popen(cmd, env=daemon.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1.5)
        during()
        time.sleep(2.5)
    finally:
        proc.kill()
        out, _ = proc.communicate(timeout=10)
    frames = []
    for frame in out.decode().split("\x1b[H"):
        rows = [line.split()[1] for line in frame.replace("\x1b[K", "").replace("\x1b[J", "").splitlines()
                if line.strip() and not line.startswith("CONTAINER") and len(line.split()) > 1]
        frames.append(rows)
    return frames


def test_stats_without_names_follows_events(daemon):
    """No names: the running containers, joined by those that start, left by those that die."""
    for n, cmd in enumerate(([sys.executable, "-m", "dockyard.cli", "-H", daemon.host, "stats"],
                             ["docker", "stats"])):
        daemon.docker("run", "-d", "--name", f"sa{n}", "busybox", "sleep", "300")

        def during(n=n):
            daemon.docker("run", "-d", "--name", f"sb{n}", "busybox", "sleep", "300")
            time.sleep(1.5)
            daemon.docker("kill", f"sa{n}")

        try:
            frames = _live_frames(daemon, cmd, during)
            seen = [f for f in frames if f]
            assert [f"sa{n}"] in seen and [f"sb{n}"] == seen[-1], seen
            assert any(sorted(f) == sorted([f"sa{n}", f"sb{n}"]) for f in seen), seen
        finally:
            daemon.docker("rm", "-f", f"sa{n}", f"sb{n}")


def test_stats_docker_py_shapes(client):
    c = client.containers.run("busybox", ["sh", "-c", "while :; do :; done"], detach=True, name="st4",
                              mem_limit="32m", pids_limit=40)
    try:
        s = c.stats(stream=False)
        assert s["name"] == "/st4" and s["id"] == c.id
        assert s["read"] != "0001-01-01T00:00:00Z" and s["preread"] != "0001-01-01T00:00:00Z"
        cpu, pre = s["cpu_stats"], s["precpu_stats"]
        assert cpu["cpu_usage"]["total_usage"] > pre["cpu_usage"]["total_usage"] > 0
        assert cpu["system_cpu_usage"] > pre["system_cpu_usage"] and cpu["online_cpus"] >= 1
        assert {"usage_in_kernelmode", "usage_in_usermode", "percpu_usage"} <= set(cpu["cpu_usage"])
        assert set(cpu["throttling_data"]) == {"periods", "throttled_periods", "throttled_time"}
        mem = s["memory_stats"]
        assert mem["limit"] == 32 << 20 and 0 < mem["usage"] <= mem["max_usage"] and "stats" in mem
        assert s["pids_stats"] == {"current": 1, "limit": 40}
        assert "io_service_bytes_recursive" in s["blkio_stats"] and s["num_procs"] == 0
        one = c.stats(stream=False, one_shot=True)
        assert one["precpu_stats"]["cpu_usage"]["total_usage"] == 0 and one["preread"].startswith("0001-")
        frames = c.stats(stream=True, decode=True)
        first, second = next(frames), next(frames)
        frames.close()
        assert second["precpu_stats"]["cpu_usage"]["total_usage"] == first["cpu_stats"]["cpu_usage"]["total_usage"]
        assert second["preread"] == first["read"]
        c.kill()
        s = c.stats(stream=False)
        assert s["read"] == "0001-01-01T00:00:00Z" and s["memory_stats"] == {} and s["pids_stats"] == {}
    finally:
        c.remove(force=True)


def test_stats_stream_and_one_shot_conflict(daemon):
    daemon.docker("create", "--name", "st5", "busybox", "true")
    try:
        status, body = call(daemon, "GET", "/v1.50/containers/st5/stats?stream=1&one-shot=1")
        assert status == 400 and body["message"] == "cannot have stream=true and one-shot=true"
        status, _ = call(daemon, "GET", "/v1.50/containers/nope/stats?stream=0")
        assert status == 404
    finally:
        daemon.docker("rm", "st5")


# ------------------------------------------------------------------ top

def test_top(cli, daemon):
    cli("run", "-d", "--name", "top1", "busybox", "sh", "-c", "sleep 300 & sleep 301; true")
    try:
        time.sleep(0.3)
        p = cli("top", "top1")
        lines = p.stdout_text.splitlines()
        assert lines[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        cmds = [line.split(None, 7)[7] for line in lines[1:]]
        # ps cuts lines at 80 columns when its output is not a terminal (dockerd's ps does too)
        assert sorted(c[:12] for c in cmds) == ["sh -c sleep ", "sleep 300", "sleep 301"], cmds
        p = cli("top", "top1", "-o", "pid,comm")
        assert p.stdout_text.splitlines()[0].split() == ["PID", "COMMAND"]
        assert sorted(line.split()[1] for line in p.stdout_text.splitlines()[1:]) == ["sh", "sleep", "sleep"]
        status, body = call(daemon, "GET", "/v1.50/containers/top1/top?ps_args=-o%20user=PID")
        assert status == 400 and 'specifying "user=PID" is not allowed' in body["message"]
        cli("kill", "top1")
        p = cli("top", "top1", check=False)
        assert p.returncode == 1 and "is not running" in p.stderr_text
        status, body = call(daemon, "GET", "/v1.50/containers/top1/top")
        assert status == 409
    finally:
        cli("rm", "-f", "top1")


# ------------------------------------------------------------------ pause / unpause

def test_pause_freezes_and_unpause_thaws(cli):
    cli("run", "-d", "--name", "pz1", "busybox", "sh", "-c", COUNTER)
    try:
        _counter(cli, "pz1")
        assert cli("pause", "pz1").stdout_text == "pz1\n"
        assert cli("inspect", "-f", "{{.State.Status}} {{.State.Paused}} {{.State.Running}}", "pz1").stdout_text \
            == "paused true true\n"
        status = cli("ps", "--filter", "name=pz1", "--format", "{{.Status}}").stdout_text.strip()
        assert status.startswith("Up ") and status.endswith("(Paused)")
        assert _cgroup_file(_pid(cli, "pz1"), "freezer", "freezer.state") == "FROZEN"
        frozen = _counter_from_host(cli, "pz1")
        time.sleep(0.5)
        assert _counter_from_host(cli, "pz1") == frozen  # no progress while paused
        p = cli("pause", "pz1", check=False)
        assert p.returncode == 1 and "is already paused" in p.stderr_text
        cli("unpause", "pz1")
        assert cli("inspect", "-f", "{{.State.Status}}", "pz1").stdout_text == "running\n"
        time.sleep(0.5)
        assert _counter_from_host(cli, "pz1") > frozen
        p = cli("unpause", "pz1", check=False)
        assert p.returncode == 1 and "is not paused" in p.stderr_text
    finally:
        cli("rm", "-f", "pz1")


def test_stop_kill_and_rm_of_a_paused_container(cli):
    cli("run", "-d", "--name", "pz2", "busybox", "sh", "-c", 'trap "exit 7" TERM; while :; do sleep 0.1; done')
    cli("run", "-d", "--name", "pz3", "busybox", "sleep", "300")
    cli("run", "-d", "--name", "pz4", "busybox", "sleep", "300")
    try:
        time.sleep(0.3)
        cli("pause", "pz2", "pz3", "pz4")
        started = time.time()
        cli("stop", "pz2")
        assert time.time() - started < 8  # TERM reached the trap once thawed
        assert cli("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "pz2").stdout_text == "exited 7\n"
        cli("kill", "pz3")
        assert cli("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "pz3").stdout_text == "exited 137\n"
        cli("rm", "-f", "pz4")
        assert "pz4" not in cli("ps", "-a", "--format", "{{.Names}}").stdout_text.split()
    finally:
        cli("rm", "-f", "pz2", "pz3", "pz4", check=False)


def test_pause_errors_and_status_codes(daemon, cli):
    cli("create", "--name", "pz5", "busybox", "true")
    try:
        p = cli("pause", "pz5", check=False)
        assert p.returncode == 1 and "is not running" in p.stderr_text
        status, body = call(daemon, "POST", "/v1.50/containers/pz5/pause")
        assert status == 409 and body["message"].startswith("container ") and "is not running" in body["message"]
        status, body = call(daemon, "POST", "/v1.50/containers/pz5/unpause")
        # moby returns this one as a plain error: 500
        assert status == 500 and body["message"].endswith("is not paused")
        status, _ = call(daemon, "POST", "/v1.50/containers/nope/pause")
        assert status == 404
        status, body = call(daemon, "POST", "/v1.50/containers/pz5/kill?signal=NOPE")
        assert status == 400 and body["message"] == "Invalid signal: NOPE"
    finally:
        cli("rm", "-f", "pz5")


def test_paused_container_survives_a_daemon_crash(daemon):
    daemon.docker("run", "-d", "--name", "pz7", "busybox", "sh", "-c", COUNTER)
    try:
        _counter(daemon.docker, "pz7")
        daemon.docker("pause", "pz7")
        daemon.kill9()
        daemon.start()
        assert daemon.docker("inspect", "-f", "{{.State.Status}}", "pz7").stdout_text == "paused\n"
        frozen = _counter_from_host(daemon.docker, "pz7")
        time.sleep(0.3)
        assert _counter_from_host(daemon.docker, "pz7") == frozen
        daemon.docker("unpause", "pz7")
        time.sleep(0.5)
        assert _counter_from_host(daemon.docker, "pz7") > frozen
    finally:
        daemon.docker("rm", "-f", "pz7")


def test_pause_with_docker_py(client):
    c = client.containers.run("busybox", ["sleep", "300"], detach=True, name="pz6")
    try:
        c.pause()
        c.reload()
        assert c.status == "paused" and c.attrs["State"]["Paused"] is True
        with pytest.raises(docker.errors.APIError) as e:
            c.pause()
        assert e.value.status_code == 409
        c.unpause()
        c.reload()
        assert c.status == "running"
    finally:
        c.remove(force=True)


# ------------------------------------------------------------------ rename

def test_rename(cli, daemon):
    cli("run", "-d", "--name", "rn1", "busybox", "sleep", "300")
    cli("create", "--name", "rn2", "busybox", "true")
    try:
        cid = cli("inspect", "-f", "{{.Id}}", "rn1").stdout_text.strip()
        since = f"{time.time() - 0.002:.3f}"
        cli("rename", "rn1", "rn1-new")
        assert cli("inspect", "-f", "{{.Name}}", cid).stdout_text == "/rn1-new\n"
        assert "rn1-new" in cli("ps", "--format", "{{.Names}}").stdout_text.split()
        p = cli("events", "--since", since, "--until", f"{time.time() + 0.3:.3f}", "--filter", "event=rename",
                "--format", "{{.Actor.Attributes.oldName}} {{.Actor.Attributes.name}}")
        assert p.stdout_text == "/rn1 rn1-new\n"
        p = cli("rename", "rn1-new", "rn2", check=False)
        assert p.returncode == 1 and 'The container name "/rn2" is already in use' in p.stderr_text
        assert "failed to rename container named rn1-new" in p.stderr_text
        p = cli("rename", "rn1-new", "rn1-new", check=False)
        assert p.returncode == 1 and "same name as its current name" in p.stderr_text
        status, _ = call(daemon, "POST", "/v1.50/containers/rn1-new/rename?name=rn2")
        assert status == 409
        status, body = call(daemon, "POST", "/v1.50/containers/rn1-new/rename?name=bad%20name")
        assert status == 400 and "Invalid container name (/bad name)" in body["message"]
        status, body = call(daemon, "POST", "/v1.50/containers/rn1-new/rename?name=")
        assert status == 400 and body["message"] == "Neither old nor new names may be empty"
        # the old name is free again
        cli("create", "--name", "rn1", "busybox", "true")
        cli("rm", "rn1")
    finally:
        cli("rm", "-f", "rn1-new", "rn2", "rn1", check=False)


# ------------------------------------------------------------------ update

def test_update_reaches_the_cgroup_and_the_record(cli):
    cli("run", "-d", "--name", "up1", "-m", "64m", "busybox", "sleep", "300")
    try:
        pid = _pid(cli, "up1")
        assert cli("update", "--memory", "96m", "--cpus", "0.5", "--cpu-shares", "256", "--pids-limit", "33",
                   "--restart", "on-failure:2", "up1").stdout_text == "up1\n"
        assert _cgroup_file(pid, "memory", "memory.limit_in_bytes") == str(96 << 20)
        assert _cgroup_file(pid, "cpu", "cpu.cfs_quota_us") == "50000"
        assert _cgroup_file(pid, "cpu", "cpu.shares") == "256"
        assert _cgroup_file(pid, "pids", "pids.max") == "33"
        hc = json.loads(cli("inspect", "-f", "{{json .HostConfig}}", "up1").stdout_text)
        assert (hc["Memory"], hc["NanoCpus"], hc["CpuShares"], hc["PidsLimit"]) == (96 << 20, 5 * 10**8, 256, 33)
        assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
        cli("update", "--pids-limit", "-1", "up1")
        assert _cgroup_file(pid, "pids", "pids.max") == "max"
        p = cli("update", "--cpu-period", "50000", "up1", check=False)
        assert p.returncode == 1 and "CPU Period cannot be updated as NanoCPUs has already been set" in p.stderr_text
        p = cli("update", "up1", check=False)
        assert p.returncode == 1 and "you must provide one or more flags" in p.stderr_text
        p = cli("update", "--memory", "1k", "up1", check=False)
        assert p.returncode == 1 and "Minimum memory limit allowed is 6MB" in p.stderr_text
        # the update survives a restart: the next bundle is made from the saved HostConfig
        cli("restart", "-t", "0", "up1")
        assert _cgroup_file(_pid(cli, "up1"), "memory", "memory.limit_in_bytes") == str(96 << 20)
    finally:
        cli("rm", "-f", "up1")


def test_updated_restart_policy_is_followed(daemon):
    daemon.docker("run", "-d", "--name", "up3", "busybox", "sh", "-c",
                  "while [ ! -e /tmp/go ]; do sleep 0.1; done; rm /tmp/go; exit 3")
    try:
        daemon.docker("update", "--restart", "on-failure:1", "up3")
        daemon.docker("exec", "up3", "touch", "/tmp/go")
        for _ in range(100):
            state = daemon.docker("inspect", "-f", "{{.RestartCount}} {{.State.Status}}", "up3").stdout_text.split()
            if state == ["1", "running"]:
                break
            time.sleep(0.1)
        assert state == ["1", "running"]
    finally:
        daemon.docker("rm", "-f", "up3")


def test_update_with_docker_py_and_stopped_container(client):
    c = client.containers.create("busybox", ["sleep", "300"], name="up2")
    try:
        c.update(cpu_shares=512, mem_limit="48m", memswap_limit="96m", restart_policy={"Name": "always"})
        c.reload()
        hc = c.attrs["HostConfig"]
        assert (hc["CpuShares"], hc["Memory"], hc["MemorySwap"]) == (512, 48 << 20, 96 << 20)
        assert hc["RestartPolicy"]["Name"] == "always"
        c.start()
        c.reload()
        pid = c.attrs["State"]["Pid"]
        assert _cgroup_file(pid, "memory", "memory.limit_in_bytes") == str(48 << 20)
        assert _cgroup_file(pid, "cpu", "cpu.shares") == "512"
        with pytest.raises(docker.errors.APIError) as e:
            c.update(mem_limit="200m")  # above memory+swap without raising it: Docker's conflict
        assert e.value.status_code == 409
    finally:
        c.remove(force=True)


# ------------------------------------------------------------------ port

def test_port_without_published_ports(cli):
    cli("run", "-d", "--name", "pt1", "busybox", "sleep", "300")
    try:
        assert cli("port", "pt1").stdout_text == ""
        p = cli("port", "pt1", "80", check=False)
        assert p.returncode == 1 and "No public port '80' published for pt1" in p.stderr_text
    finally:
        cli("rm", "-f", "pt1")
