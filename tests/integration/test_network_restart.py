"""Networks across daemon restarts: records and bridges come back, running containers keep their
addresses, ports and names, and a crash's leftovers (bridges, NAT rules, addresses) are reconciled."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

WEB = "mkdir -p /www && echo hello-web > /www/index.html && exec httpd -f -p 8080 -h /www"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, tries: int = 40) -> str:
    for _ in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode()
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"no answer from {url}")


def _inspect(d, ref: str) -> dict:
    return json.loads(d.docker("inspect", ref).stdout)[0]


def _restart(d, *, crash: bool) -> None:
    if crash:
        d.kill9()
    else:
        d.proc.send_signal(signal.SIGTERM)
        d.proc.wait(30)
    d.start()


def _table(d) -> str:
    from dockyard.network.firewall import table_name
    return subprocess.run(["nft", "list", "table", "ip", table_name(d.bridge)], capture_output=True,
                          text=True).stdout


def test_networks_survive_a_clean_restart(daemon):
    d = daemon
    nid = d.docker("network", "create", "--subnet", "10.241.0.0/24", "--label", "keep=1", "kept").stdout_text.strip()
    bridge_id = json.loads(d.docker("network", "inspect", "bridge").stdout)[0]["Id"]
    _restart(d, crash=False)
    info = json.loads(d.docker("network", "inspect", "kept").stdout)[0]
    assert info["Id"] == nid and info["Labels"] == {"keep": "1"}
    assert info["IPAM"]["Config"][0]["Subnet"] == "10.241.0.0/24"
    assert json.loads(d.docker("network", "inspect", "bridge").stdout)[0]["Id"] == bridge_id
    out = d.docker("run", "--rm", "--network", "kept", "busybox", "ip", "-o", "-4", "addr", "show", "eth0").stdout_text
    assert "10.241.0.2/24" in out
    d.docker("network", "rm", "kept")


def test_a_live_container_keeps_address_port_and_name_across_a_crash(daemon):
    d = daemon
    d.docker("network", "create", "crashnet")
    port = _free_port()
    d.docker("run", "-d", "--name", "survivor", "--network", "crashnet", "--network-alias", "svc",
             "-p", f"127.0.0.1:{port}:8080", "busybox", "sh", "-c", WEB)
    ip = _inspect(d, "survivor")["NetworkSettings"]["Networks"]["crashnet"]["IPAddress"]
    assert _get(f"http://127.0.0.1:{port}/") == "hello-web\n"
    _restart(d, crash=True)
    c = _inspect(d, "survivor")
    assert c["State"]["Running"] and c["NetworkSettings"]["Networks"]["crashnet"]["IPAddress"] == ip
    assert _get(f"http://127.0.0.1:{port}/") == "hello-web\n"
    out = d.docker("run", "--rm", "--network", "crashnet", "busybox", "wget", "-qO-", "http://svc:8080/").stdout_text
    assert out == "hello-web\n"
    # a new container does not get the survivor's address, and its port is still held
    other = d.docker("run", "-d", "--network", "crashnet", "busybox", "sleep", "60").stdout_text.strip()
    assert _inspect(d, other)["NetworkSettings"]["Networks"]["crashnet"]["IPAddress"] != ip
    r = d.docker("run", "--rm", "-p", f"127.0.0.1:{port}:80", "busybox", "true", check=False)
    assert r.returncode == 125 and "port is already allocated" in r.stderr_text
    d.docker("rm", "-f", "survivor", other)
    assert f"dport {port}" not in _table(d)
    d.docker("network", "rm", "crashnet")


def test_a_crash_leaves_nothing_that_the_next_start_does_not_reconcile(daemon):
    d = daemon
    port = _free_port()
    d.docker("run", "-d", "--name", "doomed", "-p", f"127.0.0.1:{port}:8080", "busybox", "sh", "-c", WEB)
    pid = _inspect(d, "doomed")["State"]["Pid"]
    assert f"dport {port}" in _table(d)
    d.kill9()
    os.kill(pid, signal.SIGKILL)          # the container dies while no daemon watches
    stray = f"dyx{d.tag}"[:15]            # and a bridge of ours the records no longer know
    subprocess.run(["ip", "link", "add", stray, "type", "bridge"], check=True)
    subprocess.run(["ip", "link", "set", stray, "alias", f"dockyard:{d.bridge}"], check=True)
    time.sleep(0.3)
    d.start()
    for _ in range(50):   # its shim may outlive it by a moment and report the exit to the new daemon
        if _inspect(d, "doomed")["State"]["Status"] == "exited":
            break
        time.sleep(0.1)
    assert _inspect(d, "doomed")["State"]["Status"] == "exited"
    assert not os.path.exists(f"/sys/class/net/{stray}")
    assert f"dport {port}" not in _table(d)
    with socket.socket() as s:      # the host port is free again
        s.bind(("127.0.0.1", port))
    d.docker("rm", "doomed")
