"""Exec and attach through the docker CLI, dockyard's CLI, docker-py and the raw Engine API.

Docker's answers (status codes, messages, exit codes) were checked against dockerd;
where dockerd 20.10 and current moby differ (127 for a missing command), current moby wins.
"""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import time

import docker
import pytest

NOSUCH = ('OCI runtime exec failed: exec failed: unable to start container process: '
          'exec: "nosuch": executable file not found in $PATH: unknown')


@pytest.fixture(params=["docker", "dockyard"])
def cli(request, daemon):
    return daemon.docker if request.param == "docker" else daemon.dockyard


@pytest.fixture(scope="module")
def box(daemon):
    """A running container that sleeps (TERM ends it at once)."""
    cid = daemon.docker("run", "-d", "--name", "exec-box", "busybox", "sh", "-c",
                        'trap "exit 0" TERM; while :; do sleep 1; done').stdout_text.strip()
    yield cid
    daemon.docker("rm", "-f", cid, check=False)


@pytest.fixture(scope="module")
def api(daemon):
    return docker.APIClient(base_url=daemon.host, version="1.50")


# -- raw HTTP ------------------------------------------------------------------------------------

def request(daemon, method: str, path: str, body=None, *, upgrade: bool = False,
            timeout: float = 20) -> tuple[int, dict[str, str], bytes, socket.socket]:
    """One request on its own connection; returns (status, headers, body read so far, socket)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(str(daemon.socket))
    data = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: d\r\nContent-Length: {len(data)}\r\n"
    head += "Content-Type: application/json\r\n" if body is not None else ""
    head += "Connection: Upgrade\r\nUpgrade: tcp\r\n" if upgrade else ""
    s.sendall(head.encode() + b"\r\n" + data)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    head_raw, _, rest = buf.partition(b"\r\n\r\n")
    lines = head_raw.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if status != 101 and "content-length" in headers:
        while len(rest) < int(headers["content-length"]):
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
    return status, headers, rest, s


def call(daemon, method: str, path: str, body=None) -> tuple[int, object]:
    status, headers, data, s = request(daemon, method, path, body)
    s.close()
    doc = json.loads(data) if data.strip() and "json" in headers.get("content-type", "") else data
    return status, doc


def read_all(s: socket.socket, initial: bytes = b"", timeout: float = 20) -> bytes:
    out, deadline = initial, time.time() + timeout
    while time.time() < deadline:
        try:
            chunk = s.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        out += chunk
    return out


def demux(data: bytes) -> list[tuple[int, bytes]]:
    frames = []
    while len(data) >= 8:
        stream, size = struct.unpack(">BxxxI", data[:8])
        frames.append((stream, data[8:8 + size]))
        data = data[8 + size:]
    return frames


# -- the CLIs ------------------------------------------------------------------------------------

def test_exec_output_env_workdir_user(cli, box):
    p = cli("exec", "-e", "X=1", "-w", "/tmp", "-u", "nobody", box, "sh", "-c", 'echo $X $(pwd) $(id -u)')
    assert p.stdout_text == "1 /tmp 65534\n"
    p = cli("exec", box, "sh", "-c", "echo out; echo err >&2")
    assert p.stdout_text == "out\n" and p.stderr_text == "err\n"


def test_exec_exit_codes(cli, box):
    assert cli("exec", box, "sh", "-c", "exit 7", check=False).returncode == 7
    p = cli("exec", box, "nosuch", check=False)
    assert p.returncode == 127
    assert NOSUCH in p.stdout_text + p.stderr_text
    p = cli("exec", box, "/etc/passwd", check=False)
    assert p.returncode == 126 and "permission denied" in p.stdout_text + p.stderr_text
    p = cli("exec", "-u", "nosuchuser", box, "id", check=False)
    assert p.returncode == 126
    assert "unable to find user nosuchuser: no matching entries in passwd file" in p.stdout_text + p.stderr_text


def test_exec_stdin(cli, box):
    assert cli("exec", "-i", box, "cat", input=b"piped\n").stdout_text == "piped\n"
    # without -i the process gets no stdin (EOF at once)
    assert cli("exec", box, "cat", input=b"ignored\n").stdout_text == ""


def test_exec_shares_namespaces_and_cgroup(cli, box):
    script = ('for n in cgroup ipc mnt net pid uts; do '
              '[ "$(readlink /proc/1/ns/$n)" = "$(readlink /proc/self/ns/$n)" ] || echo "ns $n differs"; done; '
              '[ "$(cat /proc/1/cgroup)" = "$(cat /proc/self/cgroup)" ] || echo cgroup differs; '
              'tr "\\0" " " < /proc/1/cmdline')
    assert cli("exec", box, "sh", "-c", script).stdout_text.startswith("sh -c trap")


def _host_lacks_capabilities() -> bool:
    """Some VMs give root fewer capabilities than the kernel knows (no CAP_SYS_RESOURCE here):
    there --privileged fails, under dockerd too ("unable to apply caps: operation not permitted")."""
    bounding = int(next(line for line in open("/proc/self/status") if line.startswith("CapBnd")).split()[1], 16)
    last = int(open("/proc/sys/kernel/cap_last_cap").read())
    return bounding != (1 << (last + 1)) - 1


def test_exec_privileged_off_by_default(cli, box):
    script = "grep CapEff /proc/self/status"
    init = cli("exec", box, "sh", "-c", "grep CapEff /proc/1/status").stdout_text.split()[1]
    assert cli("exec", box, "sh", "-c", script).stdout_text.split()[1] == init == "00000000a80425fb"
    p = cli("exec", "--privileged", box, "sh", "-c", script, check=False)
    if _host_lacks_capabilities():
        assert p.returncode == 126 and "operation not permitted" in p.stdout_text
    else:
        assert int(p.stdout_text.split()[1], 16) > int(init, 16)


def test_exec_detached_runs_and_is_listed(cli, daemon, box):
    assert cli("exec", "-d", box, "sleep", "3").returncode == 0
    ids = json.loads(daemon.docker("inspect", "-f", "{{json .ExecIDs}}", box).stdout_text)
    assert ids and len(ids) >= 1
    assert "sleep 3" in cli("exec", box, "ps", "-o", "args").stdout_text
    status, doc = call(daemon, "GET", f"/exec/{ids[0]}/json")
    assert status == 200 and doc["Running"] is True and doc["ExitCode"] is None and doc["Pid"] > 0


def test_exec_into_stopped_or_missing_container(cli, daemon):
    cid = daemon.docker("create", "busybox", "true").stdout_text.strip()
    try:
        p = cli("exec", cid, "true", check=False)
        assert p.returncode != 0
        assert f"Container {cid} is not running" in p.stderr_text
    finally:
        daemon.docker("rm", cid)
    p = cli("exec", "no-such-box", "true", check=False)
    assert p.returncode == 1 and "No such container: no-such-box" in p.stderr_text


def test_docker_attach_to_a_running_container(daemon):
    cid = daemon.docker("run", "-d", "busybox", "sh", "-c",
                        'trap "exit 0" TERM; i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.1; done'
                        ).stdout_text.strip()
    try:
        for tool in (daemon.docker, daemon.dockyard):
            argv = tool("version", check=False).args[:-1]  # the command line of that CLI
            p = subprocess.Popen([*argv, "attach", "--no-stdin", "--sig-proxy=false", cid],
                                 env=daemon.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                line = p.stdout.readline()
                assert line.startswith(b"tick "), line
            finally:
                p.kill()
                p.wait()
        assert daemon.docker("inspect", "-f", "{{.State.Running}}", cid).stdout_text.strip() == "true"
        daemon.docker("stop", cid)
        # attach to a stopped container is refused (409) and the CLIs say so
        for tool in (daemon.docker, daemon.dockyard):
            p = tool("attach", cid, check=False)
            assert p.returncode == 1
            assert "You cannot attach to a stopped container, start it first" in p.stderr_text
    finally:
        daemon.docker("rm", "-f", cid)


def test_pipe_into_run_i_still_works(cli):
    assert cli("run", "--rm", "-i", "busybox", "cat", input=b"x\n").stdout_text == "x\n"


# -- the API -------------------------------------------------------------------------------------

def test_exec_api_lifecycle(daemon, box):
    status, doc = call(daemon, "POST", f"/v1.50/containers/{box}/exec",
                       {"Cmd": ["sh", "-c", "echo hi; exit 3"], "AttachStdout": True, "AttachStderr": True})
    assert status == 201
    eid = doc["Id"]
    status, doc = call(daemon, "GET", f"/v1.50/exec/{eid}/json")
    assert status == 200
    assert doc == {"ID": eid, "Running": False, "ExitCode": None, "Pid": 0, "ContainerID": box,
                   "ProcessConfig": {"tty": False, "entrypoint": "sh", "arguments": ["-c", "echo hi; exit 3"],
                                     "privileged": False},
                   "OpenStdin": False, "OpenStdout": True, "OpenStderr": True, "CanRemove": False,
                   "DetachKeys": ""}
    assert eid in json.loads(daemon.docker("inspect", "-f", "{{json .ExecIDs}}", box).stdout_text)
    status, headers, rest, s = request(daemon, "POST", f"/v1.50/exec/{eid}/start", {"Detach": False, "Tty": False},
                                       upgrade=True)
    assert status == 101 and headers["content-type"] == "application/vnd.docker.multiplexed-stream"
    assert demux(read_all(s, rest)) == [(1, b"hi\n")]
    s.close()
    # the exit code is known as soon as the stream has ended
    status, doc = call(daemon, "GET", f"/v1.50/exec/{eid}/json")
    assert doc["ExitCode"] == 3 and doc["Running"] is False and doc["Pid"] > 0
    assert eid not in (json.loads(daemon.docker("inspect", "-f", "{{json .ExecIDs}}", box).stdout_text) or [])
    status, doc = call(daemon, "POST", f"/v1.50/exec/{eid}/start", {"Detach": True})
    assert status == 409 and doc["message"] == f"Error: Exec command {eid} has already run"


def test_exec_start_detached_and_twice(daemon, box):
    _, doc = call(daemon, "POST", f"/containers/{box}/exec", {"Cmd": ["sleep", "2"]})
    eid = doc["Id"]
    status, _ = call(daemon, "POST", f"/exec/{eid}/start", {"Detach": True})
    assert status == 200
    status, doc = call(daemon, "POST", f"/exec/{eid}/start", {"Detach": True})
    assert status == 409 and doc["message"] == f"Error: Exec command {eid} is already running"
    status, doc = call(daemon, "GET", f"/exec/{eid}/json")
    assert doc["Running"] is True and doc["Pid"] > 0
    # resizing an exec without a tty is accepted and does nothing, as in dockerd
    assert call(daemon, "POST", f"/exec/{eid}/resize?h=10&w=10")[0] == 200


def test_exec_missing_command_detached(daemon, box):
    _, doc = call(daemon, "POST", f"/containers/{box}/exec", {"Cmd": ["nosuch"]})
    status, err = call(daemon, "POST", f"/exec/{doc['Id']}/start", {"Detach": True})
    assert status == 400 and err["message"] == NOSUCH
    assert call(daemon, "GET", f"/exec/{doc['Id']}/json")[1]["ExitCode"] == 127


def test_exec_tty_stream_and_resize(daemon, box):
    _, doc = call(daemon, "POST", f"/containers/{box}/exec",
                  {"Cmd": ["sh", "-c", "read x; stty size; tty"], "Tty": True, "AttachStdin": True,
                   "AttachStdout": True, "ConsoleSize": [20, 70]})
    eid = doc["Id"]
    status, headers, rest, s = request(daemon, "POST", f"/exec/{eid}/start", {"Detach": False, "Tty": True},
                                       upgrade=True)
    assert status == 101 and headers["content-type"] == "application/vnd.docker.raw-stream"
    assert call(daemon, "POST", f"/exec/{eid}/resize?h=33&w=99")[0] == 200
    s.sendall(b"go\r")
    out = read_all(s, rest)
    s.close()
    assert b"33 99\r\n/dev/pts/" in out, out
    assert call(daemon, "POST", f"/exec/{eid}/resize?h=10&w=10")[0] == 500  # finished


def test_exec_bad_input(daemon, box):
    cid = daemon.docker("create", "busybox", "true").stdout_text.strip()
    try:
        status, doc = call(daemon, "POST", f"/containers/{cid}/exec", {"Cmd": ["true"]})
        assert status == 409 and doc["message"] == f"Container {cid} is not running"
    finally:
        daemon.docker("rm", cid)
    status, doc = call(daemon, "POST", "/containers/no-such-box/exec", {"Cmd": ["true"]})
    assert status == 404 and doc["message"] == "No such container: no-such-box"
    status, doc = call(daemon, "POST", f"/containers/{box}/exec", {"Cmd": []})
    assert status == 400 and doc["message"] == "No exec command specified"
    status, doc = call(daemon, "POST", f"/containers/{box}/exec", {"Cmd": ["true"], "DetachKeys": "foo"})
    assert status == 400 and doc["message"] == "Invalid escape keys (foo) provided"
    for path in ("/exec/deadbeef/start", "/v1.41/exec/deadbeef/start"):
        status, doc = call(daemon, "POST", path, {"Detach": False})
        assert status == 404 and doc["message"] == "No such exec instance: deadbeef"
    status, headers, _, s = request(daemon, "POST", "/exec/deadbeef/start", {"Detach": False}, upgrade=True)
    s.close()
    assert status == 404  # refused before the hijack
    assert call(daemon, "GET", "/exec/deadbeef/json")[0] == 404
    assert call(daemon, "POST", "/exec/deadbeef/resize?h=1&w=1")[0] == 404
    _, doc = call(daemon, "POST", f"/containers/{box}/exec", {"Cmd": ["true"], "Tty": True})
    status, doc = call(daemon, "POST", f"/exec/{doc['Id']}/resize?h=0&w=0")
    assert status == 400 and "height and width must be positive" in doc["message"]
    status, doc = call(daemon, "POST", f"/containers/{box}/resize?h=0&w=0")
    assert status == 400
    status, doc = call(daemon, "POST", "/containers/no-such-box/attach?stream=1&stdout=1")
    assert status == 404 and doc["message"] == "No such container: no-such-box"
    status, doc = call(daemon, "POST", f"/containers/{box}/attach?stream=1&stdin=1&detachKeys=bogus")
    assert status == 400 and doc["message"] == "Invalid detach keys (bogus) provided"


def test_exec_records_dropped_when_the_container_stops(daemon):
    cid = daemon.docker("run", "-d", "busybox", "sh", "-c", 'trap "exit 0" TERM; while :; do sleep 1; done'
                        ).stdout_text.strip()
    try:
        _, doc = call(daemon, "POST", f"/containers/{cid}/exec", {"Cmd": ["true"]})
        eid = doc["Id"]
        assert call(daemon, "GET", f"/exec/{eid}/json")[0] == 200
        daemon.docker("stop", cid)
        assert call(daemon, "GET", f"/exec/{eid}/json")[0] == 404
        assert daemon.docker("inspect", "-f", "{{json .ExecIDs}}", cid).stdout_text.strip() == "null"
    finally:
        daemon.docker("rm", "-f", cid)


def test_attach_logs_replay_then_live(daemon):
    cid = daemon.docker("run", "-d", "-i", "busybox", "sh", "-c", "echo first; read x; echo got $x"
                        ).stdout_text.strip()
    try:
        deadline = time.time() + 10
        while b"first" not in daemon.docker("logs", cid).stdout and time.time() < deadline:
            time.sleep(0.05)
        status, _, rest, s = request(daemon, "POST",
                                     f"/containers/{cid}/attach?logs=1&stream=1&stdin=1&stdout=1&stderr=1",
                                     upgrade=True)
        assert status == 101
        time.sleep(0.3)
        s.sendall(b"hello\n")
        frames = demux(read_all(s, rest))
        s.close()
        assert b"".join(p for _, p in frames) == b"first\ngot hello\n"
    finally:
        daemon.docker("rm", "-f", cid)


def test_attach_logs_of_an_exited_container(daemon):
    cid = daemon.docker("run", "-d", "busybox", "echo", "done").stdout_text.strip()
    try:
        daemon.docker("wait", cid)
        status, _, rest, s = request(daemon, "POST", f"/containers/{cid}/attach?logs=1&stdout=1", upgrade=True)
        assert status == 101 and demux(read_all(s, rest)) == [(1, b"done\n")]
        s.close()
    finally:
        daemon.docker("rm", "-f", cid)


def test_start_attached_again_after_exit(cli, daemon):
    """`start -a` attaches before it starts: an exited container's attach waits for that start."""
    name = f"again-{cli.__name__}"
    cli("run", "--name", name, "busybox", "sh", "-c", "echo run; echo err >&2; exit 3", check=False)
    try:
        p = cli("start", "-a", name, check=False)
        assert (p.returncode, p.stdout_text, p.stderr_text) == (3, "run\n", "err\n")
    finally:
        daemon.docker("rm", "-f", name, check=False)


