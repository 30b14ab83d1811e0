"""`docker build` / `dockyard build` end to end: POST /build with a tar context, the JSON stream,
the cache, multi-stage, build args, .dockerignore, failures, and the images it makes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(params=["docker", "dockyard"])
def cli(request, daemon):
    return getattr(daemon, request.param)


def ctx(tmp_path: Path, dockerfile: str, **files: str) -> Path:
    d = tmp_path / "ctx"
    d.mkdir(exist_ok=True)
    (d / "Dockerfile").write_text(dockerfile)
    for name, text in files.items():
        p = d / name.replace("__", "/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return d


def image_id(daemon, ref: str) -> str:
    return daemon.docker("image", "inspect", "-f", "{{.Id}}", ref).stdout_text.strip()


APP = """FROM busybox
WORKDIR /app
COPY hello.txt .
RUN echo built > /app/built.txt
ENV GREETING=hi
CMD ["sh", "-c", "cat hello.txt built.txt; echo $GREETING"]
"""


def test_build_and_run(cli, daemon, tmp_path):
    d = ctx(tmp_path, APP, **{"hello.txt": "hello-file\n"})
    out = cli("build", "-t", "t/app:1", str(d)).stdout_text
    assert "Step 1/6 : FROM busybox" in out and "Step 4/6 : RUN echo built > /app/built.txt" in out
    assert " ---> Running in " in out and "Removing intermediate container" in out
    assert "Successfully built" in out and "Successfully tagged t/app:1" in out
    assert daemon.docker("run", "--rm", "t/app:1").stdout_text == "hello-file\nbuilt\nhi\n"
    doc = json.loads(daemon.docker("image", "inspect", "t/app:1").stdout_text)[0]
    assert doc["Config"]["WorkingDir"] == "/app" and "GREETING=hi" in doc["Config"]["Env"]
    assert doc["Config"]["Cmd"] == ["sh", "-c", "cat hello.txt built.txt; echo $GREETING"]
    # no leftover build containers
    assert daemon.docker("ps", "-aq").stdout_text == ""
    daemon.docker("rmi", "t/app:1")


def test_cache_same_id_and_rebuild_from_changed_copy(daemon, tmp_path):
    d = ctx(tmp_path, APP, **{"hello.txt": "one\n"})
    daemon.docker("build", "-t", "t/cache:1", str(d))
    first = image_id(daemon, "t/cache:1")
    out = daemon.docker("build", "-t", "t/cache:2", str(d)).stdout_text
    assert out.count("Using cache") == 5 and "Running in" not in out
    assert image_id(daemon, "t/cache:2") == first
    (d / "hello.txt").write_text("two\n")
    out = daemon.docker("build", "-t", "t/cache:3", str(d)).stdout_text
    assert out.count("Using cache") == 1          # WORKDIR only; COPY and everything after rebuilt
    assert daemon.docker("run", "--rm", "t/cache:3").stdout_text.startswith("two\n")
    # touching a file (mtime only) keeps the cache
    (d / "hello.txt").touch()
    out = daemon.docker("build", "-q", "-t", "t/cache:4", str(d)).stdout_text
    assert out.strip() == image_id(daemon, "t/cache:3")
    out = daemon.docker("build", "--no-cache", "-t", "t/cache:5", str(d)).stdout_text
    assert "Using cache" not in out
    for t in ("1", "2", "3", "4", "5"):
        daemon.docker("rmi", f"t/cache:{t}", check=False)


def test_multistage_only_artifact_and_unneeded_stage_skipped(cli, daemon, tmp_path):
    d = ctx(tmp_path, """FROM busybox AS builder
RUN mkdir /out && echo compiled > /out/artifact && dd if=/dev/zero of=/out/big bs=1M count=2 2>/dev/null
FROM busybox AS broken
RUN exit 3
FROM busybox
COPY --from=builder /out/artifact /artifact
CMD ["cat", "/artifact"]
""")
    out = cli("build", "-t", "t/ms", str(d)).stdout_text
    assert "exit 3" not in out                     # not needed for the target: skipped
    assert daemon.docker("run", "--rm", "t/ms").stdout_text == "compiled\n"
    assert daemon.docker("run", "--rm", "t/ms", "test", "-e", "/out/big", check=False).returncode == 1
    p = cli("build", "--target", "broken", str(d), check=False)
    assert p.returncode == 3 and "returned a non-zero code: 3" in p.stderr_text + p.stdout_text
    daemon.docker("rmi", "t/ms")


def test_build_args_and_dockerignore(cli, daemon, tmp_path):
    d = ctx(tmp_path, """FROM busybox
