"""ImageService against a real data root: import, tag, list, history, rmi, prune, overlay mounts."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.engine.images import ImageService, LayerBlob
from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.oci.image_spec import HistoryItem, ImageConfig, RunConfig
from dockyard.store.db import Database
from dockyard.store.paths import Paths
from dockyard.store.snapshots import mount_rootfs, unmount

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/bin/busybox"),
                                reason="needs root and busybox-static")

C1 = "3f1c2" + "a" * 59   # container ids
C2 = "9e8d7" + "b" * 59


# ---------------------------------------------------------------- helpers

def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", linkname: str = "",
          mode: int | None = None) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode if mode is not None else (0o755 if kind == tarfile.DIRTYPE else 0o644)
    info.linkname = linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.mtime = 1_600_000_000
    return info, data


def tar_bytes(*entries: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info, data in entries:
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


class Trickle:
    """A body that arrives in small pieces, like a chunked HTTP request."""

    def __init__(self, data: bytes, piece: int = 1000) -> None:
        self._data, self._pos, self._piece = data, 0, piece

    def read(self, n: int = -1) -> bytes:
        n = self._piece if n < 0 else min(n, self._piece)
        out = self._data[self._pos:self._pos + n]
        self._pos += len(out)
        return out


@pytest.fixture(scope="module")
def busybox_tar(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A rootfs tar made the way the acceptance suite makes one."""
    root = tmp_path_factory.mktemp("bbroot")
    for d in ("bin", "etc", "tmp", "root", "proc", "sys", "dev", "var/www"):
        (root / d).mkdir(parents=True)
    shutil.copy2("/bin/busybox", root / "bin/busybox")
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, check=True, text=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            os.symlink("busybox", root / "bin" / applet)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    (root / "etc/group").write_text("root:x:0:\nnobody:x:65534:\n")
    os.chmod(root / "tmp", 0o1777)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.add(root, arcname=".")
    return buf.getvalue()


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    p = Paths(tmp_path / "data", tmp_path / "exec")
    p.ensure()
    return p


@pytest.fixture
def svc(paths: Paths) -> Iterator[ImageService]:
    db = Database(paths.db)
    yield ImageService(paths, db)
    db.close()


@pytest.fixture
def mounts() -> Iterator[list[str]]:
    targets: list[str] = []
    yield targets
    for t in reversed(targets):
        unmount(t)


def store_state(svc: ImageService) -> dict[str, Any]:
    p = svc.paths
    return {
        "blobs": sorted(os.listdir(p.blobs_dir)),
        "snapshots": sorted(os.listdir(p.snapshots_dir)),
        "tmp": sorted(os.listdir(p.tmp_dir)),
        **{t: [tuple(r) for r in svc.db.query(f"SELECT * FROM {t} ORDER BY 1")]
           for t in ("images", "tags", "snapshots", "snapshot_holds")},
    }


def mount_image(svc: ImageService, image_id: str, base: Path, mounts: list[str]) -> Path:
    upper, work, merged = base / "upper", base / "work", base / "merged"
    for d in (upper, work, merged):
        d.mkdir(parents=True)
    mount_rootfs(svc.rootfs_lowerdirs(image_id), str(upper), str(work), str(merged))
    mounts.append(str(merged))
    return merged


def import_busybox(svc: ImageService, data: bytes, repo: str = "busybox", tag: str | None = None):  # type: ignore[no-untyped-def]
    return svc.import_tar(io.BytesIO(data), repo=repo, tag=tag, changes=['CMD ["sh"]'])


def layer_image(svc: ImageService, *layers: bytes, tags: list[str] | None = None, parent: str = "",
                labels: dict[str, str] | None = None, created: str = "2024-01-01T00:00:00Z"):  # type: ignore[no-untyped-def]
    blobs: list[LayerBlob] = [svc.ingest_layer(io.BytesIO(data)) for data in layers]
    config = ImageConfig(diff_ids=tuple(b.diff_id for b in blobs), config=RunConfig(labels=labels or {}),
                         history=tuple(HistoryItem(created=created, created_by=f"layer {i}") for i in range(len(blobs))),
                         created=created)
    return svc.store_image(config, blobs, tags or [], parent=parent)


