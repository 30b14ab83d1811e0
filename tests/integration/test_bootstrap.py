"""The built-in busybox image made from the host's static busybox."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.engine.bootstrap import bootstrap_busybox, busybox_layer
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
