"""The built-in busybox image made from the host's static busybox."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon_harness import Daemon
from dockyard.engine import aptsources, bootstrap_catalog
from dockyard.engine.bootstrap import bootstrap_busybox, busybox_layer
from dockyard.engine.bootstrap_service import Bootstrapper
from dockyard.engine.hostsettings import local_ca_files
from dockyard.engine.images import ImageService
from dockyard.errors import SystemError_
from dockyard.store.db import Database
from dockyard.store.paths import Paths
from dockyard.store.snapshots import mount_rootfs, unmount

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/bin/busybox"),
                                reason="needs root and busybox-static")


def new_service(root: Path) -> tuple[ImageService, Database]:
    paths = Paths(root / "data", root / "exec")
    paths.ensure()
    db = Database(paths.db)
    return ImageService(paths, db), db


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[ImageService]:
    service, db = new_service(tmp_path)
    yield service
    db.close()


def test_bootstrap_is_stable_and_second_call_does_not_unpack(svc: ImageService, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    first = bootstrap_busybox(svc)
    assert first.repo_tags == ["busybox:latest"]
    assert first.config["config"]["Cmd"] == ["sh"]
    assert first.config["created"] == "2024-01-01T00:00:00Z"

    def no_unpack(*a: object, **k: object) -> None:
        raise AssertionError("a second bootstrap must not ingest the layer again")

    monkeypatch.setattr(svc, "ingest_layer", no_unpack)
    assert bootstrap_busybox(svc).id == first.id
    svc.tag("busybox", "mine", None)
    assert svc.remove("busybox") == [{"Untagged": "busybox:latest"}]
    assert bootstrap_busybox(svc).repo_tags == ["busybox:latest", "mine:latest"]   # only retagged
    monkeypatch.undo()
    # another data root gets the same image id from the same binary
    other, db = new_service(tmp_path / "other")
    try:
        assert bootstrap_busybox(other, "bb:1").id == first.id
    finally:
        db.close()


def test_layer_contents(svc: ImageService) -> None:
    stream, version = busybox_layer()
    assert version.startswith("BusyBox v")
    data = stream.read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        members = {m.name: m for m in tf.getmembers()}
    assert members["bin/busybox"].size == os.path.getsize("/bin/busybox")
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "busybox"
    assert "bin/busybox" in members and not any(n == "bin/busybox" and m.issym() for n, m in members.items())
    assert members["tmp"].mode == 0o1777 and members["root"].mode == 0o700
    assert all(m.uid == 0 and m.gid == 0 and m.mtime == 1704067200 for m in members.values())
    for d in ("proc", "sys", "dev", "etc", "home", "var"):
        assert members[d].isdir()
    passwd = tf_read(data, "etc/passwd")
    assert b"root:x:0:0:" in passwd and b"nobody:x:65534:65534:" in passwd
    assert b"nobody:x:65534:" in tf_read(data, "etc/group")


def tf_read(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        f = tf.extractfile(name)
        assert f is not None
        return f.read()


def test_the_image_runs(svc: ImageService, tmp_path: Path) -> None:
    rec = bootstrap_busybox(svc)
    upper, work, merged = tmp_path / "u", tmp_path / "w", tmp_path / "m"
    for d in (upper, work, merged):
        d.mkdir()
    mount_rootfs(svc.rootfs_lowerdirs(rec.id), str(upper), str(work), str(merged))
    try:
        out = subprocess.run([shutil.which("chroot") or "chroot", str(merged), "/bin/sh", "-c",
                              "echo hi; ls /bin | wc -l; whoami"],
                             capture_output=True, text=True, check=True, env={"PATH": "/bin"}).stdout.split()
        assert out[0] == "hi" and int(out[1]) > 100 and out[2] == "root"
    finally:
        unmount(str(merged))


def test_missing_or_dynamic_busybox(svc: ImageService, tmp_path: Path) -> None:
    with pytest.raises(SystemError_, match="not found .*busybox-static"):
        bootstrap_busybox(svc, path=str(tmp_path / "nope"))
    with pytest.raises(SystemError_, match="dynamically linked"):
        bootstrap_busybox(svc, path="/bin/ls")
    assert svc.list() == []


# ---------------------------------------------------------------- debian:bookworm and python:3.11-slim
# The daemons of every test run share one bootstrap cache (debootstrap and apt downloads, built layers):
# only the first run on a machine, or one after the mirror or the host's sources changed, builds.
BOOTSTRAP_CACHE = Path(os.environ.get("DOCKYARD_TEST_BOOTSTRAP_CACHE", "/var/cache/dockyard-test/bootstrap"))
DEBIAN_TAGS = ["debian:bookworm", "debian:12", "debian:latest"]
PYTHON_TAGS = ["python:3.11-slim", "python:3.11", "python:3-slim", "python:3.11-slim-bookworm"]


@pytest.fixture(scope="module")
def bsd() -> Iterator[Daemon]:
    d = Daemon(extra_args=["--bootstrap-cache", str(BOOTSTRAP_CACHE)])
    try:
        d.start()
        yield d
    finally:
        left = d.stop()
    assert not any(left.values()), f"the daemon left these behind: {left}"


def image_id(d: Daemon, ref: str) -> str:
    return d.docker("image", "inspect", "-f", "{{.Id}}", ref).stdout_text.strip()


RAN_DEBOOTSTRAP, RAN_APT = "debootstrap --variant=minbase", "apt-get: "


def built_or_imported(out: str, name: str) -> bool:
    return (f"Importing {name} from the bootstrap cache" in out) != (RAN_DEBOOTSTRAP in out or RAN_APT in out)


@pytest.mark.slow
def test_bootstrap_debian_and_python(bsd: Daemon) -> None:
    out = bsd.dockyard("bootstrap", "debian:bookworm", timeout=1800).stdout_text
    assert out.startswith("Bootstrapping debian:bookworm (") and "Created debian:bookworm" in out
    assert built_or_imported(out, "debian:bookworm"), out
    debian = image_id(bsd, "debian:bookworm")
    assert {image_id(bsd, t) for t in DEBIAN_TAGS} == {debian}
    assert bsd.docker("run", "--rm", "debian:bookworm", "cat", "/etc/debian_version").stdout_text.startswith("12.")
    cfg = json.loads(bsd.docker("image", "inspect", "-f", "{{json .Config}}", "debian").stdout_text)
    assert cfg["Cmd"] == ["bash"] and cfg["Env"] == [bootstrap_catalog.PATH_ENV]
    sources = bsd.docker("run", "--rm", "debian", "cat", "/etc/apt/sources.list.d/debian.sources").stdout_text
    host = aptsources.read_host_sources()
    assert sources == aptsources.image_sources(host, aptsources.host_codename(Path("/etc/os-release").read_text(),
                                                                              host), "bookworm")
    # apt works inside: the host's mirror, its -updates and -security (the network is the host's)
    policy = bsd.docker("run", "--rm", "--network", "host", "debian", "sh", "-c",
                        "apt-get update -qq && apt-cache policy", timeout=300).stdout_text
    assert "bookworm/main" in policy and "bookworm-security/main" in policy

    out = bsd.dockyard("bootstrap", "python:3.11-slim", timeout=1800).stdout_text
    assert "Image is up to date for debian:bookworm" in out and "Created python:3.11-slim" in out
    assert RAN_DEBOOTSTRAP not in out and built_or_imported(out, "python:3.11-slim"), out
    python = image_id(bsd, "python:3.11-slim")
    assert {image_id(bsd, t) for t in PYTHON_TAGS} == {python}
    version = bsd.docker("run", "--rm", "python:3.11-slim", "python", "-c",
                         "import sys; print(sys.version)").stdout_text
    assert version.startswith("3.11.")
    assert "(python 3.11)" in bsd.docker("run", "--rm", "python:3.11", "pip", "--version").stdout_text
    # pip installs as in the official image (no EXTERNALLY-MANAGED), offline from a local project
    script = ("mkdir /tmp/p && cd /tmp/p && echo 'print(\"hello from pip\")' > hello.py && "
              "printf 'from setuptools import setup\\nsetup(name=\"hello\", version=\"1\", py_modules=[\"hello\"])\\n'"
              " > setup.py && echo /tmp/p > /tmp/requirements.txt && cd / && "
              "pip install -q --no-index --no-build-isolation -r /tmp/requirements.txt 2>/dev/null && "
              "python -c 'import hello' && python3 -m venv /tmp/venv && /tmp/venv/bin/python -c 'import sys; "
              "print(sys.prefix)' && echo $LANG $PYTHON_VERSION")
    lines = bsd.docker("run", "--rm", "python:3.11-slim", "sh", "-c", script).stdout_text.split("\n")
    assert lines[:3] == ["hello from pip", "/tmp/venv", f"C.UTF-8 {version.split()[0]}"]
    # the host's local CAs are trusted inside (the registries are reached through them), and pip.conf is kept
    for name, _ in local_ca_files():
        base = name.rsplit("/", 1)[-1].removesuffix(".crt")
        bsd.docker("run", "--rm", "python:3.11-slim", "test", "-e", f"/etc/ssl/certs/{base}.pem")
    # the two images share the Debian layer
    layers = json.loads(bsd.docker("image", "inspect", "-f", "{{json .RootFS.Layers}}", "python:3.11-slim").stdout_text)
    assert layers[0] == json.loads(bsd.docker("image", "inspect", "-f", "{{json .RootFS.Layers}}",
                                              "debian").stdout_text)[0] and len(layers) == 2

    # a second bootstrap finds the images: no debootstrap, no apt-get, not even an import
    for name, tag in (("debian", "debian:bookworm"), ("python:3.11", "python:3.11-slim")):
        out = bsd.dockyard("bootstrap", name).stdout_text
        assert f"Image is up to date for {tag}" in out and f"Created {tag}" in out
        assert RAN_DEBOOTSTRAP not in out and RAN_APT not in out and "Importing" not in out, out

    # after rmi, both come back from the bootstrap cache: the same layers, so the same image IDs
    bsd.docker("rmi", *PYTHON_TAGS, *DEBIAN_TAGS)
    out = bsd.dockyard("bootstrap", "python:3-slim").stdout_text
    assert "Importing debian:bookworm from the bootstrap cache" in out
    assert "Importing python:3.11-slim from the bootstrap cache" in out
    assert RAN_DEBOOTSTRAP not in out and RAN_APT not in out, out
    assert image_id(bsd, "python:3.11-slim") == python and image_id(bsd, "debian:12") == debian


def test_unknown_base_image_lists_the_known_ones(bsd: Daemon) -> None:
    p = bsd.dockyard("bootstrap", "alpine:3", check=False)
    assert p.returncode == 1
    assert "unknown base image 'alpine:3': can bootstrap busybox" in p.stderr_text
    assert "debian:bookworm (also debian:12, debian:latest), python:3.11-slim (also python:3.11," in p.stderr_text


def test_unreachable_mirror_ends_the_stream_with_the_error() -> None:
    d = Daemon(extra_args=["--bootstrap-mirror", "http://127.0.0.1:9/debian"])
    try:
        d.start()
        p = d.dockyard("bootstrap", "debian", check=False)
        assert p.returncode == 1 and p.stdout_text.startswith("Bootstrapping debian:bookworm")
        assert "the mirror http://127.0.0.1:9/debian is unreachable" in p.stderr_text
        assert d.docker("images", "-q").stdout_text == ""
    finally:
        left = d.stop()
    assert not any(left.values()), f"the daemon left these behind: {left}"


def test_unreachable_mirror_is_a_clear_error(svc: ImageService, tmp_path: Path) -> None:
    # port 9 (discard) on loopback: nothing listens, the connection is refused at once
    b = Bootstrapper(svc, tmp_path / "cache", mirror="http://127.0.0.1:9/debian")
    messages: list[dict] = []
    with pytest.raises(SystemError_, match=r"the mirror http://127.0.0.1:9/debian is unreachable"):
        b.bootstrap(b.target("debian"), messages.append)
    assert svc.list() == [] and list((tmp_path / "cache").rglob("*.json")) == []
    assert not any(svc.paths.tmp_dir.iterdir())   # the build dir is gone


TUTORIAL_APP = '''import six

print("hello from the tutorial app, six", six.__version__)
'''


@pytest.mark.slow
def test_tutorial_python_app_builds_and_runs(bsd: Daemon, tmp_path: Path) -> None:
    """The seed tutorials' Dockerfile: a python:3.x-slim app with requirements installed by pip from
    the package registry (RUN's default network reaches it), and a two-stage build whose final
    image holds only the artifact."""
    bsd.dockyard("bootstrap", "python:3.11-slim", timeout=1800)
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("six==1.16.0\n")
    (app / "app.py").write_text(TUTORIAL_APP)
    (app / "Dockerfile").write_text("""FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
CMD ["python", "app.py"]
""")
    out = bsd.docker("build", "-t", "tutorial/app", str(app), timeout=600).stdout_text
    assert "Successfully installed six-1.16.0" in out and "Successfully tagged tutorial/app:latest" in out
    assert bsd.docker("run", "--rm", "tutorial/app").stdout_text == "hello from the tutorial app, six 1.16.0\n"
    (app / "app.py").write_text(TUTORIAL_APP.replace("hello", "hi"))
    out = bsd.docker("build", "-t", "tutorial/app", str(app), timeout=600).stdout_text
    assert out.count("Using cache") == 3            # WORKDIR, COPY requirements.txt, pip install
    assert bsd.docker("run", "--rm", "tutorial/app").stdout_text.startswith("hi from")

    (app / "Dockerfile.multi").write_text("""FROM python:3.11-slim AS build
WORKDIR /src
COPY app.py .
RUN python -m py_compile app.py && mkdir /out && cp __pycache__/*.pyc /out/app.pyc
FROM busybox
COPY --from=build /out/app.pyc /app.pyc
CMD ["ls", "-l", "/app.pyc"]
""")
    bsd.dockyard("bootstrap", "busybox")
    bsd.docker("build", "-f", str(app / "Dockerfile.multi"), "-t", "tutorial/multi", str(app), timeout=600)
    assert "/app.pyc" in bsd.docker("run", "--rm", "tutorial/multi").stdout_text
    assert bsd.docker("run", "--rm", "tutorial/multi", "test", "-e", "/usr/bin/python3",
                      check=False).returncode == 1
    size = int(bsd.docker("image", "inspect", "-f", "{{.Size}}", "tutorial/multi").stdout_text)
    assert size < 5 << 20                            # busybox and the artifact, not Python
    bsd.docker("rmi", "tutorial/app", "tutorial/multi")