# ---------------------------------------------------------------- import

def test_import_busybox_tar_and_run_it(svc: ImageService, busybox_tar: bytes, tmp_path: Path,
                                       mounts: list[str]) -> None:
    rec = svc.import_tar(Trickle(gzip.compress(busybox_tar)), repo="busybox", tag=None, changes=['CMD ["sh"]'])
    assert rec.repo_tags == ["busybox:latest"] and rec.repo_digests == []
    raw = svc.content.read(rec.id)
    assert rec.id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert json.loads(raw) == rec.config
    assert rec.config["config"]["Cmd"] == ["sh"]
    assert rec.config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(busybox_tar).hexdigest()]
    assert rec.config["os"] == "linux" and rec.config["architecture"] == "amd64"
    assert rec.config["history"][0]["comment"] == "Imported from -"
    assert rec.size >= os.path.getsize("/bin/busybox")
    assert rec.last_tag_time
    # the layer blob is the uncompressed tar, so save can use it as it is
    (layer,) = svc.image_layers("busybox")
    assert layer.digest == layer.diff_id and svc.content.read(layer.digest) == busybox_tar
    merged = mount_image(svc, rec.id, tmp_path / "c1", mounts)
    out = subprocess.run([shutil.which("chroot") or "chroot", str(merged), "/bin/sh", "-c", "echo hello; id -u; ls -ld /tmp"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "hello" and out[1] == "0" and out[2].startswith("drwxrwxrwt")


def test_import_changes_message_and_platform(svc: ImageService) -> None:
    data = tar_bytes(entry("f", data=b"x"))
    rec = svc.import_tar(io.BytesIO(data), repo="acc/imp", tag="1", message="hello world",
                         changes=["ENV A=1", "EXPOSE 80", "WORKDIR /srv", 'ENTRYPOINT ["/f"]', "LABEL k=v"])
    cfg = rec.config["config"]
    assert cfg["Env"] == ["A=1"] and cfg["ExposedPorts"] == {"80/tcp": {}} and cfg["WorkingDir"] == "/srv"
    assert cfg["Entrypoint"] == ["/f"] and cfg["Labels"] == {"k": "v"}
    assert rec.config["comment"] == "hello world" and rec.config["history"][0]["comment"] == "hello world"
    assert rec.repo_tags == ["acc/imp:1"]
    untagged = svc.import_tar(io.BytesIO(data), repo=None, tag=None, changes=[], platform="linux/arm64")
    assert untagged.repo_tags == [] and untagged.config["architecture"] == "arm64"
    assert "Cmd" not in untagged.config["config"]


# ---------------------------------------------------------------- failures leave nothing behind

BAD_LAYERS = {
    "dotdot": tar_bytes(entry("ok", data=b"1"), entry("../evil", data=b"x")),
    "symlink-parent": tar_bytes(entry("link", tarfile.SYMTYPE, linkname="/"), entry("link/etc/x", data=b"x")),
    "hardlink-outside": tar_bytes(entry("ok", data=b"1"), entry("pw", tarfile.LNKTYPE, linkname="/etc/passwd")),
    "hardlink-dotdot": tar_bytes(entry("pw", tarfile.LNKTYPE, linkname="../../../../../../etc/passwd")),
    "corrupt-gzip": gzip.compress(tar_bytes(entry("big", data=os.urandom(200_000))))[:50_000],
    "not-a-tar": b"hello, this is not a tar file" * 30,
}


@pytest.mark.parametrize("name", sorted(BAD_LAYERS))
def test_failed_import_leaves_the_store_unchanged(svc: ImageService, name: str, tmp_path: Path) -> None:
    layer_image(svc, tar_bytes(entry("base", data=b"b")), tags=["base:1"])
    before = store_state(svc)
    passwd = Path("/etc/passwd").read_bytes()
    with pytest.raises(InvalidArgument):
        svc.import_tar(Trickle(BAD_LAYERS[name]), repo="bad", tag=None, changes=[])
    assert store_state(svc) == before
    assert Path("/etc/passwd").read_bytes() == passwd
    assert not Path("/evil").exists() and not Path("/etc/x").exists()
    assert not (svc.paths.data_root / "evil").exists()


def test_bad_change_or_reference_fails_before_reading(svc: ImageService) -> None:
    class Unreadable:
        def read(self, n: int = -1) -> bytes:
            raise AssertionError("the body must not be read")

    before = store_state(svc)
    with pytest.raises(InvalidArgument, match="run is not a valid change command"):
        svc.import_tar(Unreadable(), repo="x", tag=None, changes=["RUN true"])
    with pytest.raises(InvalidArgument, match="must be lowercase"):
        svc.import_tar(Unreadable(), repo="Upper", tag=None, changes=[])
    with pytest.raises(InvalidArgument, match="invalid tag format"):
        svc.import_tar(Unreadable(), repo="x", tag="bad tag", changes=[])
    assert store_state(svc) == before


def test_store_image_rejects_mismatched_layers(svc: ImageService) -> None:
    before = store_state(svc)
    blob = svc.ingest_layer(io.BytesIO(tar_bytes(entry("a", data=b"a"))))
    config = ImageConfig(diff_ids=("sha256:" + "0" * 64,))
    with pytest.raises(InvalidArgument, match="diff_ids"):
        svc.store_image(config, [blob], ["x"])
    state = store_state(svc)
    assert state["tmp"] == [] and state["snapshots"] == [] and state["images"] == []
    svc.content.delete(blob.digest)
    assert store_state(svc) == before


# ---------------------------------------------------------------- tag, list, resolve

def test_tag_resolve_and_list(svc: ImageService, busybox_tar: bytes) -> None:
    rec = import_busybox(svc, busybox_tar)
    svc.tag("busybox", "acc/solo", "2")
    svc.tag(rec.id, "localhost:5000/a/b", None)
    assert svc.resolve("acc/solo:2").repo_tags == ["acc/solo:2", "busybox:latest", "localhost:5000/a/b:latest"]
    hexid = rec.id.removeprefix("sha256:")
    for name in (rec.id, hexid, hexid[:12], hexid[:3], "sha256:" + hexid[:10], "busybox", "busybox:latest",
                 "docker.io/library/busybox:latest", "localhost:5000/a/b"):
        assert svc.resolve(name).id == rec.id, name
    with pytest.raises(NotFound, match="^No such image: nope:latest$"):
        svc.resolve("nope")
    with pytest.raises(NotFound, match="^No such image: acc/solo:3$"):
        svc.resolve("acc/solo:3")
    with pytest.raises(NotFound, match="^No such image: sha256:" + "0" * 64 + "$"):
        svc.resolve("0" * 64)
    with pytest.raises(InvalidArgument, match="invalid tag format"):
        svc.tag("busybox", "acc/solo", "bad:tag")
    with pytest.raises(InvalidArgument, match="must be lowercase"):
        svc.tag("busybox", "Acc/Solo", None)
    with pytest.raises(NotFound):
        svc.tag("nope", "acc/solo", "3")


def test_short_id_must_be_unique(svc: ImageService) -> None:
    recs = [layer_image(svc, tar_bytes(entry(f"f{i}", data=b"%d" % i)), tags=[f"img:{i}"]) for i in range(40)]
    first = {r.id[7] for r in recs}
    shared = next(c for c in first if sum(r.id[7] == c for r in recs) > 1)
    with pytest.raises(NotFound):
        svc.resolve(shared)
    for r in recs:
        assert svc.resolve(r.id[7:19]).id == r.id


def test_list_filters(svc: ImageService) -> None:
    old = layer_image(svc, tar_bytes(entry("a", data=b"a")), tags=["app:1", "other/x:2"], labels={"tier": "web"},
                      created="2024-01-01T00:00:00Z")
    mid = layer_image(svc, tar_bytes(entry("b", data=b"b")), tags=["app:2"], created="2024-02-01T00:00:00Z")
    new = layer_image(svc, tar_bytes(entry("c", data=b"c")), created="2024-03-01T00:00:00Z")
    ids = lambda records: [r.id for r in records]  # noqa: E731
    assert ids(svc.list()) == [new.id, mid.id, old.id]
    assert ids(svc.list(filters={"dangling": ["true"]})) == [new.id]
    assert ids(svc.list(filters={"dangling": ["false"]})) == [mid.id, old.id]
    assert ids(svc.list(filters={"label": ["tier=web"]})) == [old.id]
    assert ids(svc.list(filters={"label": ["tier=db"]})) == []
    assert ids(svc.list(filters={"before": ["app:2"]})) == [old.id]
    assert ids(svc.list(filters={"since": ["app:1"]})) == [new.id, mid.id]
    by_ref = svc.list(filters={"reference": ["app"]})
    assert ids(by_ref) == [mid.id, old.id]
    assert by_ref[1].repo_tags == ["app:1"]
    assert svc.list(filters={"reference": ["other/*"]})[0].repo_tags == ["other/x:2"]
    with pytest.raises(InvalidArgument, match="invalid filter 'colour'"):
        svc.list(filters={"colour": ["red"]})
    with pytest.raises(NotFound):
        svc.list(filters={"before": ["nope"]})


def test_parents_children_and_history(svc: ImageService) -> None:
    base = layer_image(svc, tar_bytes(entry("a", data=b"a" * 10)))
    child_layers = [tar_bytes(entry("a", data=b"a" * 10)), tar_bytes(entry("b", data=b"b" * 20))]
    blobs = [svc.ingest_layer(io.BytesIO(d)) for d in child_layers]
    config = ImageConfig(diff_ids=tuple(b.diff_id for b in blobs),
                         history=(HistoryItem(created="2024-01-01T00:00:00Z", created_by="layer 0"),
                                  HistoryItem(created="2024-01-02T00:00:00Z", created_by="ENV x=1", empty_layer=True),
                                  HistoryItem(created="2024-01-03T00:00:00Z", created_by="layer 1", comment="c")),
                         created="2024-01-03T00:00:00Z")
    child = svc.store_image(config, blobs, ["child:1"], parent=base.id)
    assert child.parent == base.id
    assert len(os.listdir(svc.paths.snapshots_dir)) == 2  # the base layer is shared
    assert [r.id for r in svc.list()] == [child.id]              # intermediate image hidden
    assert {r.id for r in svc.list(all=True)} == {child.id, base.id}
    hist = svc.history("child:1")
    assert [(h.id, h.created_by, h.size, h.tags) for h in hist] == [
        (child.id, "layer 1", 20, ["child:1"]), (base.id, "ENV x=1", 0, []), ("<missing>", "layer 0", 10, [])]
    assert hist[0].comment == "c" and hist[0].created == 1704240000
    with pytest.raises(Conflict, match=r"\(cannot be forced\) - image has dependent child images"):
        svc.remove(base.id, force=True)
    # the untagged parent is pruned along with its last child
    assert svc.remove("child:1") == [{"Untagged": "child:1"}, {"Deleted": child.id}, {"Deleted": child.top_chain_id},
                                     {"Deleted": base.id}, {"Deleted": base.top_chain_id}]
    assert svc.db.query("SELECT * FROM images") == []
    assert os.listdir(svc.paths.snapshots_dir) == [] and os.listdir(svc.paths.blobs_dir) == []


# ---------------------------------------------------------------- rmi

def test_remove_records_exactly_as_docker(svc: ImageService, busybox_tar: bytes) -> None:
    rec = import_busybox(svc, busybox_tar, "acc/solo", "1")
    svc.tag(rec.id, "acc/solo", "2")
    assert svc.remove("acc/solo:2") == [{"Untagged": "acc/solo:2"}]
    chain = rec.top_chain_id
    out = svc.remove("acc/solo:1")
    assert out == [{"Untagged": "acc/solo:1"}, {"Deleted": rec.id}, {"Deleted": chain}]
    assert store_state(svc)["blobs"] == [] and store_state(svc)["snapshots"] == []
    with pytest.raises(NotFound, match="No such image: acc/solo:1"):
        svc.remove("acc/solo:1")


def test_remove_conflicts(svc: ImageService, busybox_tar: bytes) -> None:
    rec = import_busybox(svc, busybox_tar)
    short = rec.id[7:19]
    users = {rec.id: [C1]}
    running: dict[str, list[str]] = {}
    use = lambda i: users.get(i, [])  # noqa: E731
    run = lambda i: running.get(i, [])  # noqa: E731
    with pytest.raises(Conflict) as exc:
        svc.remove("busybox", users=use, running=run)
    assert str(exc.value) == (f'conflict: unable to remove repository reference "busybox" (must force) - '
                              f"container 3f1c2aaaaaaa is using its referenced image {short}")
    with pytest.raises(Conflict) as exc:
        svc.remove(short, users=use, running=run)
    assert str(exc.value) == (f"conflict: unable to delete {short} (must be forced) - "
                              f"image is being used by stopped container 3f1c2aaaaaaa")
    running[rec.id] = [C1]
    with pytest.raises(Conflict) as exc:
        svc.remove(short, force=True, users=use, running=run)
    assert str(exc.value) == (f"conflict: unable to delete {short} (cannot be forced) - "
                              f"image is being used by running container 3f1c2aaaaaaa")
    # forcing the tag away while it runs only untags (as Docker does)
    assert svc.remove("busybox", force=True, users=use, running=run) == [{"Untagged": "busybox:latest"}]
    assert svc.resolve(rec.id).repo_tags == []
    svc.tag(rec.id, "busybox", None)
    assert svc.resolve("busybox").id == rec.id


def test_remove_by_id_with_several_repositories(svc: ImageService, busybox_tar: bytes) -> None:
    rec = import_busybox(svc, busybox_tar)
    svc.tag("busybox", "other", "x")
    short = rec.id[7:19]
    with pytest.raises(Conflict) as exc:
        svc.remove(short)
    assert str(exc.value) == (f"conflict: unable to delete {short} (must be forced) - "
                              "image is referenced in multiple repositories")
    out = svc.remove(short, force=True)
    assert out == [{"Untagged": "busybox:latest"}, {"Untagged": "other:x"}, {"Deleted": rec.id},
                   {"Deleted": rec.top_chain_id}]


def test_remove_by_id_with_one_tag_untags_it(svc: ImageService) -> None:
    rec = layer_image(svc, tar_bytes(entry("f", data=b"x")), tags=["solo:1"])
    assert svc.remove(rec.id) == [{"Untagged": "solo:1"}, {"Deleted": rec.id}, {"Deleted": rec.top_chain_id}]


def test_digest_references(svc: ImageService) -> None:
    dig = "sha256:" + "d" * 64
    rec = layer_image(svc, tar_bytes(entry("f", data=b"x")), tags=["127.0.0.1:5000/r/img:latest",
                                                                    f"127.0.0.1:5000/r/img@{dig}"])
    assert rec.repo_digests == [f"127.0.0.1:5000/r/img@{dig}"]
    assert svc.resolve(f"127.0.0.1:5000/r/img@{dig}").id == rec.id
    # as in the recorded trace: the last tag of a repository takes its digest references along
    assert svc.remove("127.0.0.1:5000/r/img:latest")[:2] == [
        {"Untagged": "127.0.0.1:5000/r/img:latest"}, {"Untagged": f"127.0.0.1:5000/r/img@{dig}"}]


def test_force_remove_keeps_layers_for_stopped_containers(svc: ImageService, busybox_tar: bytes, tmp_path: Path,
                                                          mounts: list[str]) -> None:
    rec = import_busybox(svc, busybox_tar)
    svc.db.connection().execute(
        "INSERT INTO containers (id, name, image_id, created, record) VALUES (?, 'c1', ?, 0, '{}')", (C1, rec.id))
    out = svc.remove("busybox", force=True)
    assert out == [{"Untagged": "busybox:latest"}, {"Deleted": rec.id}]  # no layer deleted: the container holds it
    with pytest.raises(NotFound):
        svc.resolve(rec.id)
    merged = mount_image(svc, rec.id, tmp_path / "c1", mounts)   # the container can still start
    assert (merged / "bin/busybox").exists()
    unmount(mounts.pop())
    assert svc.gc() == []
    svc.db.connection().execute("DELETE FROM containers WHERE id = ?", (C1,))
    assert svc.gc() == [rec.top_chain_id]
    state = store_state(svc)
    assert state["snapshots"] == [] and state["blobs"] == [] and state["snapshot_holds"] == []


def test_shared_layers_survive_until_the_last_image(svc: ImageService) -> None:
    base = tar_bytes(entry("base", data=b"b" * 100))
    a = layer_image(svc, base, tar_bytes(entry("a", data=b"a")), tags=["a:1"])
    b = layer_image(svc, base, tar_bytes(entry("b", data=b"b")), tags=["b:1"])
    assert len(os.listdir(svc.paths.snapshots_dir)) == 3
    out = svc.remove("a:1")
    assert [d for d in out if "Deleted" in d] == [{"Deleted": a.id}, {"Deleted": a.top_chain_id}]
    assert len(os.listdir(svc.paths.snapshots_dir)) == 2
    assert (Path(svc.rootfs_lowerdirs(b.id)[-1]) / "base").read_bytes() == b"b" * 100


# ---------------------------------------------------------------- prune

def test_prune(svc: ImageService) -> None:
    old = layer_image(svc, tar_bytes(entry("v1", data=b"1" * 1000)), tags=["app:latest"])
    new = layer_image(svc, tar_bytes(entry("v2", data=b"2" * 2000)), tags=["app:latest"])  # old is now dangling
    kept = layer_image(svc, tar_bytes(entry("k", data=b"k" * 10)), tags=["kept:1"])
    used = layer_image(svc, tar_bytes(entry("u", data=b"u" * 10)))
    users = lambda i: [C1] if i == used.id else []  # noqa: E731
    assert {r.id for r in svc.list(filters={"dangling": ["true"]})} == {old.id, used.id}
    deleted, reclaimed = svc.prune(users=users)
    assert deleted == [{"Deleted": old.id}, {"Deleted": old.top_chain_id}]
    assert reclaimed == 1000
    deleted, reclaimed = svc.prune(all=True, filters={"label!": ["keep"]}, users=users)
    assert {"Untagged": "app:latest"} in deleted and {"Deleted": new.id} in deleted
    assert {"Untagged": "kept:1"} in deleted and {"Deleted": kept.id} in deleted and reclaimed == 2010
    assert [r.id for r in svc.list(all=True)] == [used.id]
    with pytest.raises(InvalidArgument, match="invalid filter 'reference'"):
        svc.prune(filters={"reference": ["x"]})


# ---------------------------------------------------------------- whiteouts through overlay

def test_two_layer_whiteouts_on_overlay(svc: ImageService, tmp_path: Path, mounts: list[str]) -> None:
    lower = tar_bytes(entry("etc/", tarfile.DIRTYPE), entry("etc/a", data=b"a"), entry("etc/b", data=b"b"),
                      entry("dir/", tarfile.DIRTYPE), entry("dir/x", data=b"x"))
    upper = tar_bytes(entry("etc/", tarfile.DIRTYPE), entry("etc/.wh.a"),
                      entry("dir/", tarfile.DIRTYPE), entry("dir/.wh..wh..opq"), entry("dir/y", data=b"y"))
    rec = layer_image(svc, lower, upper, tags=["wh:1"])
    lowers = svc.rootfs_lowerdirs(rec.id)
    assert len(lowers) == 2 and (Path(lowers[1]) / "etc/a").exists()
    merged = mount_image(svc, rec.id, tmp_path / "ctr", mounts)
    assert sorted(os.listdir(merged / "etc")) == ["b"]
    assert sorted(os.listdir(merged / "dir")) == ["y"]
    (merged / "etc/new").write_text("n")
    assert (tmp_path / "ctr/upper/etc/new").read_text() == "n"
