"""build/context_cache.py: the same tar is unpacked once; entries in use are never evicted."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from dockyard.build.context_cache import ContextCache


def tar_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def unpacker(calls: list[str]):
    def unpack(stream, dest: Path, name: str) -> bytes:
        calls.append(name)
        dest.mkdir()
        with tarfile.open(fileobj=stream) as tf:
            tf.extractall(dest)  # our own tar, in a test
        return (dest / name).read_bytes()
    return unpack


def test_same_tar_is_unpacked_once_and_eviction_spares_entries_in_use(tmp_path: Path) -> None:
    cache = ContextCache(tmp_path / "ctx", keep=1)
    calls: list[str] = []
    one = tar_of({"Dockerfile": b"FROM a\n", "f": b"1"})
    a = cache.acquire(io.BytesIO(one), "Dockerfile", unpacker(calls))
    b = cache.acquire(io.BytesIO(one), "Dockerfile", unpacker(calls))
    assert a is b and calls == ["Dockerfile"] and a.dockerfile == b"FROM a\n"
    c = cache.acquire(io.BytesIO(tar_of({"Dockerfile": b"FROM c\n"})), "Dockerfile", unpacker(calls))
    assert c.dockerfile == b"FROM c\n" and a.dir.is_dir()         # a is in use: kept despite keep=1
    for entry in (a, b, c):
        cache.release(entry)
    assert not a.dir.exists() and c.dir.is_dir()                  # idle now: the older one goes
    d = cache.acquire(io.BytesIO(one), "f", unpacker(calls))  # another Dockerfile name: a new key
    assert calls[-1] == "f" and d is not a
    cache.release(d)
    cache.clear()
    assert not (tmp_path / "ctx").exists()


def test_records_show_each_kept_context_with_its_size_use_and_history(tmp_path: Path) -> None:
    from dockyard.fsusage import disk_usage

    cache = ContextCache(tmp_path / "ctx", keep=3)
    one = tar_of({"Dockerfile": b"FROM a\n", "data": b"x" * 50_000})
    a = cache.acquire(io.BytesIO(one), "Dockerfile", unpacker([]))
    [r] = cache.records()
    assert (r.id, r.type, r.description, r.in_use, r.shared) == (a.id, "source.local", "local source for context",
                                                                 True, False)
    assert r.size == disk_usage(a.dir.parent) > 50_000 and r.parents == ()
    assert r.usage_count == 0 and r.last_used_ns is None                # still in its first use
    cache.release(a)
    b = cache.acquire(io.BytesIO(one), "Dockerfile", unpacker([]))
    cache.release(b)
    [r] = cache.records()
    assert not r.in_use and r.usage_count == 2 and r.last_used_ns >= r.created_ns
    cache.clear()


def test_prune_removes_only_idle_entries_and_a_pruned_context_is_unpacked_again(tmp_path: Path) -> None:
    cache = ContextCache(tmp_path / "ctx", keep=3)
    calls: list[str] = []
    busy = cache.acquire(io.BytesIO(tar_of({"Dockerfile": b"FROM busy\n"})), "Dockerfile", unpacker(calls))
    idle = cache.acquire(io.BytesIO(tar_of({"Dockerfile": b"FROM idle\n", "f": b"y" * 9000})), "Dockerfile",
                         unpacker(calls))
    cache.release(idle)
    size = {r.id: r.size for r in cache.records()}[idle.id]
    removed = cache.prune(lambda records: records)          # a plan that asks for everything
    assert removed == [(idle.id, size)]                      # the one in use stays
    assert not idle.dir.parent.exists() and busy.dir.is_dir()
    assert [r.id for r in cache.records()] == [busy.id]
    again = cache.acquire(io.BytesIO(tar_of({"Dockerfile": b"FROM idle\n", "f": b"y" * 9000})), "Dockerfile",
                          unpacker(calls))
    assert len(calls) == 3 and again.id == idle.id and (again.dir / "f").read_bytes() == b"y" * 9000
    cache.release(again)
    cache.release(busy)
    cache.clear()


def test_an_entry_removed_behind_the_caches_back_is_neither_reported_nor_reused(tmp_path: Path) -> None:
    import shutil

    cache = ContextCache(tmp_path / "ctx", keep=3)
    calls: list[str] = []
    one = tar_of({"Dockerfile": b"FROM a\n"})
    a = cache.acquire(io.BytesIO(one), "Dockerfile", unpacker(calls))
    cache.release(a)
    shutil.rmtree(a.dir.parent)
    assert cache.records() == []
    b = cache.acquire(io.BytesIO(one), "Dockerfile", unpacker(calls))
    assert len(calls) == 2 and b.dir.is_dir()
    cache.release(b)
    cache.clear()