def test_attach_to_paused_is_a_conflict(daemon, box):
    daemon.docker("pause", box)
    try:
        status, _, rest, s = request(daemon, "POST", "/containers/exec-box/attach?stream=1&stdout=1",
                                     upgrade=True)
        s.close()
        assert status == 409
        assert b"container exec-box is paused, unpause the container before attach" in rest
    finally:
        daemon.docker("unpause", box)


def test_attach_stdin_eof_with_a_tty_ends_the_session_only(daemon):
    """moby never closes a TTY's input at the client's EOF: the session ends, the container runs on."""
    status, doc = call(daemon, "POST", "/containers/create",
                       {"Image": "busybox", "Cmd": ["cat"], "Tty": True, "OpenStdin": True, "StdinOnce": True,
                        "AttachStdin": True, "AttachStdout": True})
    cid = doc["Id"]
    try:
        daemon.docker("start", cid)
        status, _, rest, s = request(daemon, "POST", f"/containers/{cid}/attach?stream=1&stdin=1&stdout=1",
                                     upgrade=True)
        s.sendall(b"hello\n")
        out = rest
        while out.count(b"hello") < 2:  # the tty's echo, then cat's
            out += s.recv(4096)
        s.shutdown(socket.SHUT_WR)
        assert read_all(s, timeout=10) == b""   # the session ended
        s.close()
        assert daemon.docker("inspect", "-f", "{{.State.Running}}", cid).stdout_text.strip() == "true"
    finally:
        daemon.docker("rm", "-f", cid)


