"""make_context_tar against what the real docker CLI 28.2 sent for the same tree and .dockerignore.

golden_context.json was recorded by running `docker build` against a fake daemon socket
that saved the POST /build body, for every variant in context_tree.VARIANTS.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from context_tree import VARIANTS, make_context

from dockyard.build.context import make_context_tar
from dockyard.errors import InvalidArgument

GOLDEN = json.loads((Path(__file__).parent / "golden_context.json").read_text())


def _build(tmp_path: Path, key: str) -> tuple[str, list[tarfile.TarInfo], bytes]:
    _, dockerfile = VARIANTS[key]
    ctx = tmp_path / "ctx"
    make_context(str(ctx), key)
    out = io.BytesIO()
    name = make_context_tar(ctx, str(ctx / dockerfile) if dockerfile else None, out)
    data = out.getvalue()
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        members = tf.getmembers()
    return name, members, data


def _names(members: list[tarfile.TarInfo]) -> list[str]:
    return sorted(m.name + ("/" if m.isdir() else "") for m in members)


@pytest.mark.parametrize("key", sorted(VARIANTS))
def test_same_entries_as_docker_cli(tmp_path, key):
    want = GOLDEN[key]
    if "error" in want:
        with pytest.raises(InvalidArgument) as e:
            _build(tmp_path, key)
        assert [str(e.value)] == want["error"]
        return
    name, members, _ = _build(tmp_path, key)
    assert name == want["dockerfile"]
    assert _names(members) == want["names"]


def test_same_headers_as_docker_cli(tmp_path):
    _, members, _ = _build(tmp_path, "none")
    got = [[m.name, m.type.decode(), m.mode, m.uid, m.gid, m.size, int(m.mtime), m.linkname, m.uname, m.gname]
           for m in members]
    assert got == GOLDEN["none"]["headers"]


def test_dockerfile_outside_context_added_under_generated_name(tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "a").write_text("a\n")
    outside = tmp_path / "elsewhere.Dockerfile"
    outside.write_text("FROM scratch\n")
    out = io.BytesIO()
    name = make_context_tar(ctx, str(outside), out)
    assert name.startswith(".dockerfile.") and len(name) == len(".dockerfile.") + 20
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tf:
        files = {m.name: tf.extractfile(m).read() for m in tf if m.isreg()}
    assert files[name] == b"FROM scratch\n"
    assert files[".dockerignore"] == f".dockerignore\n{name}\n".encode()
    assert files["a"] == b"a\n"


def test_dockerfile_outside_context_appended_to_existing_dockerignore(tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / ".dockerignore").write_text("*.log")
    (ctx / "x.log").write_text("x")
    outside = tmp_path / "Dockerfile"
    outside.write_text("FROM scratch\n")
    out = io.BytesIO()
    name = make_context_tar(ctx, str(outside), out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tf:
        files = {m.name: tf.extractfile(m).read() for m in tf if m.isreg()}
    assert set(files) == {".dockerignore", name}
    assert files[".dockerignore"] == f"*.log\n{name}\n".encode()


def test_dockerfile_from_stdin(tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    out = io.BytesIO()
    name = make_context_tar(ctx, "-", out, stdin=io.BytesIO(b"FROM busybox\n"))
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tf:
        files = {m.name: tf.extractfile(m).read() for m in tf if m.isreg()}
    assert files[name] == b"FROM busybox\n"


def test_lowercase_dockerfile_found(tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "dockerfile").write_text("FROM scratch\n")
    assert make_context_tar(ctx, None, io.BytesIO()) == "dockerfile"


def test_cli_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidArgument) as e:
        make_context_tar(empty, None, io.BytesIO())
    assert str(e.value) == (
        "unable to prepare context: unable to evaluate symlinks in Dockerfile path: "
        f"lstat {empty}/Dockerfile: no such file or directory"
    )
    with pytest.raises(InvalidArgument) as e:
        make_context_tar(empty, "nope", io.BytesIO())  # -f is relative to the current directory
    assert str(e.value).endswith(f"lstat {tmp_path}/nope: no such file or directory")
    with pytest.raises(InvalidArgument) as e:
        make_context_tar("missing-dir", None, io.BytesIO())
    assert str(e.value) == 'unable to prepare context: path "missing-dir" not found'
    (tmp_path / "file").write_text("")
    with pytest.raises(InvalidArgument) as e:
        make_context_tar("file", None, io.BytesIO())
    assert str(e.value) == f"unable to prepare context: context must be a directory: {tmp_path}/file"


def test_socket_is_left_out_and_symlinked_context_dir_followed(tmp_path):
    import socket

    ctx = tmp_path / "real"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM scratch\n")
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(ctx / "sock"))
    try:
        os.symlink(ctx, tmp_path / "link")
        out = io.BytesIO()
        make_context_tar(tmp_path / "link", None, out)
    finally:
        s.close()
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tf:
        assert tf.getnames() == ["Dockerfile"]
