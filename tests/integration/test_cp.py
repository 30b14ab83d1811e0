"""`cp` through the real docker CLI and dockyard's, into and out of running and stopped containers.

Symlinks inside a container (to `/`, to `../../..`, to a host path) must never make a read or
a write touch the host: what is read is the container's file, what is written lands in the
container.
"""

from __future__ import annotations

import io
import os
import secrets
import tarfile
from pathlib import Path

import pytest

CLIS = ["docker", "dockyard"]
MARK = "container-only-marker"


@pytest.fixture(scope="module")
def box(daemon):
    """A running container with a marker in its /etc/passwd and escaping symlinks."""
    name = "cp-box"
    daemon.docker("run", "-d", "--name", name, "busybox", "sleep", "600")
    daemon.docker("exec", name, "sh", "-c",
                  f"echo {MARK} >> /etc/passwd && ln -s / /escape && mkdir -p /tmp/deep/er "
                  "&& ln -s ../../../../../.. /tmp/deep/er/up && mkdir -p /data/d/e && echo 1 > /data/d/e/f "
                  "&& ln -s /data/d /data/ld")
    yield name
    daemon.docker("rm", "-f", name, check=False)


@pytest.fixture
def stopped(daemon):
    name = f"cp-stopped-{secrets.token_hex(3)}"
    daemon.docker("run", "--name", name, "busybox", "sh", "-c",
                  f"echo {MARK} >> /etc/passwd; ln -s / /escape; mkdir -p /data/d; echo s > /data/d/f")
    yield name
    daemon.docker("rm", "-f", name, check=False)


def _tree(root: Path) -> list[str]:
    out = []
    for dirpath, dirs, files in os.walk(root):
        for n in sorted(dirs + files):
            out.append(os.path.relpath(os.path.join(dirpath, n), root))
    return sorted(out)


@pytest.mark.parametrize("cli", CLIS)
def test_file_round_trip_running(daemon, box, cli, tmp_path):
    run = getattr(daemon, cli)
    src = tmp_path / "in.txt"
    src.write_text("to-container\n")
    run("cp", str(src), f"{box}:/tmp/in-{cli}.txt")
    assert daemon.docker("exec", box, "cat", f"/tmp/in-{cli}.txt").stdout_text == "to-container\n"
    run("cp", f"{box}:/tmp/in-{cli}.txt", str(tmp_path / "out.txt"))
    assert (tmp_path / "out.txt").read_text() == "to-container\n"


@pytest.mark.parametrize("cli", CLIS)
def test_directories_and_trailing_dot(daemon, box, cli, tmp_path):
    run = getattr(daemon, cli)
    run("cp", f"{box}:/data/d", str(tmp_path / "a"))            # a new name for the directory
    assert _tree(tmp_path / "a") == ["e", "e/f"]
    (tmp_path / "b").mkdir()
    run("cp", f"{box}:/data/d", str(tmp_path / "b"))            # into an existing directory
    assert _tree(tmp_path / "b") == ["d", "d/e", "d/e/f"]
    (tmp_path / "c").mkdir()
    run("cp", f"{box}:/data/d/.", str(tmp_path / "c"))          # the contents only
    assert _tree(tmp_path / "c") == ["e", "e/f"]
    run("cp", f"{box}:/data/ld", str(tmp_path / "link"))         # a symlink is copied as itself
    assert os.readlink(tmp_path / "link") == "/data/d"
    run("cp", "-L", f"{box}:/data/ld", str(tmp_path / "followed"))
    assert _tree(tmp_path / "followed") == ["e", "e/f"]

    local = tmp_path / "local"
    (local / "sub").mkdir(parents=True)
    (local / "sub" / "x").write_text("x")
    run("cp", str(local), f"{box}:/tmp/dir-{cli}")
    run("cp", str(local) + "/.", f"{box}:/tmp/dot-{cli}")
    run("exec", box, "mkdir", "-p", f"/tmp/existing-{cli}")
    run("cp", str(local), f"{box}:/tmp/existing-{cli}")
    got = daemon.docker("exec", box, "sh", "-c", f"cd /tmp && find dir-{cli} dot-{cli} existing-{cli} | sort")
    assert got.stdout_text.split() == sorted([
        f"dir-{cli}", f"dir-{cli}/sub", f"dir-{cli}/sub/x", f"dot-{cli}", f"dot-{cli}/sub", f"dot-{cli}/sub/x",
        f"existing-{cli}", f"existing-{cli}/local", f"existing-{cli}/local/sub", f"existing-{cli}/local/sub/x"])


