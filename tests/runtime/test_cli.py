"""`dockyard-runtime` and `runc` driven the same way through their command lines."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import base_config
from runners import RUNC

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")

OURS = shutil.which("dockyard-runtime", path=os.path.dirname(sys.executable))


class Cli:
    def __init__(self, binary: str, tmp: Path) -> None:
        self.binary, self.tmp = binary, tmp
        self.root = str(tmp / "root")
        self.log = tmp / "runtime.log"
        self.ids: list[str] = []

    def __call__(self, *args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("capture_output", "stdout" not in kw)
        return subprocess.run([self.binary, "--root", self.root, "--log", str(self.log), "--log-format", "json",
                               *args], check=check, text=True, **kw)

    def bundle(self, config: dict, name: str) -> str:
        b = self.tmp / name
        b.mkdir()
        (b / "config.json").write_text(json.dumps(config))
        return str(b)

    def state(self, cid: str) -> dict:
        return json.loads(self("state", cid).stdout)

    def create(self, config: dict, cid: str, *extra: str, **kw) -> subprocess.CompletedProcess:
        self.ids.append(cid)
        return self("create", "--bundle", self.bundle(config, cid), *extra, cid, **kw)

    def cleanup(self) -> None:
        for cid in self.ids:
            with contextlib.suppress(Exception):
                pid = self.state(cid)["pid"]
                self("delete", "--force", cid, check=False)
                if pid:
                    os.waitpid(pid, 0)


@pytest.fixture(params=["dockyard", "runc"])
def cli(request: pytest.FixtureRequest, tmp_path: Path, subreaper: None) -> Iterator[Cli]:
    binary = RUNC if request.param == "runc" else OURS
    if binary is None:
        pytest.skip(f"{request.param} binary not found")
    c = Cli(binary, tmp_path)
    yield c
    c.cleanup()


def config(rootfs: Path, args: list[str], terminal: bool = False) -> dict:
    c = base_config(args)
    c["root"]["path"] = str(rootfs)
    c["process"]["terminal"] = terminal
    return c


def wait_status(cli: Cli, cid: str, status: str) -> dict:
    for _ in range(200):
        st = cli.state(cid)
        if st["status"] == status:
            return st
        time.sleep(0.02)
    raise AssertionError(f"{cid} never became {status}: {st}")


def test_lifecycle(cli: Cli, busybox_rootfs: Path) -> None:
    c = config(busybox_rootfs, ["sh", "-c", 'trap "exit 7" TERM; while true; do sleep 0.05; done'])
    cli.create(c, "life", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    st = cli.state("life")
    assert (st["id"], st["status"], st["bundle"]) == ("life", "created", str(cli.tmp / "life"))
    assert st["pid"] > 0 and "created" in st
    assert cli("start", "life", check=False).returncode == 0
    assert cli.state("life")["status"] == "running"
    assert cli("start", "life", check=False).returncode != 0
    assert cli("delete", "life", check=False).returncode != 0
    cli("kill", "life")
    _, status = os.waitpid(st["pid"], 0)
    assert os.waitstatus_to_exitcode(status) == 7
    assert cli.state("life")["status"] == "stopped"
    cli("delete", "life")
    assert cli("state", "life", check=False).returncode != 0


def test_kill_by_name_and_force_delete(cli: Cli, busybox_rootfs: Path) -> None:
    cli.create(config(busybox_rootfs, ["sleep", "100"]), "k", stdout=subprocess.DEVNULL)
    pid = cli.state("k")["pid"]
    cli("start", "k")
    cli("kill", "k", "KILL")
    os.waitpid(pid, 0)
    cli("delete", "k")
    cli.create(config(busybox_rootfs, ["sleep", "100"]), "f", stdout=subprocess.DEVNULL)
    pid = cli.state("f")["pid"]
    cli("start", "f")
    cli("delete", "--force", "f")
    os.waitpid(pid, 0)
    assert cli("state", "f", check=False).returncode != 0


def test_create_error_in_json_log(cli: Cli, busybox_rootfs: Path) -> None:
    r = cli.create(config(busybox_rootfs, ["nosuchcmd"]), "bad", check=False)
    assert r.returncode == 1
    errors = [json.loads(line) for line in cli.log.read_text().splitlines()]
    assert errors[-1]["level"] == "error"
    assert 'exec: "nosuchcmd": executable file not found in $PATH' in errors[-1]["msg"]
    assert cli("state", "bad", check=False).returncode != 0


def test_stdio_is_inherited(cli: Cli, busybox_rootfs: Path) -> None:
    out = cli.tmp / "out.txt"
    with open(out, "w") as f:
        cli.create(config(busybox_rootfs, ["sh", "-c", "echo inherited; echo e >&2"]), "io", stdout=f, stderr=f)
    pid = cli.state("io")["pid"]
    cli("start", "io")
    os.waitpid(pid, 0)
    assert sorted(out.read_text().split()) == ["e", "inherited"]


def test_console_socket(cli: Cli, busybox_rootfs: Path) -> None:
    sock_path = str(cli.tmp / "console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(1)
    try:
        r = cli.create(config(busybox_rootfs, ["sh", "-c", "tty; test -t 0 && echo tty-in"], terminal=True),
                       "con", "--console-socket", sock_path, check=False)
        assert r.returncode == 0, r.stderr
        conn, _ = listener.accept()
        with conn:
            _msg, fds, _, _ = socket.recv_fds(conn, 4096, 1)
        master = fds[0]
        pid = cli.state("con")["pid"]
        cli("start", "con")
        out = b""
        while True:
            ready, _, _ = select.select([master], [], [], 10)
            try:
                chunk = os.read(master, 4096) if ready else b""
            except OSError:
                chunk = b""
            if not chunk:
                break
            out += chunk
        os.close(master)
        os.waitpid(pid, 0)
        assert out == b"/dev/pts/0\r\ntty-in\r\n"
    finally:
        listener.close()


def test_terminal_needs_console_socket(cli: Cli, busybox_rootfs: Path) -> None:
    r = cli.create(config(busybox_rootfs, ["sh"], terminal=True), "nocon", check=False)
    assert r.returncode != 0
    assert "console socket" in cli.log.read_text()


def test_run_foreground(cli: Cli, busybox_rootfs: Path) -> None:
    r = cli("run", "--bundle", cli.bundle(config(busybox_rootfs, ["sh", "-c", "echo ran; exit 4"]), "run"),
            "runid", check=False)
    assert (r.returncode, r.stdout) == (4, "ran\n")
    assert cli("state", "runid", check=False).returncode != 0  # run leaves nothing behind


def _running(cli: Cli, rootfs: Path, cid: str, **cfg_over) -> int:
    c = config(rootfs, ["sleep", "100"])
    c["process"].update(cfg_over)
    cli.create(c, cid, stdout=subprocess.DEVNULL)
    pid = cli.state(cid)["pid"]
    cli("start", cid)
    return pid


def test_exec_joins_the_container(cli: Cli, busybox_rootfs: Path) -> None:
    _running(cli, busybox_rootfs, "ex")
    r = cli("exec", "-e", "FOO=bar", "ex", "sh", "-c",
            "echo $FOO; hostname; ps -o pid,args | awk '$1==1{print $2}'; test $$ != 1 && echo not-one; exit 7",
            check=False)
    assert (r.returncode, r.stdout) == (7, "bar\ntesthost\nsleep\nnot-one\n")
    r = cli("exec", "--user", "65534:65534", "--cwd", "/tmp", "ex", "sh", "-c", "id -u; pwd; grep CapEff /proc/self/status")
    assert r.stdout.split() == ["65534", "/tmp", "CapEff:", "0000000000000000"]
    r = cli("exec", "ex", "grep", "CapEff", "/proc/self/status")
    assert r.stdout.split() == ["CapEff:", "00000000a80425fb"]


def test_exec_process_file_and_errors(cli: Cli, busybox_rootfs: Path) -> None:
    _running(cli, busybox_rootfs, "exp")
    proc = base_config(["sh", "-c", "echo from-file $A"])["process"]
    proc["env"].append("A=1")
    pfile = cli.tmp / "process.json"
    pfile.write_text(json.dumps(proc))
    assert cli("exec", "--process", str(pfile), "exp").stdout == "from-file 1\n"
    r = cli("exec", "exp", "/no/such/cmd", check=False)
    assert r.returncode != 0
    last = json.loads(cli.log.read_text().splitlines()[-1])["msg"]
    assert last.endswith('exec: "/no/such/cmd": stat /no/such/cmd: no such file or directory')
    assert cli.state("exp")["status"] == "running"


def test_exec_detached_and_tty(cli: Cli, busybox_rootfs: Path) -> None:
    _running(cli, busybox_rootfs, "ext")
    pid_file = cli.tmp / "exec.pid"
    cli("exec", "-d", "--pid-file", str(pid_file), "ext", "sleep", "0.2")
    pid = int(pid_file.read_text())
    _, status = os.waitpid(pid, 0)   # reparented to us (subreaper) when the CLI left
    assert os.waitstatus_to_exitcode(status) == 0
    sock_path = str(cli.tmp / "exec-console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(1)
    try:
        cli("exec", "-d", "-t", "--console-socket", sock_path, "--pid-file", str(pid_file), "ext", "tty")
        conn, _ = listener.accept()
        with conn:
            _msg, fds, _, _ = socket.recv_fds(conn, 4096, 1)
        out = b""
        while True:
            ready, _, _ = select.select([fds[0]], [], [], 10)
            try:
                chunk = os.read(fds[0], 4096) if ready else b""
            except OSError:
                chunk = b""
            if not chunk:
                break
            out += chunk
        os.close(fds[0])
        os.waitpid(int(pid_file.read_text()), 0)
        assert out.startswith(b"/dev/pts/") and out.endswith(b"\r\n")
    finally:
        listener.close()
