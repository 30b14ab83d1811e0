"""Networking as a user sees it: the default bridge, modes, user networks with DNS, published ports.

Everything runs on the real kernel: bridges, veth pairs, nftables NAT, the
embedded DNS in each container's netns; the clients are the docker CLI, the
dockyard CLI and plain sockets from the host.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request

import pytest

WEB = "mkdir -p /www && echo hello-web > /www/index.html && exec httpd -f -p 8080 -h /www"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, tries: int = 40) -> str:
    last: Exception | None = None
    for _ in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode()
        except OSError as e:
            last = e
            time.sleep(0.1)
    raise AssertionError(f"{url}: {last}")


def _inspect(d, ref: str) -> dict:
    return json.loads(d.docker("inspect", ref).stdout_text)[0]


def _host_address() -> str:
    """A non-loopback address of this host (the uplink's)."""
    out = subprocess.run(["ip", "-4", "-o", "route", "get", "1.1.1.1"], capture_output=True, text=True).stdout
    return out.split(" src ")[1].split()[0]


def _links() -> set[str]:
    return set(subprocess.run(["ls", "/sys/class/net"], capture_output=True, text=True).stdout.split())


def _own_links(d) -> set[str]:
    """This daemon's bridges and the veths plugged into them."""
    own = set()
    for dev in os.listdir("/sys/class/net"):
        try:
            with open(f"/sys/class/net/{dev}/ifalias") as f:
                if f.read().strip() == f"dockyard:{d.bridge}":
                    own.add(dev)
        except OSError:
            continue
    return own | _bridge_ports(d)


def _bridge_ports(d) -> set[str]:
    """The veths plugged into this daemon's bridges (other daemons may run beside it)."""
    out: set[str] = set()
    for dev in os.listdir("/sys/class/net"):
        try:
            with open(f"/sys/class/net/{dev}/ifalias") as f:
                if f.read().strip() == f"dockyard:{d.bridge}":
                    out |= set(os.listdir(f"/sys/class/net/{dev}/brif"))
        except OSError:
            continue
    return out


def _nft_rules(d) -> str:
    """This daemon's own table (other daemons and dockerd keep theirs beside it)."""
    from dockyard.network.firewall import table_name
    return subprocess.run(["nft", "list", "table", "ip", table_name(d.bridge)], capture_output=True,
                          text=True).stdout


# ---------------------------------------------------------------- the default bridge
def test_default_bridge_gives_address_gateway_and_egress_route(clean):
    d = clean
    d.docker("run", "-d", "--name", "web", "busybox", "sh", "-c", WEB)
    info = _inspect(d, "web")
    ns = info["NetworkSettings"]
    ip, gw = ns["IPAddress"], ns["Gateway"]
    assert ip and gw and ns["Networks"]["bridge"]["IPAddress"] == ip
    assert ns["MacAddress"].startswith("02:42:")
    bridge = json.loads(d.docker("network", "inspect", "bridge").stdout_text)[0]
    assert bridge["Containers"][info["Id"]]["IPv4Address"].startswith(ip + "/")
    assert bridge["Options"]["com.docker.network.bridge.name"] == d.bridge
    # the host reaches it directly, and so does another container
    assert _get(f"http://{ip}:8080/") == "hello-web\n"
    out = d.docker("run", "--rm", "busybox", "wget", "-qO-", f"http://{ip}:8080/").stdout_text
    assert out == "hello-web\n"
    routes = d.docker("run", "--rm", "busybox", "ip", "route").stdout_text
    assert f"default via {gw} dev eth0" in routes
    hosts = d.docker("exec", "web", "cat", "/etc/hosts").stdout_text
    assert f"{ip}\t{info['Config']['Hostname']}" in hosts


def _host_resolver() -> str | None:
    with open("/etc/resolv.conf") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "nameserver" and not parts[1].startswith("127.") and ":" not in parts[1]:
                return parts[1]
    return None


def test_egress_reaches_the_hosts_resolver_through_nat(clean):
    """A container on the default bridge asks the host's upstream resolver (forwarded and masqueraded)."""
    resolver = _host_resolver()
    if resolver is None:
        pytest.skip("the host has no off-host IPv4 resolver to reach")
    r = clean.docker("run", "--rm", "busybox", "nslookup", "deb.debian.org", resolver, check=False)
    assert "Address" in r.stdout_text and r.returncode == 0, r.stdout_text + r.stderr_text


def test_stop_releases_the_address_and_clears_operational_settings(clean):
    d = clean
    d.docker("run", "-d", "--name", "aa", "busybox", "sleep", "60")
    ip = _inspect(d, "aa")["NetworkSettings"]["IPAddress"]
    d.docker("stop", "-t", "0", "aa")
    ns = _inspect(d, "aa")["NetworkSettings"]
    assert ns["IPAddress"] == "" and ns["Networks"]["bridge"]["IPAddress"] == ""
    d.docker("run", "-d", "--name", "bb", "busybox", "sleep", "60")
    assert _inspect(d, "bb")["NetworkSettings"]["IPAddress"] == ip   # given back, handed out again


# ---------------------------------------------------------------- modes
def test_network_none_has_only_loopback(clean):
    out = clean.docker("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link").stdout_text
    assert [line.split(": ")[1] for line in out.splitlines()] == ["lo"]
    assert clean.docker("run", "--rm", "--network", "none", "busybox", "ping", "-c1", "-W1", "127.0.0.1").returncode == 0


def test_network_host_shares_the_host_stack(clean):
    out = clean.docker("run", "--rm", "--network", "host", "busybox", "ip", "-o", "link").stdout_text
    names = {line.split(": ")[1].split("@")[0] for line in out.splitlines()}
    assert clean.bridge in names and "lo" in names


def test_network_container_joins_another_containers_stack(clean):
    d = clean
    d.docker("run", "-d", "--name", "srv", "busybox", "sh", "-c", WEB)
    out = d.docker("run", "--rm", "--network", "container:srv", "busybox", "wget", "-qO-",
                   "http://127.0.0.1:8080/").stdout_text
    assert out == "hello-web\n"
    ip = _inspect(d, "srv")["NetworkSettings"]["IPAddress"]
    addrs = d.docker("run", "--rm", "--network", "container:srv", "busybox", "ip", "-o", "-4", "addr").stdout_text
    assert ip in addrs


def test_network_ls_lists_the_predefined_networks(clean):
    for cli in (clean.docker, clean.dockyard):
        names = cli("network", "ls", "--format", "{{.Name}} {{.Driver}}").stdout_text.split("\n")
        assert {"bridge bridge", "host host", "none null"} <= set(names)


# ---------------------------------------------------------------- user networks
def test_user_network_dns_by_name_alias_and_short_id(clean):
    d = clean
    d.docker("network", "create", "appnet")
    d.docker("run", "-d", "--name", "srv", "--network", "appnet", "--network-alias", "web", "busybox", "sh", "-c", WEB)
    short = _inspect(d, "srv")["Id"][:12]
    for name in ("srv", "web", short, "srv.appnet"):
        out = d.docker("run", "--rm", "--network", "appnet", "busybox", "wget", "-qO-", f"http://{name}:8080/").stdout_text
        assert out == "hello-web\n", name
    resolv = d.docker("run", "--rm", "--network", "appnet", "busybox", "cat", "/etc/resolv.conf").stdout_text
    assert "nameserver 127.0.0.11" in resolv and "ndots:0" in resolv
    # an unknown name is NXDOMAIN, quickly
    r = d.docker("run", "--rm", "--network", "appnet", "busybox", "nslookup", "no-such-container", check=False)
    assert r.returncode != 0
    # the default bridge has no name resolution between containers
    r = d.docker("run", "--rm", "busybox", "nslookup", "srv", check=False)
    assert r.returncode != 0


def test_connect_makes_a_running_container_resolvable_at_once(clean):
    d = clean
    d.docker("network", "create", "late")
    d.docker("run", "-d", "--name", "srv", "busybox", "sh", "-c", WEB)
    d.docker("run", "-d", "--name", "client", "--network", "late", "busybox", "sleep", "60")
    d.docker("network", "connect", "--alias", "svc", "late", "srv")
    out = d.docker("exec", "client", "wget", "-qO-", "http://svc:8080/").stdout_text
    assert out == "hello-web\n"
    info = _inspect(d, "srv")["NetworkSettings"]["Networks"]
    assert set(info) == {"bridge", "late"} and info["late"]["IPAddress"]
    d.docker("network", "disconnect", "late", "srv")
    assert d.docker("exec", "client", "nslookup", "svc", check=False).returncode != 0
    assert set(_inspect(d, "srv")["NetworkSettings"]["Networks"]) == {"bridge"}


def test_connected_container_resolves_through_the_embedded_dns(clean):
    """A container started on the default bridge gets 127.0.0.11 as its resolver once it joins a
    user network, and can then resolve its new peers by name."""
    d = clean
    d.docker("network", "create", "joinme")
    d.docker("run", "-d", "--name", "peer", "--network", "joinme", "busybox", "sh", "-c", WEB)
    d.docker("run", "-d", "--name", "joiner", "busybox", "sleep", "60")
    assert "127.0.0.11" not in d.docker("exec", "joiner", "cat", "/etc/resolv.conf").stdout_text
    d.docker("network", "connect", "joinme", "joiner")
    resolv = d.docker("exec", "joiner", "cat", "/etc/resolv.conf").stdout_text
    assert "nameserver 127.0.0.11" in resolv and "ndots:0" in resolv
    assert d.docker("exec", "joiner", "wget", "-qO-", "http://peer:8080/").stdout_text == "hello-web\n"


@pytest.mark.parametrize("cli", ["docker", "dockyard"])
def test_rename_moves_the_dns_name(clean, cli):
    d = clean
    d.docker("network", "create", "renames")
    d.docker("run", "-d", "--name", "before", "--network", "renames", "--network-alias", "al", "busybox",
             "sh", "-c", WEB)
    d.docker("run", "-d", "--name", "asker", "--network", "renames", "busybox", "sleep", "60")
    getattr(d, cli)("rename", "before", "after")
    assert d.docker("exec", "asker", "wget", "-qO-", "http://after:8080/").stdout_text == "hello-web\n"
    assert d.docker("exec", "asker", "wget", "-qO-", "http://al:8080/").stdout_text == "hello-web\n"
    assert d.docker("exec", "asker", "nslookup", "before", check=False).returncode != 0
    names = _inspect(d, "after")["NetworkSettings"]["Networks"]["renames"]["DNSNames"]
    assert names[:2] == ["after", "al"] and "before" not in names


def test_network_without_icc_keeps_its_containers_apart(clean):
    d = clean
    d.docker("network", "create", "-o", "com.docker.network.bridge.enable_icc=false", "lonely")
    d.docker("network", "create", "friendly")
    d.docker("run", "-d", "--name", "srv", "--network", "lonely", "busybox", "sh", "-c", WEB)
    d.docker("network", "connect", "friendly", "srv")
    nets = _inspect(d, "srv")["NetworkSettings"]["Networks"]
    get = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {} 8080"
    r = d.docker("run", "--rm", "--network", "lonely", "busybox", "sh", "-c",
                 get.format(nets["lonely"]["IPAddress"]), check=False)
    assert "hello-web" not in r.stdout_text
    assert d.docker("run", "--rm", "--network", "lonely", "busybox", "nslookup", "srv").returncode == 0  # DNS works
    out = d.docker("run", "--rm", "--network", "friendly", "busybox", "sh", "-c",
                   get.format(nets["friendly"]["IPAddress"])).stdout_text
    assert "hello-web" in out


def test_two_user_networks_cannot_reach_each_other(clean):
    d = clean
    d.docker("network", "create", "red")
    d.docker("network", "create", "blue")
    d.docker("run", "-d", "--name", "rr", "--network", "red", "busybox", "sh", "-c", WEB)
    ip = _inspect(d, "rr")["NetworkSettings"]["Networks"]["red"]["IPAddress"]
    same = d.docker("run", "--rm", "--network", "red", "busybox", "wget", "-qO-", f"http://{ip}:8080/")
    assert same.stdout_text == "hello-web\n"
    # dropped, not refused: a connect timeout (busybox's `timeout` as PID 1 cannot stop a blocked wget)
    other = d.docker("run", "--rm", "--network", "blue", "busybox", "sh", "-c",
                     f"echo x | nc -w 2 {ip} 8080", check=False, timeout=30)
    assert other.returncode != 0
    assert d.docker("run", "--rm", "--network", "blue", "busybox", "nslookup", "rr", check=False).returncode != 0


def test_internal_network_has_no_egress(clean):
    d = clean
    d.docker("network", "create", "--internal", "sealed")
    host = _host_address()
    srv = socket.socket()
    srv.bind((host, 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    try:
        r = d.docker("run", "--rm", "--network", "sealed", "busybox", "sh", "-c",
                     f"echo x | nc -w 2 {host} {port}", check=False)
        assert r.returncode != 0
        routes = d.docker("run", "--rm", "--network", "sealed", "busybox", "ip", "route").stdout_text
        assert "default" not in routes
        # but the members of the network still talk to each other
        d.docker("run", "-d", "--name", "in1", "--network", "sealed", "busybox", "sh", "-c", WEB)
        out = d.docker("run", "--rm", "--network", "sealed", "busybox", "wget", "-qO-", "http://in1:8080/").stdout_text
        assert out == "hello-web\n"
    finally:
        srv.close()


def test_network_create_options_inspect_and_rm(clean):
    d = clean
    nid = d.docker("network", "create", "--subnet", "10.231.0.0/24", "--gateway", "10.231.0.254",
                   "--ip-range", "10.231.0.128/25", "--label", "team=a", "-o",
                   "com.docker.network.bridge.name=dyt-custom", "custom").stdout_text.strip()
    info = json.loads(d.docker("network", "inspect", "custom").stdout_text)[0]
    assert info["Id"] == nid and info["Labels"] == {"team": "a"}
    assert info["IPAM"]["Config"] == [{"Subnet": "10.231.0.0/24", "Gateway": "10.231.0.254",
                                       "IPRange": "10.231.0.128/25"}]
    assert "dyt-custom" in _links()
    d.docker("run", "-d", "--name", "mm", "--network", "custom", "busybox", "sleep", "60")
    ip = _inspect(d, "mm")["NetworkSettings"]["Networks"]["custom"]["IPAddress"]
    assert ip == "10.231.0.128" or ip.startswith("10.231.0.1")
    d.docker("run", "-d", "--name", "fixed", "--network", "custom", "--ip", "10.231.0.7", "busybox", "sleep", "60")
    assert _inspect(d, "fixed")["NetworkSettings"]["Networks"]["custom"]["IPAddress"] == "10.231.0.7"
    r = d.docker("network", "rm", "custom", check=False)
    assert r.returncode != 0 and "has active endpoints" in r.stderr_text
    d.docker("rm", "-f", "mm", "fixed")
    d.docker("network", "rm", "custom")
    assert "dyt-custom" not in _links()


def test_network_bad_input_is_refused_and_leaves_nothing(clean):
    d = clean
    d.docker("network", "create", "--subnet", "10.232.0.0/16", "first")
    before = _own_links(d)
    r = d.docker("network", "create", "--subnet", "10.232.5.0/24", "overlap", check=False)
    assert r.returncode != 0 and "overlaps" in r.stderr_text
    r = d.docker("run", "--rm", "--network", "first", "--ip", "10.99.0.5", "busybox", "true", check=False)
    assert r.returncode == 125 and "10.99.0.5" in r.stderr_text
    r = d.docker("run", "--rm", "--ip", "172.17.0.9", "busybox", "true", check=False)
    assert r.returncode == 125 and "user defined networks only" in r.stderr_text
    r = d.docker("network", "create", "--subnet", "10.233.0.0/24", "--gateway", "10.234.0.1", "gw", check=False)
    assert r.returncode != 0 and "no matching subnet for gateway 10.234.0.1" in r.stderr_text   # the CLI's check
    import docker as docker_py
    client = docker_py.DockerClient(base_url=d.host)
    pool = docker_py.types.IPAMPool(subnet="10.233.0.0/24", gateway="10.234.0.1")
    with pytest.raises(docker_py.errors.APIError) as e:   # and the daemon's
        client.networks.create("gw", ipam=docker_py.types.IPAMConfig(pool_configs=[pool]))
    assert e.value.status_code == 400 and "doesn't contain this address" in str(e.value)
    r = d.docker("run", "--rm", "--network", "nope", "busybox", "true", check=False)
    assert r.returncode == 125 and "network nope not found" in r.stderr_text
    r = d.docker("network", "rm", "bridge", check=False)
    assert r.returncode != 0 and "pre-defined network" in r.stderr_text
    r = d.docker("network", "create", "first", check=False)
    assert r.returncode != 0 and "already exists" in r.stderr_text
    lo_before = subprocess.run(["ip", "-o", "addr", "show", "lo"], capture_output=True, text=True).stdout
    r = d.docker("network", "create", "-o", "com.docker.network.bridge.name=lo", "takeslo", check=False)
    assert r.returncode != 0 and "interface lo already exists" in r.stderr_text
    assert subprocess.run(["ip", "-o", "addr", "show", "lo"], capture_output=True, text=True).stdout == lo_before
    assert _own_links(d) == before
    names = d.docker("network", "ls", "--format", "{{.Name}}").stdout_text.split()
    assert "overlap" not in names and "gw" not in names


# ---------------------------------------------------------------- published ports
def test_publish_on_loopback_and_all_addresses(clean):
    d = clean
    p1, p2 = _free_port(), _free_port()
    d.docker("run", "-d", "--name", "web", "-p", f"127.0.0.1:{p1}:8080", "-p", f"{p2}:8080", "busybox", "sh", "-c", WEB)
    assert _get(f"http://127.0.0.1:{p1}/") == "hello-web\n"
    assert _get(f"http://127.0.0.1:{p2}/") == "hello-web\n"
    assert _get(f"http://{_host_address()}:{p2}/") == "hello-web\n"
    # another container reaches it through the host's address (hairpin through the NAT)
    out = d.docker("run", "--rm", "busybox", "wget", "-qO-", f"http://{_host_address()}:{p2}/").stdout_text
    assert out == "hello-web\n"
    lines = d.docker("port", "web").stdout_text.splitlines()
    assert f"8080/tcp -> 127.0.0.1:{p1}" in lines and f"8080/tcp -> 0.0.0.0:{p2}" in lines
    assert set(d.dockyard("port", "web", "8080").stdout_text.split()) == {f"127.0.0.1:{p1}", f"0.0.0.0:{p2}"}
    ports = d.docker("ps", "--format", "{{.Ports}}", "--filter", "name=web").stdout_text
    assert f"127.0.0.1:{p1}->8080/tcp" in ports
    d.docker("stop", "-t", "0", "web")
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{p1}/", timeout=1)
    assert f"dport {p1}" not in _nft_rules(d)


def test_publish_random_port_and_publish_all(clean, tmp_path):
    d = clean
    d.docker("run", "-d", "--name", "rnd", "-p", "8080", "busybox", "sh", "-c", WEB)
    host_port = json.loads(d.docker("inspect", "-f", "{{json .NetworkSettings.Ports}}", "rnd").stdout_text)["8080/tcp"][0]
    assert 1024 < int(host_port["HostPort"]) and host_port["HostIp"] == "0.0.0.0"
    assert _get(f"http://127.0.0.1:{host_port['HostPort']}/") == "hello-web\n"
    (tmp_path / "Dockerfile").write_text(f'FROM busybox\nEXPOSE 8080 9000/udp\nCMD ["sh", "-c", "{WEB}"]\n')
    d.docker("build", "-q", "-t", "exposer", str(tmp_path))
    d.docker("run", "-d", "--name", "all", "-P", "exposer")
    ports = json.loads(d.docker("inspect", "-f", "{{json .NetworkSettings.Ports}}", "all").stdout_text)
    assert set(ports) == {"8080/tcp", "9000/udp"} and all(ports.values())
    assert _get(f"http://127.0.0.1:{ports['8080/tcp'][0]['HostPort']}/") == "hello-web\n"


UDP_ECHO_C = r"""
#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    if (bind(s, (struct sockaddr *)&a, sizeof a)) return 1;
    for (;;) {
        char buf[2048]; struct sockaddr_in p; socklen_t l = sizeof p;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&p, &l);
        if (n > 0) sendto(s, buf, n, 0, (struct sockaddr *)&p, l);
    }
}
"""


def test_udp_publish(clean, tmp_path):
    """busybox has no UDP server: a 15-line static echo server, compiled here, is the container's process."""
    d = clean
    (tmp_path / "echo.c").write_text(UDP_ECHO_C)
    subprocess.run(["gcc", "-static", "-O2", "-o", str(tmp_path / "udpecho"), str(tmp_path / "echo.c")], check=True)
    (tmp_path / "Dockerfile").write_text('FROM busybox\nCOPY udpecho /udpecho\nCMD ["/udpecho", "5353"]\n')
    d.docker("build", "-q", "-t", "udpecho", str(tmp_path))
    port = _free_port()
    d.docker("run", "-d", "--name", "udp", "-p", f"127.0.0.1:{port}:5353/udp", "udpecho")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        for _ in range(40):
            s.sendto(b"ping\n", ("127.0.0.1", port))
            try:
                data, _ = s.recvfrom(100)
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError("no UDP echo through the published port")
    assert data == b"ping\n"
    assert d.docker("port", "udp").stdout_text.strip() == f"5353/udp -> 127.0.0.1:{port}"


def test_port_in_use_fails_the_start_cleanly(clean):
    d = clean
    port = _free_port()
    d.docker("run", "-d", "--name", "first", "-p", f"{port}:8080", "busybox", "sh", "-c", WEB)
    links_before = _bridge_ports(d)
    r = d.docker("run", "-d", "--name", "second", "-p", f"{port}:8080", "busybox", "sh", "-c", WEB, check=False)
    assert r.returncode == 125
    assert f"Bind for 0.0.0.0:{port} failed: port is already allocated" in r.stderr_text
    assert _inspect(d, "second")["State"]["Status"] == "created"
    assert _bridge_ports(d) == links_before
    # a host service holding a port also makes the start fail, the same way
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        s.listen(1)
        held = s.getsockname()[1]
        r = d.docker("run", "--rm", "-p", f"{held}:80", "busybox", "true", check=False)
        assert r.returncode == 125 and "port is already allocated" in r.stderr_text
    assert _get(f"http://127.0.0.1:{port}/") == "hello-web\n"   # the first one is untouched


def test_bad_publish_specs_are_refused(clean):
    for cli in (clean.docker, clean.dockyard):
        r = cli("run", "--rm", "-p", "70000:80", "busybox", "true", check=False)
        assert r.returncode == 125 and "invalid hostPort: 70000" in r.stderr_text


# ---------------------------------------------------------------- churn and persistence
def test_fifty_containers_leave_no_veth_address_or_rule_behind(clean):
    d = clean
    net_id = d.docker("network", "create", "churn").stdout_text.strip()
    for _ in range(50):   # earlier tests' pairs may still be going away in the background
        if not _bridge_ports(d):
            break
        time.sleep(0.1)
    rules_before = _nft_rules(d)
    ids = []
    for i in range(50):
        args = ["-p", "127.0.0.1::8080"] if i % 5 == 0 else []
        ids.append(d.docker("run", "-d", "--network", "churn", *args, "busybox", "sleep", "60").stdout_text.strip())
    ports = os.listdir(f"/sys/class/net/br-{net_id[:12]}/brif")
    assert len(ports) == 50 and all(p.startswith("veth") for p in ports)
    ips = {_inspect(d, i)["NetworkSettings"]["Networks"]["churn"]["IPAddress"] for i in ids}
    assert len(ips) == 50
    assert _nft_rules(d).count("dnat to") >= 10
    d.docker("rm", "-f", *ids)
    for _ in range(50):   # the pairs go away in the background (each deletion waits out an RCU period)
        if not _bridge_ports(d):
            break
        time.sleep(0.1)
    assert not _bridge_ports(d)
    assert not any(p in _links() for p in ports)
    assert _nft_rules(d) == rules_before
    net = json.loads(d.docker("network", "inspect", "churn").stdout)[0]
    assert net["Containers"] == {}
    new = d.docker("run", "-d", "--network", "churn", "busybox", "sleep", "60").stdout_text.strip()
    assert _inspect(d, new)["NetworkSettings"]["Networks"]["churn"]["IPAddress"].endswith(".2")


def test_publish_a_port_range(clean):
    d = clean
    base = _free_port()
    for _ in range(50):   # two free ports in a row
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("0.0.0.0", base))
                b.bind(("0.0.0.0", base + 1))
                break
            except OSError:
                base = _free_port()
    d.docker("run", "-d", "--name", "ranged", "-p", f"127.0.0.1:{base}-{base + 1}:8080-8081", "busybox", "sh", "-c",
             "mkdir -p /a /b && echo A > /a/index.html && echo B > /b/index.html && "
             "httpd -p 8081 -h /b && exec httpd -f -p 8080 -h /a")
    assert _get(f"http://127.0.0.1:{base}/") == "A\n"
    assert _get(f"http://127.0.0.1:{base + 1}/") == "B\n"
    lines = d.docker("port", "ranged").stdout_text.splitlines()
    assert lines == [f"8080/tcp -> 127.0.0.1:{base}", f"8081/tcp -> 127.0.0.1:{base + 1}"]


def test_network_events(clean):
    d = clean
    since = str(time.time() - 1)
    nid = d.docker("network", "create", "evnet").stdout_text.strip()
    cid = d.docker("run", "-d", "--network", "evnet", "busybox", "sleep", "60").stdout_text.strip()
    d.docker("rm", "-f", cid)
    d.docker("network", "rm", "evnet")
    out = d.docker("events", "--since", since, "--until", str(time.time() + 1), "--filter", "type=network",
                   "--format", "{{.Action}} {{.Actor.ID}} {{index .Actor.Attributes \"name\"}}").stdout_text
    actions = [line.split()[0] for line in out.splitlines() if nid in line]
    assert actions == ["create", "connect", "disconnect", "destroy"], out
    assert all(line.endswith(" evnet") for line in out.splitlines() if nid in line)
