"""Auto-start: with nobody on the socket, the client starts a daemon, detached, and waits for it."""

from __future__ import annotations

import os
import signal
import sys
import textwrap

import pytest

from dockyard.client import Client, ConnectError, autostart

FAKE_DAEMON = textwrap.dedent("""
    import os, socket, sys, time
    path = sys.argv[1]
    time.sleep(0.2)  # a daemon takes a moment to come up
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.listen(8)
    open(path + ".pid", "w").write(str(os.getpid()))
    print("fake daemon up, sid", os.getsid(0) == os.getpid(), flush=True)
    while True:
        c, _ = s.accept()
        c.recv(65536)
        c.sendall(b"HTTP/1.1 200 OK\\r\\nApi-Version: 1.44\\r\\nContent-Length: 2\\r\\n\\r\\n{}")
        c.close()
""")


@pytest.fixture
def fake_daemon(tmp_path, monkeypatch):
    sock = str(tmp_path / "run" / "d.sock")
    log = str(tmp_path / "daemon.log")
    monkeypatch.setattr(autostart, "daemon_command", lambda: [sys.executable, "-c", FAKE_DAEMON, sock])
    monkeypatch.setattr(autostart, "LOG_CANDIDATES", (log,))
    yield sock, log
    pidfile = sock + ".pid"
    if os.path.exists(pidfile):
        os.kill(int(open(pidfile).read()), signal.SIGKILL)


def test_autostart_starts_detached_daemon_and_waits(fake_daemon):
    sock, log = fake_daemon
    c = Client("unix://" + sock, autostart=True)
    assert c.api_version == "1.44"
    with open(log) as f:
        assert "fake daemon up, sid True" in f.read()  # its own session: survives the CLI
    # a second ensure is a no-op when something answers
    autostart.ensure_daemon("unix://" + sock)


def test_no_autostart_for_explicit_hosts(fake_daemon):
    sock, _ = fake_daemon
    with pytest.raises(ConnectError):
        Client("unix://" + sock).version()
    assert not os.path.exists(sock)


def test_autostart_reports_a_daemon_that_dies(tmp_path, monkeypatch):
    monkeypatch.setattr(autostart, "daemon_command",
                        lambda: [sys.executable, "-c", "import sys; print('boom: bad config'); sys.exit(3)"])
    monkeypatch.setattr(autostart, "LOG_CANDIDATES", (str(tmp_path / "log"),))
    with pytest.raises(ConnectError) as e:
        autostart.ensure_daemon("unix://" + str(tmp_path / "d.sock"), wait=5)
    assert "exited with status 3" in str(e.value.cause) and "boom: bad config" in str(e.value.cause)