@pytest.mark.parametrize("cli", CLIS)
def test_stopped_container_both_ways(daemon, stopped, cli, tmp_path):
    run = getattr(daemon, cli)
    run("cp", f"{stopped}:/data/d/f", str(tmp_path / "f"))
    assert (tmp_path / "f").read_text() == "s\n"
    (tmp_path / "new").write_text("written while stopped\n")
    run("cp", str(tmp_path / "new"), f"{stopped}:/data/d/new")
    run("cp", str(tmp_path / "new"), f"{stopped}:/escape/tmp/esc")
    # nothing stays mounted for the view of a stopped container
    assert not [line for line in open("/proc/self/mountinfo") if f"{daemon.dir}/exec/v/" in line]
    got = daemon.docker("export", stopped).stdout
    with tarfile.open(fileobj=io.BytesIO(got)) as tf:
        assert tf.extractfile("data/d/new").read() == tf.extractfile("tmp/esc").read() == b"written while stopped\n"


@pytest.mark.parametrize("cli", CLIS)
def test_symlink_escapes_read_the_container(daemon, box, stopped, cli, tmp_path):
    run = getattr(daemon, cli)
    # (a ".." in the path itself is cleaned lexically first, as Docker cleans it)
    for container, path in [(box, "/escape/etc/passwd"), (box, "/tmp/deep/er/up/etc/passwd"),
                            (box, "/tmp/deep/er/up/escape/tmp/deep/er/up/etc/passwd"), (stopped, "/escape/etc/passwd")]:
        out = tmp_path / f"p-{secrets.token_hex(3)}"
        run("cp", f"{container}:{path}", str(out))
        text = out.read_text()
        assert MARK in text and text != Path("/etc/passwd").read_text()


@pytest.mark.parametrize("cli", CLIS)
def test_symlink_escapes_write_the_container(daemon, box, cli, tmp_path):
    run = getattr(daemon, cli)
    src = tmp_path / "payload"
    src.write_text("payload\n")
    host_dir = Path(f"/tmp/dy-cp-host-{secrets.token_hex(4)}")
    host_dir.mkdir()
    try:
        daemon.docker("exec", box, "ln", "-sfn", str(host_dir), f"/tmp/hostlink-{cli}")
        names = {f"/escape/tmp/{host_dir.name}-a": f"/tmp/{host_dir.name}-a",
                 f"/tmp/deep/er/up/tmp/{host_dir.name}-b": f"/tmp/{host_dir.name}-b"}
        for dest, where in names.items():
            run("cp", str(src), f"{box}:{dest}")
            assert daemon.docker("exec", box, "cat", where).stdout_text == "payload\n"
            assert not Path(where).exists(), f"{dest} wrote {where} on the host"
        # a link to a host path names a container path: missing in the container, so a new file there
        p = run("cp", str(src), f"{box}:/tmp/hostlink-{cli}/c", check=False)
        assert p.returncode == 1 and f"Could not find the file /tmp/hostlink-{cli} in container" in p.stderr_text
        run("cp", str(src), f"{box}:/tmp/hostlink-{cli}")
        assert os.listdir(host_dir) == []
        assert daemon.docker("exec", box, "cat", str(host_dir)).stdout_text == "payload\n"
        daemon.docker("exec", box, "rm", str(host_dir))
    finally:
        for p in host_dir.iterdir():
            p.unlink()
        host_dir.rmdir()


@pytest.mark.parametrize("cli", CLIS)
def test_archive_breakout_entries_refused(daemon, box, cli, tmp_path):
    run = getattr(daemon, cli)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo(f"../../../../etc/dy-evil-{cli}")   # /tmp/../../../../etc: out of /tmp
        info.size = 4
        tf.addfile(info, io.BytesIO(b"evil"))
    p = run("cp", "-", f"{box}:/tmp", input=buf.getvalue(), check=False)
    assert p.returncode == 1 and "is outside of" in p.stderr_text
    assert not Path(f"/etc/dy-evil-{cli}").exists()