def test_attach_stdin_once_without_tty_closes_stdin(daemon):
    status, doc = call(daemon, "POST", "/containers/create",
                       {"Image": "busybox", "Cmd": ["cat"], "OpenStdin": True, "StdinOnce": True,
                        "AttachStdin": True, "AttachStdout": True})
    cid = doc["Id"]
    try:
        daemon.docker("start", cid)
        status, _, rest, s = request(daemon, "POST", f"/containers/{cid}/attach?stream=1&stdin=1&stdout=1",
                                     upgrade=True)
        s.sendall(b"hello\n")
        s.shutdown(socket.SHUT_WR)
        assert demux(read_all(s, rest, timeout=10)) == [(1, b"hello\n")]
        s.close()
        assert daemon.docker("wait", cid).stdout_text.strip() == "0"
    finally:
        daemon.docker("rm", "-f", cid)


def test_container_resize_reaches_the_pty(daemon):
    cid = daemon.docker("run", "-d", "-t", "busybox", "sh", "-c", 'trap "exit 0" TERM; while :; do sleep 1; done'
                        ).stdout_text.strip()
    try:
        assert call(daemon, "POST", f"/containers/{cid}/resize?h=41&w=123")[0] == 200
        out = daemon.docker("exec", cid, "stty", "size", "-F", "/dev/pts/0").stdout_text
        assert out == "41 123\n"
    finally:
        daemon.docker("rm", "-f", cid)


