"""Container links (`--link name[:alias]`) as Docker 28 makes them, through the docker CLI, dockyard's CLI
and docker-py: legacy links on the default bridge (hosts, env, checks, rm --link, restarts, icc=false)
and link aliases on user networks (seen by the linking container's DNS only)."""

from __future__ import annotations

import json
import signal

import docker
import pytest

WEB = "mkdir -p /www && echo hello-web > /www/index.html && exec httpd -f -p 80 -h /www"
GET = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {} {}"


def _inspect(d, ref: str) -> dict:
    return json.loads(d.docker("inspect", ref).stdout_text)[0]


def test_link_on_the_default_bridge_gives_hosts_env_and_reach(clean):
    d = clean
    d.docker("run", "-d", "--name", "db", "--expose", "80", "-e", "SECRET=s3", "busybox", "sh", "-c", WEB)
    child = _inspect(d, "db")
    ip, hostname = child["NetworkSettings"]["IPAddress"], child["Config"]["Hostname"]
    r = d.docker("run", "--rm", "--link", "db:data", "busybox", "sh", "-c",
                 "cat /etc/hosts; echo ---; env; echo ---; wget -qO- http://data/; wget -qO- http://db/")
    hosts, env, got = r.stdout_text.split("---\n")
    assert f"{ip}\tdata {hostname} db\n" in hosts
    env = env.splitlines()
    for var in (f"DATA_PORT=tcp://{ip}:80", f"DATA_PORT_80_TCP=tcp://{ip}:80", f"DATA_PORT_80_TCP_ADDR={ip}",
                "DATA_PORT_80_TCP_PORT=80", "DATA_PORT_80_TCP_PROTO=tcp", "DATA_ENV_SECRET=s3"):
        assert var in env
    assert any(v.startswith("DATA_NAME=/") and v.endswith("/data") for v in env)
    assert not any(v.startswith(("DATA_ENV_PATH=", "DATA_ENV_HOME=")) for v in env)
    assert got == "hello-web\nhello-web\n"
    assert "deprecated" in r.stderr_text   # the create Warnings, printed by the CLI
    # dockyard's CLI: the link's name is its alias too, and ping reaches it
    out = d.dockyard("run", "--rm", "--link", "db", "busybox", "sh", "-c", "ping -c1 -W2 db && env").stdout_text
    assert "1 packets received" in out and f"DB_PORT=tcp://{ip}:80" in out


def test_inspect_rm_link_and_errors(clean):
    d = clean
    d.docker("run", "-d", "--name", "kid", "busybox", "sleep", "300")
    d.docker("create", "--name", "par", "--link", "kid:k", "busybox", "sleep", "300")
    assert _inspect(d, "par")["HostConfig"]["Links"] == ["/kid:/par/k"]
    # a rename of the child follows
    d.docker("rename", "kid", "kid2")
    assert _inspect(d, "par")["HostConfig"]["Links"] == ["/kid2:/par/k"]
    d.docker("rm", "--link", "/par/k")
    assert _inspect(d, "par")["HostConfig"]["Links"] is None
    r = d.dockyard("rm", "--link", "/par/k", check=False)
    assert r.returncode != 0 and "No such container: par/k" in r.stderr_text
    # missing child: 400 with moby's text
    r = d.docker("create", "--link", "nosuch:x", "busybox", check=False)
    assert r.returncode != 0 and "could not get container for nosuch: No such container: nosuch" in r.stderr_text
    # host networking, for the parent and for the child
    r = d.docker("create", "--network", "host", "--link", "kid2", "busybox", check=False)
    assert "conflicting options: host type networking can't be used with links" in r.stderr_text
    d.docker("create", "--name", "hosty", "--network", "host", "busybox")
    r = d.docker("create", "--link", "hosty", "busybox", check=False)
    assert "conflicting options: host type networking can't be used with links" in r.stderr_text
    r = d.docker("create", "--network", "container:kid2", "--link", "kid2", "busybox", check=False)
    assert "conflicting options: container type network can't be used with links" in r.stderr_text
    # a stopped child fails the parent's start
    d.docker("create", "--name", "sleeper", "busybox", "sleep", "1")
    d.docker("create", "--name", "p2", "--link", "sleeper:s", "busybox", "true")
    r = d.docker("start", "p2", check=False)
    assert r.returncode != 0 and "Cannot link to a non running container: /sleeper AS /p2/s" in r.stderr_text
    # a child not on the default bridge
    d.docker("network", "create", "elsewhere")
    d.docker("run", "-d", "--name", "away", "--network", "elsewhere", "busybox", "sleep", "300")
    d.docker("create", "--name", "p3", "--link", "away", "busybox", "true")
    r = d.docker("start", "p3", check=False)
    assert "Cannot link to /away, as it does not belong to the default network" in r.stderr_text