@pytest.mark.parametrize("cli", CLIS)
def test_missing_path_and_other_errors(daemon, box, cli, tmp_path):
    run = getattr(daemon, cli)
    p = run("cp", f"{box}:/nope", str(tmp_path / "x"), check=False)
    assert p.returncode == 1
    assert p.stderr_text.strip() == f"Error response from daemon: Could not find the file /nope in container {box}"
    p = run("cp", str(tmp_path), f"{box}:/nope/deeper/x", check=False)
    assert p.returncode == 1 and "Could not find the file /nope/deeper in container" in p.stderr_text
    p = run("cp", f"{box}:/etc/passwd", f"{box}:/tmp", check=False)
    assert p.returncode == 1 and p.stderr_text.strip() == "copying between containers is not supported"
    p = run("cp", str(tmp_path), str(tmp_path), check=False)
    assert p.returncode == 1 and p.stderr_text.strip() == "must specify at least one container source"
    daemon.docker("exec", box, "mkdir", "-p", f"/tmp/isdir-{cli}/f")
    (tmp_path / "f").write_text("f")
    p = run("cp", str(tmp_path / "f"), f"{box}:/tmp/isdir-{cli}/", check=False)
    assert p.returncode == 1
    assert f'cannot overwrite directory "/tmp/isdir-{cli}/f" with non-directory "/tmp/isdir-{cli}"' in p.stderr_text


@pytest.mark.parametrize("cli", CLIS)
def test_archive_mode_and_owners(daemon, cli, tmp_path):
    run = getattr(daemon, cli)
    name = f"cp-user-{cli}"
    daemon.docker("run", "-d", "--name", name, "-u", "nobody", "busybox", "sleep", "600")
    try:
        src = tmp_path / "owned"
        src.write_text("o")
        os.chown(src, 1234, 2345)
        run("cp", str(src), f"{name}:/tmp/kept")
        run("cp", "-a", str(src), f"{name}:/tmp/archived")
        got = daemon.docker("exec", name, "stat", "-c", "%n %u %g", "/tmp/kept", "/tmp/archived").stdout_text
        assert got.splitlines() == ["/tmp/kept 1234 2345", "/tmp/archived 65534 65534"]
    finally:
        daemon.docker("rm", "-f", name, check=False)


@pytest.mark.parametrize("cli", CLIS)
def test_stopped_container_shows_its_volumes_and_binds(daemon, cli, tmp_path):
    """cp sees a stopped container as it runs: volumes, binds and /etc files in place, read-only
    ones refused; nothing stays mounted after, and the container still starts."""
    run = getattr(daemon, cli)
    name, vol = f"cp-vols-{cli}", f"cp-vol-{cli}"
    host = tmp_path / "bind"
    host.mkdir()
    (host / "h").write_text("from the host\n")
    daemon.docker("run", "--name", name, "--hostname", "cpvols", "-v", f"{vol}:/v", "-v", f"{host}:/b:ro",
                  "--tmpfs", "/t", "busybox", "sh", "-c", "echo in volume > /v/f; echo lost > /t/x")
    try:
        run("cp", f"{name}:/v/f", str(tmp_path / "vf"))
        assert (tmp_path / "vf").read_text() == "in volume\n"
        run("cp", f"{name}:/b/h", str(tmp_path / "bh"))
        assert (tmp_path / "bh").read_text() == "from the host\n"
        run("cp", f"{name}:/etc/hostname", str(tmp_path / "hn"))
        assert (tmp_path / "hn").read_text() == "cpvols\n"
        p = run("cp", f"{name}:/t/x", str(tmp_path / "tx"), check=False)   # a tmpfs holds nothing when stopped
        assert p.returncode == 1 and "Could not find the file /t/x" in p.stderr_text
        (tmp_path / "up").write_text("copied up\n")
        run("cp", str(tmp_path / "up"), f"{name}:/v/up")
        assert (daemon.dir / "root" / "volumes" / vol / "_data" / "up").read_text() == "copied up\n"
        p = run("cp", str(tmp_path / "up"), f"{name}:/b/", check=False)
        assert p.returncode == 1
        assert p.stderr_text.strip() == "Error response from daemon: mounted volume is marked read-only"
        assert not (host / "up").exists()
        assert not [line for line in open("/proc/self/mountinfo") if f"{daemon.dir}/exec/v/" in line]
        assert daemon.docker("start", "-a", name).returncode == 0
        out = daemon.docker("run", "--rm", "-v", f"{vol}:/v", "busybox", "cat", "/v/up").stdout_text
        assert out == "copied up\n"
    finally:
        daemon.docker("rm", "-f", name, check=False)
        daemon.docker("volume", "rm", vol, check=False)


