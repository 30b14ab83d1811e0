"""Pure tests of compose loading: interpolation, .env, merging, normalising, naming, order, hash."""

from __future__ import annotations

import pytest

from dockyard.compose.errors import ComposeError, ConfigError, FileNotFound
from dockyard.compose.interpolate import substitute
from dockyard.compose.loader import load_project
from dockyard.compose.model import normalize_project_name
from dockyard.compose.naming import config_hash, container_name, depends_on_label
from dockyard.compose.normalize import parse_port, parse_volume, split_command
from dockyard.compose.planner import container_action, start_order, with_dependencies


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("text,expect", [
    ("${A}", "1"), ("$A-x", "1-x"), ("${B:-d}", "d"), ("${E:-d}", "d"), ("${E-d}", ""), ("${B-d}", "d"),
    ("$$A", "$A"), ("${B:-${A}}", "1"), ("${A:+alt}", "alt"), ("${B:+alt}", ""), ("a$", "a$"),
])
def test_substitute(text, expect):
    assert substitute(text, {"A": "1", "E": ""}) == expect


def test_required_variable():
    with pytest.raises(ConfigError, match="required variable B is missing a value: need B"):
        substitute("${B:?need B}", {})


def test_project_name_normalised():
    assert normalize_project_name("My.Proj_1-x") == "myproj_1-x"
    assert normalize_project_name("__A") == "a"


def test_default_file_and_dir_name(tmp_path):
    d = tmp_path / "My App"
    d.mkdir()
    write(d, "compose.yaml", "services:\n  web:\n    image: busybox\n")
    p = load_project(cwd=str(d), environ={})
    assert p.name == "myapp"
    assert p.networks["default"]["name"] == "myapp_default"
    assert p.services["web"]["networks"] == {"default": None}


def test_no_file(tmp_path):
    with pytest.raises(FileNotFound) as e:
        load_project(cwd=str(tmp_path), environ={})
    assert e.value.code == 14


def test_dotenv_and_name_precedence(tmp_path):
    write(tmp_path, ".env", "TAG=1.2\nexport PORT='8080'\n# c\n")
    write(tmp_path, "compose.yml", "name: fromfile\nservices:\n  web:\n    image: busybox:${TAG}\n"
          "    ports: ['${PORT}:80']\n")
    p = load_project(cwd=str(tmp_path), environ={})
    assert p.name == "fromfile"
    assert p.services["web"]["image"] == "busybox:1.2"
    assert p.services["web"]["ports"] == [{"mode": "ingress", "target": 80, "protocol": "tcp", "published": "8080"}]
    assert load_project(cwd=str(tmp_path), environ={"COMPOSE_PROJECT_NAME": "env"}).name == "env"
    assert load_project(cwd=str(tmp_path), project_name="flag", environ={"COMPOSE_PROJECT_NAME": "env"}).name == "flag"
    assert load_project(cwd=str(tmp_path), environ={"TAG": "shell"}).services["web"]["image"] == "busybox:shell"


def test_merge_override(tmp_path):
    write(tmp_path, "a.yml", "services:\n  web:\n    image: a\n    command: x y\n    environment: [A=1, B=2]\n"
          "    ports: ['80']\n    volumes: ['v:/data']\nvolumes:\n  v: {}\n  w: {}\n")
    write(tmp_path, "b.yml", "services:\n  web:\n    image: b\n    command: [z]\n    environment: {B: 3}\n"
          "    ports: ['81']\n    volumes: ['w:/data']\n")
    p = load_project(["a.yml", "b.yml"], cwd=str(tmp_path), environ={})
    web = p.services["web"]
    assert web["image"] == "b" and web["command"] == ["z"]
    assert web["environment"] == {"A": "1", "B": "3"}
    assert [x["target"] for x in web["ports"]] == [80, 81]
    assert web["volumes"] == [{"type": "volume", "source": "w", "target": "/data"}]
    assert p.volumes["v"]["name"] == f"{p.name}_v"


