"""`dockyard compose` against an isolated daemon, checked with the real docker CLI."""

from __future__ import annotations

import time

COMPOSE = """
services:
  web:
    build: ./web
    command: sh -c 'echo web-started; mkdir -p /www && echo hello-web > /www/index.html && exec httpd -f -p 8080 -h /www'
    ports: ["127.0.0.1:18191:8080"]
    healthcheck: {test: "wget -qO- http://127.0.0.1:8080/", interval: 1s, retries: 20}
  client:
    image: busybox
    depends_on: {web: {condition: service_healthy}}
    environment: ["MSG=${MSG:-hi}"]
    command: sh -c 'wget -qO- http://web:8080/ > /shared/got; sleep 300'
    volumes: ["shared:/shared"]
volumes:
  shared: {}
"""


def _ps_names(d, project, *extra):
    out = d.docker("ps", *extra, "--filter", f"label=com.docker.compose.project={project}", "--format", "{{.Names}}")
    return sorted(out.stdout_text.split())


def test_compose_lifecycle(clean, tmp_path):
    d = clean
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text("FROM busybox\nRUN echo built > /built\n")
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    c = ("compose", "-f", str(tmp_path / "compose.yaml"), "-p", "itp")
    r = d.dockyard(*c, "up", "-d")
    assert "Container itp-web-1  Started" in r.stderr_text
    assert "Container itp-web-1  Healthy" in r.stderr_text
    assert _ps_names(d, "itp") == ["itp-client-1", "itp-web-1"]
    assert d.docker("image", "inspect", "itp-web").returncode == 0
    labels = d.docker("inspect", "-f", '{{index .Config.Labels "com.docker.compose.service"}} '
                      '{{index .Config.Labels "com.docker.compose.container-number"}} '
                      '{{index .Config.Labels "com.docker.compose.depends_on"}}', "itp-client-1").stdout_text
    assert labels.split() == ["client", "1", "web:service_healthy:false"]
    for _ in range(50):
        got = d.docker("run", "--rm", "-v", "itp_shared:/s", "busybox", "cat", "/s/got", check=False).stdout_text
        if "hello-web" in got:
            break
        time.sleep(0.2)
    assert "hello-web" in got
    ids = d.docker("ps", "-q", "--no-trunc", "--filter", "label=com.docker.compose.project=itp").stdout_text.split()
    r = d.dockyard(*c, "up", "-d")
    assert "Running" in r.stderr_text and "Recreate" not in r.stderr_text
    assert sorted(ids) == sorted(d.docker("ps", "-q", "--no-trunc", "--filter",
                                          "label=com.docker.compose.project=itp").stdout_text.split())
    (tmp_path / "compose.yaml").write_text(COMPOSE.replace("${MSG:-hi}", "changed"))
    r = d.dockyard(*c, "up", "-d")
    assert "Container itp-client-1  Recreated" in r.stderr_text
    assert "itp-web-1  Running" in r.stderr_text
    ps = d.dockyard(*c, "ps").stdout_text
    assert "itp-web-1" in ps and "SERVICE" in ps
    assert "web-1" in d.dockyard(*c, "logs", "web").stdout_text
    assert d.dockyard(*c, "exec", "-T", "client", "sh", "-c", "echo $MSG").stdout_text.strip() == "changed"
    out = d.dockyard(*c, "run", "--rm", "-T", "--no-deps", "client", "cat", "/shared/got").stdout_text
    assert "hello-web" in out
    assert "MSG: changed" in d.dockyard(*c, "config").stdout_text
    d.dockyard(*c, "down")
    assert _ps_names(d, "itp", "-a") == []
    assert "itp_default" not in d.docker("network", "ls").stdout_text
    assert "itp_shared" in d.docker("volume", "ls").stdout_text
    d.dockyard(*c, "down", "-v")
    assert "itp_shared" not in d.docker("volume", "ls").stdout_text


def test_compose_bad_file_creates_nothing(clean, tmp_path):
    d = clean
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: busybox\n    bogus: 1\n")
    r = d.dockyard("compose", "-f", str(tmp_path / "compose.yaml"), "-p", "bad", "up", "-d", check=False)
    assert r.returncode == 15
    assert "services.web Additional property bogus is not allowed" in r.stderr_text
    assert _ps_names(d, "bad", "-a") == []
    assert "bad_default" not in d.docker("network", "ls").stdout_text
