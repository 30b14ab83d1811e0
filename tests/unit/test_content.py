import io
import os
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument, NotFound
from dockyard.oci.digest import DigestMismatch, sha256_digest
from dockyard.store.content import ContentStore
from dockyard.store.paths import Paths


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    paths = Paths(tmp_path / "data", tmp_path / "exec")
    paths.ensure()
    return ContentStore(paths)


def test_put_read_exists_delete(store: ContentStore) -> None:
    info = store.put(b"hello")
    assert info.digest == sha256_digest(b"hello") and info.size == 5 and info.created
    assert store.exists(info.digest)
    assert store.read(info.digest) == b"hello"
    assert store.size(info.digest) == 5
    assert store.path(info.digest) == store.paths.blobs_dir / info.digest.partition(":")[2]
    assert store.list() == [info.digest]
    again = store.put(b"hello")
    assert again.digest == info.digest and not again.created
    assert store.delete(info.digest)
    assert not store.exists(info.digest) and not store.delete(info.digest)
    with pytest.raises(NotFound):
        store.read(info.digest)
    assert list(store.paths.tmp_dir.iterdir()) == []


def test_stream_with_expected_digest(store: ContentStore) -> None:
    data = os.urandom(3 << 20)
    info = store.put_stream(io.BytesIO(data), expected=sha256_digest(data), expected_size=len(data))
    assert store.read(info.digest) == data
    with store.open(info.digest, verify=True) as f:
        assert f.read() == data


def test_wrong_digest_is_never_visible(store: ContentStore) -> None:
    wrong = sha256_digest(b"something else")
    with pytest.raises(DigestMismatch):
        store.put_stream(io.BytesIO(b"payload"), expected=wrong)
    assert store.list() == []
    assert list(store.paths.tmp_dir.iterdir()) == []


def test_partial_write_is_never_visible(store: ContentStore) -> None:
    class Broken:
        def __init__(self) -> None:
            self.calls = 0

        def read(self, n: int) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise OSError("connection reset")
            return b"x" * 1000

    with pytest.raises(OSError, match="connection reset"):
        store.put_stream(Broken())
    assert store.list() == []
    assert list(store.paths.tmp_dir.iterdir()) == []


def test_writer_context_discards_uncommitted(store: ContentStore) -> None:
    with store.writer() as w:
        w.write(b"abc")
        temp = w.temp_path
        assert temp.exists()
    assert not temp.exists()
    assert store.list() == []


def test_size_check(store: ContentStore) -> None:
    with pytest.raises(DigestMismatch, match="size"):
        store.put_stream(io.BytesIO(b"abcd"), expected_size=3)


def test_read_verifies(store: ContentStore) -> None:
    info = store.put(b"original")
    store.path(info.digest).write_bytes(b"tampered")
    with pytest.raises(DigestMismatch):
        store.read(info.digest)
    assert store.read(info.digest, verify=False) == b"tampered"


def test_bad_digest_argument(store: ContentStore) -> None:
    with pytest.raises(InvalidArgument):
        store.exists("sha256:nothex")
