import hashlib
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.errors import InvalidArgument
from dockyard.oci.digest import (
    Digest,
    DigestMismatch,
    DigestWriter,
    VerifyingReader,
    is_digest,
    parse_digest,
    sha256_digest,
)

HEX = "a" * 64


def test_parse_valid() -> None:
    d = parse_digest("sha256:" + HEX)
    assert d == Digest("sha256", HEX)
    assert str(d) == "sha256:" + HEX
    assert parse_digest("sha512:" + "0" * 128).algorithm == "sha512"


@pytest.mark.parametrize("value, message", [
    ("", "invalid checksum digest format"),
    ("sha256", "invalid checksum digest format"),
    ("sha256:", "invalid checksum digest format"),
    (":" + HEX, "invalid checksum digest format"),
    ("sha256:" + "a" * 63, "invalid checksum digest length"),
    ("sha256:" + "A" * 64, "invalid checksum digest format"),
    ("sha256:" + "g" * 64, "invalid checksum digest format"),
    ("md5:" + "a" * 32, "unsupported digest algorithm"),
    ("MD5:" + "a" * 32, "invalid checksum digest format"),
])
def test_parse_invalid(value: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        parse_digest(value)
    assert str(exc.value) == message
    assert not is_digest(value)


def test_sha256_digest() -> None:
    assert sha256_digest(b"") == "sha256:" + hashlib.sha256(b"").hexdigest()


def test_writer_hashes_and_tees() -> None:
    sink = io.BytesIO()
    w = DigestWriter(sink)
    for part in (b"hello ", b"world"):
        w.write(part)
    assert sink.getvalue() == b"hello world"
    assert w.size == 11
    assert w.digest == sha256_digest(b"hello world")


def test_verifying_reader_accepts_good_content() -> None:
    data = b"x" * 100_000
    r = VerifyingReader(io.BytesIO(data), sha256_digest(data), len(data))
    out = b""
    while chunk := r.read(4096):
        out += chunk
    assert out == data


def test_verifying_reader_rejects_bad_content() -> None:
    r = VerifyingReader(io.BytesIO(b"evil"), sha256_digest(b"good"))
    assert r.read(10) == b"evil"
    with pytest.raises(DigestMismatch, match="digest mismatch"):
        r.read(10)


def test_verifying_reader_rejects_wrong_size() -> None:
    r = VerifyingReader(io.BytesIO(b"abc"), sha256_digest(b"abc"), size=2)
    with pytest.raises(DigestMismatch, match="size"):
        r.verify()


@given(st.text(max_size=200))
def test_parse_never_crashes(value: str) -> None:
    try:
        d = parse_digest(value)
    except InvalidArgument:
        return
    assert parse_digest(str(d)) == d


@given(st.binary(max_size=5000), st.integers(min_value=1, max_value=700))
def test_reader_roundtrip(data: bytes, chunk: int) -> None:
    r = VerifyingReader(io.BytesIO(data), sha256_digest(data), len(data))
    out = bytearray()
    while piece := r.read(chunk):
        out += piece
    assert bytes(out) == data
