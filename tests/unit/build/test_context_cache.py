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
