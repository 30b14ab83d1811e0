"""SnapshotStore and overlay mounting on the real kernel."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument
from dockyard.oci.image_spec import chain_ids
from dockyard.store.content import ContentStore
from dockyard.store.db import Database
from dockyard.store.paths import Paths
from dockyard.store.snapshots import SnapshotStore, is_mountpoint, mount_rootfs, unmount

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def layer(*files: tuple[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SnapshotStore]:
    # a long data root, so that many lowerdirs overflow mount(2)'s one page of options
    root = tmp_path / ("d" * 100) / ("e" * 100)
    paths = Paths(root / "data", tmp_path / "exec")
    paths.ensure()
    db = Database(paths.db)
    yield SnapshotStore(paths, db, ContentStore(paths))
    db.close()


@pytest.fixture
def mounts() -> Iterator[list[str]]:
    targets: list[str] = []
    yield targets
    for t in reversed(targets):
        unmount(t)


def add_layers(store: SnapshotStore, layers: list[bytes]) -> list[str]:
    diff_ids = []
    for data in layers:
        info = store.content.put(data)
        diff_ids.append(info.digest)
    chains = chain_ids(diff_ids)
    for i, diff_id in enumerate(diff_ids):
        store.ensure_snapshot(chains[i], chains[i - 1] if i else None, diff_id, diff_id)
    return chains


def test_ensure_snapshot_unpacks_once(store: SnapshotStore) -> None:
    data = layer(("f", b"1"))
    (chain,) = add_layers(store, [data])
    info, created = store.ensure_snapshot(chain, None, chain, chain)
    assert not created and info.size == 1
    assert (Path(info.path) / "f").read_bytes() == b"1"
    assert store.lowerdirs(chain) == [info.path]
    assert os.listdir(store.paths.tmp_dir) == []


def test_ensure_snapshot_checks_the_diff_id(store: SnapshotStore) -> None:
    blob = store.content.put(layer(("f", b"1"))).digest
    with pytest.raises(InvalidArgument, match="diff_id"):
        store.ensure_snapshot("sha256:" + "0" * 64, None, "sha256:" + "0" * 64, blob)
    assert os.listdir(store.paths.snapshots_dir) == [] and os.listdir(store.paths.tmp_dir) == []
    assert store.db.query("SELECT * FROM snapshots") == []


def test_leftover_dir_without_row_is_not_trusted(store: SnapshotStore) -> None:
    data = layer(("f", b"real"))
    digest = store.content.put(data).digest
    junk = store.paths.snapshot(digest) / "fs"
    junk.mkdir(parents=True)
    (junk / "f").write_bytes(b"junk")
    store.ensure_snapshot(digest, None, digest, digest)
    assert (junk / "f").read_bytes() == b"real"


def test_many_layers_mount_in_order_beyond_one_page(store: SnapshotStore, tmp_path: Path, mounts: list[str]) -> None:
    n = 40
    layers = [layer((f"f{i}", b"%d" % i), ("shared", b"%d" % i)) for i in range(n)]
    chains = add_layers(store, layers)
    lowers = store.lowerdirs(chains[-1])
    assert len(lowers) == n and lowers[0].endswith(chains[-1].partition(":")[2] + "/fs")
    assert len(":".join(lowers)) > 4096
    upper, work, target = tmp_path / "u", tmp_path / "w", tmp_path / "m"
    for d in (upper, work, target):
        d.mkdir()
    mount_rootfs(lowers, str(upper), str(work), str(target))
    mounts.append(str(target))
    assert is_mountpoint(str(target))
    assert (target / "shared").read_bytes() == b"%d" % (n - 1)  # the top layer wins
    assert all((target / f"f{i}").exists() for i in range(n))
    assert unmount(mounts.pop())
    assert not is_mountpoint(str(target))
    assert not unmount(str(target))


def test_readonly_and_empty_lowerdirs(store: SnapshotStore, tmp_path: Path, mounts: list[str]) -> None:
    (chain,) = add_layers(store, [layer(("f", b"x"))])
    for name, lowers, readonly in (("ro", store.lowerdirs(chain), True), ("empty", [], False)):
        base = tmp_path / name
        upper, work, target = base / "u", base / "w", base / "m"
        for d in (upper, work, target):
            d.mkdir(parents=True)
        mount_rootfs(lowers, str(upper), str(work), str(target), readonly=readonly)
        mounts.append(str(target))
        if readonly:
            assert (target / "f").read_bytes() == b"x"
            with pytest.raises(OSError):
                (target / "new").write_text("x")
        else:
            assert os.listdir(target) == []
            (target / "new").write_text("x")
            assert (upper / "new").exists()


def test_busy_mount_is_detached_lazily(store: SnapshotStore, tmp_path: Path, mounts: list[str]) -> None:
    (chain,) = add_layers(store, [layer(("f", b"x"))])
    upper, work, target = tmp_path / "u", tmp_path / "w", tmp_path / "m"
    for d in (upper, work, target):
        d.mkdir()
    mount_rootfs(store.lowerdirs(chain), str(upper), str(work), str(target))
    mounts.append(str(target))
    fd = os.open(target / "f", os.O_RDONLY)
    try:
        os.chdir(target)
        try:
            assert unmount(str(target))
        finally:
            os.chdir("/")
        mounts.pop()
        assert not is_mountpoint(str(target))
    finally:
        os.close(fd)


def test_remove_snapshot_only_when_unreferenced(store: SnapshotStore) -> None:
    chains = add_layers(store, [layer(("a", b"a")), layer(("b", b"b"))])
    with store.db.tx() as conn:
        conn.execute("INSERT INTO images (id, top_chain_id, created, added_at) VALUES ('sha256:x', ?, '', 0)",
                     (chains[1],))
    assert not store.remove_snapshot(chains[0])        # the parent of a used chain
    assert store.exists(chains[0])
    with store.db.tx() as conn:
        conn.execute("DELETE FROM images")
    assert store.remove_snapshot(chains[1]) and store.remove_snapshot(chains[0])
    assert os.listdir(store.paths.snapshots_dir) == [] and os.listdir(store.paths.tmp_dir) == []
    assert store.content.list() == []                   # their blobs went with them


def test_sweep_removes_crash_leftovers(store: SnapshotStore) -> None:
    (store.paths.tmp_dir / "snap-123" / "fs").mkdir(parents=True)
    (store.paths.snapshots_dir / ("f" * 64) / "fs").mkdir(parents=True)
    (chain,) = add_layers(store, [layer(("a", b"a"))])
    store.sweep()
    assert os.listdir(store.paths.tmp_dir) == []
    assert os.listdir(store.paths.snapshots_dir) == [chain.partition(":")[2]]
