"""Interactive sessions through a real pseudo-terminal, for the docker CLI and dockyard's alike:
type commands into a shell, read the answers, resize the window, detach, exit with a code."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pty_session import PtySession  # noqa: E402

from daemon_harness import DOCKER  # noqa: E402

PROMPT = r"# "


@pytest.fixture(params=["docker", "dockyard"])
def argv(request, daemon):
    """The command line of the CLI under test."""
    if request.param == "docker":
        return [DOCKER]
    return [sys.executable, "-m", "dockyard.cli", "-H", daemon.host]


def session(daemon, argv, *args: str, rows: int = 24, cols: int = 80) -> PtySession:
    return PtySession([*argv, *args], daemon.env, rows=rows, cols=cols)


def running(daemon, ref: str) -> bool:
    return daemon.docker("inspect", "-f", "{{.State.Running}}", ref).stdout_text.strip() == "true"


def drive_shell(p: PtySession) -> None:
    """Arithmetic, then a resize that `stty size` inside must see."""
    p.expect(PROMPT)
    p.send("echo $((6*7))\r")
    p.expect(r"\r\n42\r\n")
    p.resize(31, 101)
    deadline = time.time() + 10
    while True:  # the CLI sends the new size on SIGWINCH, asynchronously
        p.send("stty size\r")
        size = p.expect(rb"\r\n(\d+ \d+)\r\n").group(1)
        if size == b"31 101" or time.time() > deadline:
            break
        time.sleep(0.1)
    assert size == b"31 101"


def test_run_it_shell(daemon, argv):
    p = session(daemon, argv, "run", "-it", "--rm", "busybox", "sh")
    try:
        drive_shell(p)
        p.send("tty; echo TERM=$TERM\r")
        p.expect(r"/dev/pts/0\r\nTERM=xterm\r\n")
        p.send("exit 3\r")
        assert p.wait() == 3
    finally:
        p.close()


def test_run_it_initial_size(daemon, argv):
    p = session(daemon, argv, "run", "-it", "--rm", "busybox", "stty", "size", rows=17, cols=93)
    try:
        p.expect(r"17 93\r\n")
        assert p.wait() == 0
    finally:
        p.close()


def test_exec_it_initial_size(daemon, argv):
    cid = daemon.docker("run", "-d", "busybox", "sleep", "60").stdout_text.strip()
    p = session(daemon, argv, "exec", "-it", cid, "stty", "size", rows=17, cols=93)
    try:
        p.expect(r"17 93\r\n")
        assert p.wait() == 0
    finally:
        p.close()
        daemon.docker("rm", "-f", cid)


def test_exec_it_shell(daemon, argv):
    cid = daemon.docker("run", "-d", "busybox", "sh", "-c", 'trap "exit 0" TERM; while :; do sleep 1; done'
                        ).stdout_text.strip()
    p = session(daemon, argv, "exec", "-it", cid, "sh")
    try:
        drive_shell(p)
        p.send("echo $$ TERM=$TERM; tty\r")
        m = p.expect(r"\r\n(\d+) TERM=xterm\r\n/dev/pts/\d+\r\n")
        assert m.group(1) != b"1"   # a new process beside the container's init
        p.send("exit 3\r")
        assert p.wait() == 3
        assert running(daemon, cid)
    finally:
        p.close()
        daemon.docker("rm", "-f", cid)


def test_detach_from_run_it_then_attach(daemon, argv):
    name = f"pty-detach-{len(argv)}"
    p = session(daemon, argv, "run", "-it", "--name", name, "busybox", "sh")
    try:
        p.expect(PROMPT)
        p.send("echo $((6*7))\r")
        p.expect(r"\r\n42\r\n")
        p.send(b"\x10")       # ctrl-p alone is held back...
        time.sleep(0.1)
        p.send(b"\x11")       # ...ctrl-q completes the sequence
        assert p.wait() == 0
        assert running(daemon, name)
    finally:
        p.close()
    # attach again: the same shell, still interactive; detach once more, then attach and exit
    p = session(daemon, argv, "attach", name)
    try:
        p.send("echo $((7*6))\r")
        p.expect(r"\r\n42\r\n")
        p.send(b"\x10\x11")
        assert p.wait() == 1
        assert b"read escape sequence" in p.buf
        assert running(daemon, name)
    finally:
        p.close()
    p = session(daemon, argv, "attach", name)
    try:
        p.send("exit 5\r")
        assert p.wait() == 5
        assert daemon.docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout_text.strip() == "5"
    finally:
        p.close()
        daemon.docker("rm", "-f", name)


def test_custom_detach_keys(daemon, argv):
    name = f"pty-keys-{len(argv)}"
    p = session(daemon, argv, "run", "-it", "--detach-keys", "ctrl-a,x", "--name", name, "busybox", "sh")
    try:
        p.expect(PROMPT)
        p.send(b"\x10\x11echo still-here\r")     # the default keys mean nothing now
        p.expect(r"still-here\r\n")
        p.send(b"\x01x")
        assert p.wait() == 0
        assert running(daemon, name)
    finally:
        p.close()
        daemon.docker("rm", "-f", name)


def test_detach_from_exec_it(daemon, argv):
    cid = daemon.docker("run", "-d", "busybox", "sh", "-c", 'trap "exit 0" TERM; while :; do sleep 1; done'
                        ).stdout_text.strip()
    p = session(daemon, argv, "exec", "-it", cid, "sh")
    try:
        p.expect(PROMPT)
        p.send("echo $((6*7))\r")
        p.expect(r"\r\n42\r\n")
        p.send(b"\x10\x11")
        assert p.wait() == 1
        assert b"read escape sequence" in p.buf
        # the exec'd shell is still there
        ids = json.loads(daemon.docker("inspect", "-f", "{{json .ExecIDs}}", cid).stdout_text)
        assert ids and len(ids) == 1
    finally:
        p.close()
        daemon.docker("rm", "-f", cid)


def test_start_ai_and_detach(daemon, argv):
    name = f"pty-start-{len(argv)}"
    daemon.docker("create", "-it", "--name", name, "busybox", "sh")
    p = session(daemon, argv, "start", "-ai", name)
    try:
        p.expect(PROMPT)
        p.send("echo $((6*7))\r")
        p.expect(r"\r\n42\r\n")
        p.send(b"\x10\x11")
        assert p.wait() == 0
        assert running(daemon, name)
    finally:
        p.close()
        daemon.docker("rm", "-f", name)