@pytest.mark.parametrize("cli", CLIS)
def test_read_only_rootfs(daemon, cli, tmp_path):
    run = getattr(daemon, cli)
    name = f"cp-ro-{cli}"
    daemon.docker("run", "-d", "--read-only", "--name", name, "busybox", "sleep", "600")
    try:
        (tmp_path / "f").write_text("f")
        p = run("cp", str(tmp_path / "f"), f"{name}:/tmp/", check=False)
        assert p.returncode == 1
        assert p.stderr_text.strip() == "Error response from daemon: container rootfs is marked read-only"
        run("cp", f"{name}:/etc/passwd", str(tmp_path / "p"))   # reading is fine
    finally:
        daemon.docker("rm", "-f", name, check=False)


@pytest.mark.parametrize("cli", CLIS)
def test_tar_streams_on_stdin_and_stdout(daemon, box, cli, tmp_path):
    run = getattr(daemon, cli)
    out = run("cp", f"{box}:/data/d", "-").stdout
    with tarfile.open(fileobj=io.BytesIO(out)) as tf:
        assert [m.name for m in tf.getmembers()] == ["d", "d/e", "d/e/f"]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo(f"from-stdin-{cli}")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"std"))
    run("cp", "-", f"{box}:/tmp", input=buf.getvalue())
    assert daemon.docker("exec", box, "cat", f"/tmp/from-stdin-{cli}").stdout_text == "std"
    p = run("cp", "-", f"{box}:/etc/passwd", input=buf.getvalue(), check=False)
    assert p.returncode == 1 and p.stderr_text.strip() == f'destination "{box}:/etc/passwd" must be a directory'


def test_successfully_copied_line_on_a_terminal(daemon, box, tmp_path):
    """With stdout on a terminal both print docker's summary line (the archive's size) on stderr."""
    import shutil
    import subprocess

    if not shutil.which("script"):
        pytest.skip("needs script(1)")
    lines = []
    for cmd in ([str(Path(daemon.env.get("DOCKER", "docker")))], [os.sys.executable, "-m", "dockyard.cli"]):
        target = tmp_path / secrets.token_hex(3)
        argv = " ".join([*cmd, "cp", f"{box}:/data/d/e/f", str(target)])
        p = subprocess.run(["script", "-qc", argv, "/dev/null"], env=daemon.env, capture_output=True, text=True)
        lines.append(p.stdout.strip().replace(str(target), "TARGET"))
    assert lines[0] == lines[1] == "Successfully copied 2.05kB to TARGET"


def test_docker_py_archive_calls(daemon, box):
    """docker-py's get_archive/put_archive, export, diff and df speak the same API."""
    import docker

    client = docker.DockerClient(base_url=daemon.host, timeout=60)
    try:
        c = client.containers.get(box)
        chunks, st = c.get_archive("/data/d/e/f")
        assert st["name"] == "f" and st["size"] == 2 and st["linkTarget"] == ""
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tf:
            assert tf.extractfile("f").read() == b"1\n"
        assert client.api.get_archive(box, "/data/ld")[1]["linkTarget"] == "/data/d"
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            info = tarfile.TarInfo("from-py")
            info.size = 2
            tf.addfile(info, io.BytesIO(b"py"))
        assert c.put_archive("/tmp", buf.getvalue()) is True
        assert daemon.docker("exec", box, "cat", "/tmp/from-py").stdout_text == "py"
        with pytest.raises(docker.errors.NotFound, match="Could not find the file /nope"):
            c.get_archive("/nope")
        assert {"Path": "/tmp/from-py", "Kind": 1} in c.diff()
        assert b"".join(c.export()).startswith(b"bin/")
        df = client.df()
        assert any(x["Id"] == c.id for x in df["Containers"]) and df["Volumes"] == []
    finally:
        client.close()


def test_client_leaving_early_releases_a_stopped_container(daemon, stopped):
    """A client that reads only the headers, or hangs up mid-archive, leaves nothing mounted or locked."""
    import socket
    import time

    for _ in range(5):
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(daemon.socket))
        s.sendall(f"GET /containers/{stopped}/archive?path=/bin HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert s.recv(12) == b"HTTP/1.1 200"
        s.close()
    deadline = time.time() + 10
    while time.time() < deadline:
        if not [line for line in open("/proc/self/mountinfo") if f"{daemon.dir}/exec/v/" in line]:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("a view of the stopped container stayed mounted")
    daemon.docker("start", stopped)   # its lock was released
    daemon.docker("wait", stopped)