# -- docker-py -----------------------------------------------------------------------------------

def test_docker_py_exec_run(daemon, box):
    client = docker.DockerClient(base_url=daemon.host)
    c = client.containers.get(box)
    res = c.exec_run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert res.exit_code == 3 and res.output == b"out\nerr\n"
    assert c.exec_run(["sh", "-c", "echo out; echo err >&2"], demux=True).output == (b"out\n", b"err\n")
    res = c.exec_run(["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.1; done"], stream=True)
    assert b"".join(res.output) == b"1\n2\n3\n"
    res = c.exec_run(["sh", "-c", "echo a; echo b >&2"], stream=True, demux=True)
    got = list(res.output)
    assert b"".join(o for o, _ in got if o) == b"a\n" and b"".join(e for _, e in got if e) == b"b\n"
    assert c.exec_run(["tty"], tty=True).output.startswith(b"/dev/pts/")
    res = c.exec_run(["id", "-u"], user="nobody", environment={"A": "1"}, workdir="/tmp")
    assert res == (0, b"65534\n")
    assert c.exec_run(["nosuch"]).exit_code == 127
    client.close()


def test_docker_py_exec_socket_and_attach_socket(daemon, api, box):
    e = api.exec_create(box, ["cat"], stdin=True)
    sock = api.exec_start(e["Id"], socket=True)._sock
    sock.sendall(b"hello\n")
    sock.shutdown(socket.SHUT_WR)
    sock.settimeout(10)
    assert demux(read_all(sock)) == [(1, b"hello\n")]
    sock.close()
    deadline = time.time() + 5
    while api.exec_inspect(e["Id"])["Running"] and time.time() < deadline:
        time.sleep(0.05)
    assert api.exec_inspect(e["Id"])["ExitCode"] == 0

    client = docker.DockerClient(base_url=daemon.host)
    c = client.containers.run("busybox", ["cat"], detach=True, stdin_open=True)
    try:
        a = c.attach_socket(params={"stdin": 1, "stdout": 1, "stream": 1})
        a._sock.sendall(b"via attach\n")
        a._sock.settimeout(10)
        assert a._sock.recv(100) == b"\x01\x00\x00\x00\x00\x00\x00\x0bvia attach\n"
        a._sock.close()
    finally:
        c.remove(force=True)
        client.close()


def test_exec_with_runc(cli, daemon):
    """The same exec through runc (`runc exec --detach`, with a console socket for -t)."""
    cid = daemon.docker("run", "-d", "--runtime", "runc", "busybox", "sh", "-c",
                        'trap "exit 0" TERM; while :; do sleep 1; done').stdout_text.strip()
    try:
        assert cli("exec", cid, "sh", "-c", "echo hi; exit 4", check=False).returncode == 4
        assert cli("exec", "-t", cid, "tty").stdout_text.startswith("/dev/pts/")
        p = cli("exec", cid, "nosuch", check=False)
        assert p.returncode == 127 and NOSUCH in p.stdout_text + p.stderr_text
    finally:
        daemon.docker("rm", "-f", cid)