ARG FLAVOR=plain
ARG UNSET
COPY . /ctx
RUN echo $FLAVOR > /flavor && echo "[$UNSET]" > /unset
CMD ["sh", "-c", "cat /flavor /unset; ls /ctx | sort | tr '\\n' ' '"]
""", **{"keep.txt": "a", "secret.key": "s", "sub__deep.key": "d", "sub__ok.txt": "o", ".dockerignore": "**/*.key\n"})
    cli("build", "-q", "--build-arg", "FLAVOR=spicy", "--build-arg", "NOTDECLARED=1", "-t", "t/args", str(d))
    out = daemon.docker("run", "--rm", "t/args").stdout_text
    assert out.startswith("spicy\n[]\n") and "keep.txt" in out and "secret.key" not in out
    assert daemon.docker("run", "--rm", "t/args", "ls", "/ctx/sub").stdout_text == "ok.txt\n"
    # the default when no --build-arg is given; the warning for an unused one
    p = cli("build", "--build-arg", "NOTDECLARED=1", "-t", "t/args2", str(d))
    assert "[Warning] One or more build-args [NOTDECLARED] were not consumed" in p.stdout_text
    assert daemon.docker("run", "--rm", "t/args2", "cat", "/flavor").stdout_text == "plain\n"
    daemon.docker("rmi", "t/args", "t/args2")


def test_failures_reported(cli, daemon, tmp_path):
    d = ctx(tmp_path, "FROM busybox\nRUN echo before; exit 5\n")
    p = cli("build", str(d), check=False)
    text = p.stdout_text + p.stderr_text
    assert p.returncode == 5
    assert "The command '/bin/sh -c echo before; exit 5' returned a non-zero code: 5" in text
    assert "before" in text
    (d / "Dockerfile").write_text("FROMM busybox\n")
    p = cli("build", str(d), check=False)
    assert p.returncode == 1 and "unknown instruction: FROMM" in p.stderr_text
    (d / "Dockerfile").write_text("FROM nosuchimage:1\n")
    p = cli("build", str(d), check=False)
    assert p.returncode != 0 and "nosuchimage" in p.stderr_text
    p = cli("build", "-f", "Nope.Dockerfile", str(d), check=False)
    assert p.returncode != 0 and "Nope.Dockerfile" in p.stderr_text
    p = cli("build", "-t", "Bad:Tag:x", str(d), check=False)
    assert p.returncode != 0 and "invalid" in p.stderr_text.lower()
    (d / "Dockerfile").write_text("FROM busybox\nCOPY missing.txt /\n")
    p = cli("build", str(d), check=False)
    assert p.returncode != 0 and "missing.txt" in p.stderr_text


def test_metadata_instructions_and_history(daemon, tmp_path):
    d = ctx(tmp_path, """FROM busybox
LABEL a=1 "b c"="d e"
EXPOSE 80 53/udp
ENV BASE=/srv PATH_EXTRA=x
WORKDIR $BASE
WORKDIR sub
USER 1000:1000
VOLUME ["/data"]
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=2 CMD true
ENTRYPOINT ["echo", "ep"]
CMD ["arg"]
""")
    daemon.docker("build", "--label", "extra=yes", "-t", "t/meta", str(d))
    cfg = json.loads(daemon.docker("image", "inspect", "t/meta").stdout_text)[0]["Config"]
    assert cfg["Labels"] == {"a": "1", "b c": "d e", "extra": "yes"}
    assert set(cfg["ExposedPorts"]) == {"80/tcp", "53/udp"}
    assert cfg["WorkingDir"] == "/srv/sub" and cfg["User"] == "1000:1000"
    assert cfg["Volumes"] == {"/data": {}} and cfg["StopSignal"] == "SIGINT"
    assert cfg["Healthcheck"]["Test"] == ["CMD-SHELL", "true"] or cfg["Healthcheck"]["Test"][0] in ("CMD", "CMD-SHELL")
    assert cfg["Healthcheck"]["Interval"] == 5_000_000_000 and cfg["Healthcheck"]["Retries"] == 2
    assert cfg["Entrypoint"] == ["echo", "ep"] and cfg["Cmd"] == ["arg"]
    assert daemon.docker("run", "--rm", "t/meta").stdout_text == "ep arg\n"
    hist = daemon.docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", "t/meta").stdout_text
    assert "#(nop)  ENV BASE=/srv PATH_EXTRA=x" in hist and "WORKDIR /srv/sub" in hist
    daemon.docker("rmi", "t/meta")


def test_entrypoint_resets_inherited_cmd_and_onbuild(daemon, tmp_path):
    d = ctx(tmp_path, """FROM busybox