def test_docker_py_link_and_removed_child(clean):
    d = clean
    client = docker.DockerClient(base_url=d.host, timeout=60)
    child = client.containers.run("busybox", ["sleep", "300"], name="pychild", detach=True)
    parent = client.containers.create("busybox", ["sh", "-c", "sleep 300"], name="pyparent",
                                      links={"pychild": "pc"})
    assert parent.attrs["HostConfig"]["Links"] == ["/pychild:/pyparent/pc"]
    parent.start()
    assert b"pc" in parent.exec_run(["cat", "/etc/hosts"]).output
    parent.remove(force=True)
    child.remove(force=True)
    client.close()


def test_links_survive_a_daemon_restart(clean):
    d = clean
    d.docker("run", "-d", "--name", "rkid", "--expose", "80", "busybox", "sh", "-c", WEB)
    d.docker("create", "--name", "rpar", "--link", "rkid:web", "busybox", "sh", "-c", "wget -qO- http://web/")
    d.proc.send_signal(signal.SIGTERM)
    d.proc.wait(30)
    d.start()
    assert _inspect(d, "rpar")["HostConfig"]["Links"] == ["/rkid:/rpar/web"]
    d.docker("start", "rkid")
    d.docker("start", "rpar")
    assert d.docker("wait", "rpar").stdout_text.strip() == "0"
    assert d.docker("logs", "rpar").stdout_text == "hello-web\n"


def test_user_network_link_is_an_alias_for_the_parent_only(clean):
    d = clean
    d.docker("network", "create", "unet")
    d.docker("run", "-d", "--name", "target", "--network", "unet", "busybox", "sleep", "300")
    ip = _inspect(d, "target")["NetworkSettings"]["Networks"]["unet"]["IPAddress"]
    r = d.docker("run", "--rm", "--network", "unet", "--link", "target:tgt", "busybox", "sh", "-c",
                 "nslookup tgt; nslookup target; ping -c1 -W2 tgt")
    assert r.stdout_text.count(f"Address: {ip}") == 2 and "1 packets received" in r.stdout_text
    # the endpoint carries it, as the docker CLI sends it; and dockyard's CLI does the same
    d.dockyard("run", "-d", "--name", "linker", "--network", "unet", "--link", "target:other", "busybox",
               "sleep", "300")
    assert _inspect(d, "linker")["NetworkSettings"]["Networks"]["unet"]["Links"] == ["target:other"]
    assert d.docker("exec", "linker", "nslookup", "other").stdout_text.count(f"Address: {ip}") == 1
    r = d.docker("run", "--rm", "--network", "unet", "busybox", "nslookup", "other", check=False)
    assert r.returncode != 0 and ip not in r.stdout_text


@pytest.fixture(scope="module")
def no_icc(tmp_path_factory):
    from daemon_harness import daemon_with_busybox
    with daemon_with_busybox(tmp_path_factory.mktemp("bb"), ["--icc=false"]) as d:
        yield d


def test_icc_false_lets_a_link_reach_only_the_exposed_port(no_icc):
    d = no_icc
    two = "mkdir -p /www && echo hello-web > /www/index.html && httpd -p 81 -h /www && exec httpd -f -p 80 -h /www"
    d.docker("run", "-d", "--name", "guarded", "--expose", "80", "busybox", "sh", "-c", two)
    ip = _inspect(d, "guarded")["NetworkSettings"]["IPAddress"]
    try:
        linked = d.docker("run", "--rm", "--link", "guarded:g", "busybox", "sh", "-c",
                          f"{GET.format('g', 80)}; echo ---; {GET.format('g', 81)}", check=False,
                          timeout=60).stdout_text
        on_port, off_port = linked.split("---")
        assert "hello-web" in on_port and "hello-web" not in off_port
        stranger = d.docker("run", "--rm", "busybox", "sh", "-c", GET.format(ip, 80), check=False, timeout=60)
        assert "hello-web" not in stranger.stdout_text
    finally:
        d.docker("rm", "-f", "guarded", check=False)