def test_long_syntaxes(tmp_path):
    write(tmp_path, "compose.yml", """
services:
  db:
    image: busybox
    healthcheck: {test: "true", interval: 1s}
  web:
    image: busybox
    entrypoint: sh -c 'echo "a b"'
    environment: {X: null, Y: 1}
    depends_on:
      db: {condition: service_healthy}
    networks:
      front: {aliases: [www], ipv4_address: 10.5.0.9}
    labels: [a=b]
    extra_hosts: ["h:1.2.3.4"]
    volumes: ["./data:/d:ro", "/anon"]
networks:
  front: {ipam: {config: [{subnet: 10.5.0.0/24}]}}
""")
    p = load_project(cwd=str(tmp_path), environ={"X": "fromenv"})
    web = p.services["web"]
    assert web["entrypoint"] == ["sh", "-c", 'echo "a b"']
    assert web["environment"] == {"X": "fromenv", "Y": "1"}
    assert web["depends_on"] == {"db": {"condition": "service_healthy", "required": True}}
    assert web["networks"]["front"]["aliases"] == ["www"]
    assert web["labels"] == {"a": "b"}
    assert web["volumes"][0] == {"type": "bind", "source": str(tmp_path / "data"), "target": "/d",
                                 "read_only": True, "bind": {"create_host_path": True}}
    assert web["volumes"][1] == {"type": "volume", "target": "/anon"}
    assert p.services["db"]["healthcheck"]["test"] == ["CMD-SHELL", "true"]
    assert set(p.networks) == {"front", "default"}  # db joins the default network
    assert depends_on_label(web) == "db:service_healthy:false"
    assert start_order(p) == ["db", "web"]


@pytest.mark.parametrize("text,message", [
    ("services:\n  web:\n    image: a\n    bogus: 1\n", "services.web Additional property bogus is not allowed"),
    ("foo: 1\nservices: {}\n", "(root) Additional property foo is not allowed"),
    ("services:\n  web:\n    image: a\n    ports: 80\n", "services.web.ports must be a array"),
    ("services:\n  web:\n    build: .\n    depends_on: [nope]\n", 'depends on undefined service "nope"'),
    ("services:\n  web:\n    command: x\n", "has neither an image nor a build context"),
    ("services:\n  web:\n    image: a\n    volumes: ['v:/x']\n", "refers to undefined volume v"),
    ("services:\n  web: [\n", "yaml:"),
])
def test_bad_files(tmp_path, text, message):
    write(tmp_path, "compose.yml", text)
    with pytest.raises(ConfigError) as e:
        load_project(cwd=str(tmp_path), environ={})
    assert message in e.value.message
    assert e.value.code == 15


def test_ports_and_volumes_short():
    assert parse_port("127.0.0.1:8000-8001:80-81/udp", "x") == [
        {"mode": "ingress", "target": 80, "protocol": "udp", "published": "8000", "host_ip": "127.0.0.1"},
        {"mode": "ingress", "target": 81, "protocol": "udp", "published": "8001", "host_ip": "127.0.0.1"}]
    assert parse_port(3000, "x") == [{"mode": "ingress", "target": 3000, "protocol": "tcp"}]
    assert parse_volume("data:/d", "/w", "x") == {"type": "volume", "source": "data", "target": "/d"}
    assert split_command("sh -c 'a b' \"c d\"", "x") == ["sh", "-c", "a b", "c d"]


def test_order_and_cycles(tmp_path):
    write(tmp_path, "compose.yml", "services:\n  c: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n"
          "  a: {image: x}\n  z: {image: x}\n")
    p = load_project(cwd=str(tmp_path), environ={})
    assert start_order(p) == ["a", "b", "c", "z"]
    assert sorted(with_dependencies(p, ["c"])) == ["a", "b", "c"]
    p.services["a"]["depends_on"] = {"c": {"condition": "service_started"}}
    with pytest.raises(ComposeError, match="dependency cycle detected"):
        start_order(p)


def test_config_hash_and_action():
    svc = {"image": "busybox", "command": ["a"]}
    h = config_hash(svc)
    assert h == config_hash(dict(svc)) and h != config_hash({**svc, "command": ["b"]})
    assert h == config_hash({**svc, "depends_on": {"x": {}}})  # dependencies do not recreate
    running = {"State": "running", "Labels": {"com.docker.compose.config-hash": h}}
    assert container_action(running, h) == "running"
    assert container_action({**running, "State": "exited"}, h) == "start"
    assert container_action(running, "other") == "recreate"
    assert container_action(running, h, force=True) == "recreate"
    assert container_name("p", "web", 1) == "p-web-1"