CMD ["base-cmd"]
ONBUILD RUN echo triggered > /onbuild.txt
""")
    daemon.docker("build", "-t", "t/base", str(d))
    (d / "Dockerfile").write_text('FROM t/base\nENTRYPOINT ["cat"]\n')
    out = daemon.docker("build", "-t", "t/child", str(d)).stdout_text
    assert "# Executing 1 build trigger" in out
    cfg = json.loads(daemon.docker("image", "inspect", "t/child").stdout_text)[0]["Config"]
    assert cfg["Entrypoint"] == ["cat"] and not cfg.get("Cmd") and not cfg.get("OnBuild")
    assert daemon.docker("run", "--rm", "t/child", "/onbuild.txt").stdout_text == "triggered\n"
    daemon.docker("rmi", "t/child", "t/base")


def test_network_none_and_iidfile_and_stdin_dockerfile(daemon, tmp_path):
    d = ctx(tmp_path, "FROM busybox\nRUN cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' > /ifaces\n")
    iid = tmp_path / "iid"
    daemon.docker("build", "--network", "none", "--iidfile", str(iid), "-t", "t/net", str(d))
    assert iid.read_text() == image_id(daemon, "t/net")
    assert daemon.docker("run", "--rm", "t/net", "cat", "/ifaces").stdout_text == "lo\n"
    out = daemon.dockyard("build", "-q", "-", input=b"FROM busybox\nRUN echo from-stdin > /s\n").stdout_text
    new = out.strip()
    assert new.startswith("sha256:")
    assert daemon.docker("run", "--rm", new, "cat", "/s").stdout_text == "from-stdin\n"
    daemon.docker("rmi", "t/net", new)


def test_copy_rules_chown_and_deleted_files(daemon, tmp_path):
    d = ctx(tmp_path, """FROM busybox
COPY --chown=1:2 a.txt b.txt /multi/
COPY dir /copied
COPY dir/* /globbed/
RUN rm /etc/group && echo kept > /kept
""", **{"a.txt": "A", "b.txt": "B", "dir__x.txt": "X", "dir__y.txt": "Y"})
    daemon.docker("build", "-t", "t/copy", str(d))
    run = lambda *a: daemon.docker("run", "--rm", "t/copy", *a).stdout_text  # noqa: E731
    assert run("stat", "-c", "%u:%g %n", "/multi/a.txt") == "1:2 /multi/a.txt\n"
    assert run("ls", "/copied") == "x.txt\ny.txt\n" and run("ls", "/globbed") == "x.txt\ny.txt\n"
    assert daemon.docker("run", "--rm", "t/copy", "test", "-e", "/etc/group", check=False).returncode == 1
    assert run("cat", "/kept") == "kept\n"
    daemon.docker("rmi", "t/copy")


def test_docker_py_build(daemon, tmp_path):
    import docker
    d = ctx(tmp_path, "FROM busybox\nRUN echo py > /py\nCMD [\"cat\", \"/py\"]\n")
    client = docker.DockerClient(base_url=daemon.host)
    try:
        image, logs = client.images.build(path=str(d), tag="t/py:1", rm=True)
        lines = [entry.get("stream", "") for entry in logs]
        assert any("Step 2/3" in line for line in lines)
        assert "t/py:1" in image.tags
        assert client.containers.run("t/py:1", remove=True) == b"py\n"
        with pytest.raises(docker.errors.BuildError) as err:
            client.images.build(path=str(ctx(tmp_path, "FROM busybox\nRUN exit 7\n")))
        assert "returned a non-zero code: 7" in str(err.value)
    finally:
        client.images.remove("t/py:1")
        client.close()



HEREDOC_DOCKERFILE = """FROM busybox
ARG WHO=world
RUN <<EOF
echo "script ran" > /script.txt
echo 'single $quotes' >> /script.txt
EOF
RUN cat <<EOT > /cat.txt
heredoc into cat
EOT
COPY <<-EOF /greeting.txt
\thello "$WHO"
\tEOF
ADD bundle.tar /unpacked/
ADD http://127.0.0.1:PORT/remote.txt /fetched/
COPY --chmod=0700 run.sh /run.sh
"""


def test_heredocs_add_tar_and_url_chmod(daemon, tmp_path):
    import http.server
    import io
    import tarfile
    import threading

    served = tmp_path / "www"
    served.mkdir()
    (served / "remote.txt").write_text("from-url\n")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(served), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        d = ctx(tmp_path, HEREDOC_DOCKERFILE.replace("PORT", str(httpd.server_port)),
                **{"run.sh": "#!/bin/sh\necho run\n"})
        with tarfile.open(d / "bundle.tar", "w") as tf:
            info = tarfile.TarInfo("inside/file.txt")
            info.size = len(b"from-tar\n")
            tf.addfile(info, io.BytesIO(b"from-tar\n"))
        daemon.docker("build", "-t", "t/heredoc", str(d))
        run = lambda *a: daemon.docker("run", "--rm", "t/heredoc", *a).stdout_text  # noqa: E731
        assert run("cat", "/script.txt") == "script ran\nsingle $quotes\n"
        assert run("cat", "/cat.txt") == "heredoc into cat\n"
        assert run("cat", "/greeting.txt") == 'hello "world"\n'
        assert run("cat", "/unpacked/inside/file.txt") == "from-tar\n"
        assert run("cat", "/fetched/remote.txt") == "from-url\n"
        assert run("stat", "-c", "%a", "/run.sh") == "700\n"
        (d / "Dockerfile").write_text("FROM busybox\nCOPY --chmod=9x run.sh /\n")
        p = daemon.docker("build", str(d), check=False)
        assert p.returncode != 0 and "chmod" in p.stderr_text
    finally:
        httpd.shutdown()
        daemon.docker("rmi", "t/heredoc", check=False)
