"""VolumeService on a real SQLite store and data root: filters, prune rules, references, restore."""

from __future__ import annotations

import pytest

from dockyard import errors
from dockyard.engine.container_store import Container, ContainerStore
from dockyard.engine.volume_store import ANONYMOUS_LABEL, VolumeStore
from dockyard.engine.volumes import VolumeService
from dockyard.store.db import Database
from dockyard.volume.local import LocalDriver


@pytest.fixture()
def env(tmp_path):
    db = Database(tmp_path / "d.db")
    events: list[tuple] = []
    containers = ContainerStore(db)
    svc = VolumeService(VolumeStore(db), LocalDriver(tmp_path / "volumes"), containers,
                        emit=lambda *a, **k: events.append((a, k)))
    yield svc, containers, events, tmp_path
    db.close()


def _user(containers: ContainerStore, cid: str, volume: str) -> None:
    c = Container(id=cid, name=f"c{cid}", created="", created_ts=0.0, image_id="sha256:x", config={},
                  host_config={}, mount_points=[{"type": "volume", "name": volume, "destination": "/d"}])
    containers.insert(c)


def test_create_is_idempotent_and_anonymous_volumes_are_labelled(env):
    svc, _containers, events, _ = env
    a = svc.create("data", labels={"x": "1"})
    assert svc.create("data") is a and [e[0][:3] for e in events] == [("volume", "create", "data")]
    anon = svc.create()
    assert len(anon.name) == 64 and anon.labels == {ANONYMOUS_LABEL: ""} and anon.anonymous
    with pytest.raises(errors.NotFound, match='error looking up volume plugin nfs: plugin "nfs" not found'):
        svc.create("x2", driver="nfs")
    with pytest.raises(errors.InvalidArgument, match='^create bad: invalid option: "zz"$'):
        svc.create("bad", opts={"zz": "1"})
    assert svc.store.find("bad") is None


def test_list_filters(env):
    svc, containers, _, _ = env
    svc.create("web-data", labels={"app": "web", "tier": "db"})
    svc.create("cache", labels={"app": "cache"})
    svc.create("other")
    _user(containers, "1" * 64, "cache")

    def names(**f: list[str]) -> list[str]:
        return sorted(v.name for v in svc.list(f))

    assert names(name=["data"]) == ["web-data"]
    assert names(name=["^c.*e$"]) == ["cache"]          # a regular expression, as filters.Match
    assert names(label=["app"]) == ["cache", "web-data"]
    assert names(label=["app=web", "tier=db"]) == ["web-data"]
    assert names(dangling=["true"]) == ["other", "web-data"]
    assert names(dangling=["0"]) == ["cache"]
    assert names(driver=["local"]) == ["cache", "other", "web-data"]
    with pytest.raises(errors.InvalidArgument, match=r"^invalid filter 'dangling=\[maybe\]'$"):
        svc.list({"dangling": ["maybe"]})


def test_remove_refuses_a_volume_in_use(env):
    svc, containers, events, _ = env
    svc.create("busy")
    _user(containers, "2" * 64, "busy")
    for force in (False, True):
        with pytest.raises(errors.Conflict, match=f"^remove busy: volume is in use - \\[{'2' * 64}\\]$"):
            svc.remove("busy", force=force)
    containers.delete("2" * 64)
    svc.remove("busy")
    assert events[-1][0][:3] == ("volume", "destroy", "busy")
    with pytest.raises(errors.NotFound, match="^get busy: no such volume$"):
        svc.remove("busy")
    svc.remove("busy", force=True)


def test_prune_rules(env):
    svc, containers, events, _ = env
    anon = svc.create().name
    used_anon = svc.create().name
    _user(containers, "3" * 64, used_anon)
    svc.create("named", labels={"keep": "yes"})
    svc.create("named2")
    svc.create("tmpfs-vol", opts={"type": "tmpfs", "device": "tmpfs"})
    assert svc.prune({})[0] == [anon]
    assert events[-1][0][:3] == ("volume", "prune", "") and "reclaimed" in events[-1][1]
    assert svc.prune({"all": ["true"], "label!": ["keep=yes"]})[0] == ["named2"]
    assert svc.prune({"all": ["1"], "label": ["keep"]})[0] == ["named"]
    assert {v.name for v in svc.list({})} == {used_anon, "tmpfs-vol"}   # in use, or with driver options
    with pytest.raises(errors.InvalidArgument, match=r"^invalid filter 'all=\[1 0\]': only one value is expected$"):
        svc.prune({"all": ["1", "0"]})
    with pytest.raises(errors.InvalidArgument, match="strconv.ParseBool: parsing \"yes\": invalid syntax"):
        svc.prune({"all": ["yes"]})


def test_restore_adopts_a_data_dir_without_a_record(env):
    svc, _, _, tmp_path = env
    (tmp_path / "volumes" / "found" / "_data").mkdir(parents=True)
    (tmp_path / "volumes" / ".removing-gone").mkdir()
    svc.restore()
    assert svc.get("found").driver == "local"
    assert not (tmp_path / "volumes" / ".removing-gone").exists()


def test_a_volume_reserved_by_a_create_in_progress_is_in_use(env):
    svc, containers, _, _ = env
    anon = svc.create().name
    with svc.reserved([anon], "3" * 64):
        assert svc.users(anon) == ["3" * 64]
        assert svc.prune({})[0] == []
        with pytest.raises(errors.Conflict, match="volume is in use"):
            svc.remove(anon)
        _user(containers, "3" * 64, anon)        # recorded while still reserved: listed once
        assert svc.users(anon) == ["3" * 64]
    containers.delete("3" * 64)
    assert svc.users(anon) == [] and svc.prune({})[0] == [anon]
