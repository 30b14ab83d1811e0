"""Pure pieces of the runtime and shim, tested on bytes and strings (no root needed)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.oci.runtime_spec import Spec, default_mounts
from dockyard.runtime import syscalls as sc
from dockyard.runtime.capabilities import cap_number, caps_mask
from dockyard.runtime.lifecycle import Status, parse_signal
from dockyard.runtime.lookpath import ExecLookupError, look_path
from dockyard.runtime.namespaces import plan_namespaces
from dockyard.runtime.rootfs import parse_mount_options, recursive_attrs, secure_join
from dockyard.runtime.sync import describe, go_strerror
from dockyard.shim.jsonlog import LineSplitter, encode_entry
from dockyard.shim.protocol import (
    ExitStatus,
    FrameDecoder,
    decode,
    encode,
    exit_code_from_status,
    frame,
    rfc3339nano,
)

# -- framing -------------------------------------------------------------------------------------


def test_frame_header() -> None:
    assert frame(1, b"hi") == b"\x01\x00\x00\x00\x00\x00\x00\x02hi"
    assert frame(2, b"") == b"\x02" + b"\x00" * 7


@given(st.lists(st.tuples(st.sampled_from([1, 2]), st.binary(max_size=300)), max_size=20),
       st.integers(min_value=1, max_value=50))
def test_frames_roundtrip_in_any_chunking(chunks: list[tuple[int, bytes]], step: int) -> None:
    wire = b"".join(frame(s, p) for s, p in chunks)
    dec = FrameDecoder()
    got = []
    for i in range(0, len(wire), step):
        got.extend(dec.feed(wire[i:i + step]))
    assert got == chunks and dec.pending == 0


def test_protocol_lines() -> None:
    assert encode({"op": "start"}) == b'{"op":"start"}\n'
    assert decode(b'{"op":"kill","signal":9}\n') == {"op": "kill", "signal": 9}
    with pytest.raises(ValueError):
        decode(b"[1]")
    es = ExitStatus(137, True, "2026-01-01T00:00:00Z")
    assert ExitStatus.from_dict(json.loads(json.dumps(es.to_dict()))) == es


def test_rfc3339nano_trims_like_go() -> None:
    assert rfc3339nano(0) == "1970-01-01T00:00:00Z"
    assert rfc3339nano(1_500_000_000) == "1970-01-01T00:00:01.5Z"
    assert rfc3339nano(1_800_000_000_123_456_789) == "2027-01-15T08:00:00.123456789Z"


def test_exit_codes() -> None:
    assert exit_code_from_status(3 << 8) == 3
    assert exit_code_from_status(9) == 137
    assert exit_code_from_status(15) == 143


# -- json-file log -------------------------------------------------------------------------------


def test_line_splitter_lines_partials_and_flush() -> None:
    s = LineSplitter(max_partial=8)
    assert s.feed(b"ab") == []
    assert s.feed(b"c\nde\nf") == [b"abc\n", b"de\n"]
    assert s.feed(b"0123456789") == [b"f0123456"]
    assert s.flush() == [b"789"]
    assert s.flush() == []


@given(st.lists(st.binary(max_size=40), max_size=30), st.integers(min_value=1, max_value=16))
def test_line_splitter_preserves_bytes(chunks: list[bytes], limit: int) -> None:
    s = LineSplitter(max_partial=limit)
    out = [e for c in chunks for e in s.feed(c)] + s.flush()
    assert b"".join(out) == b"".join(chunks)
    for e in out[:-1]:
        assert e.endswith(b"\n") or len(e) == limit
        assert len(e) <= limit + 1 or e.count(b"\n") == 1


def test_log_entry_shape() -> None:
    line = encode_entry(b"h\xc3\xa9\xff\n", "stdout", 1_500_000_000)
    assert line == '{"log":"hé\ufffd\\n","stream":"stdout","time":"1970-01-01T00:00:01.5Z"}\n'.encode()


# -- runtime pieces ------------------------------------------------------------------------------


def test_secure_join_stays_inside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc", root / "abs")
    os.symlink("../../../..", root / "up")
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    r = str(root)
    assert secure_join(r, "/etc/passwd") == f"{r}/etc/passwd"
    assert secure_join(r, "../../etc") == f"{r}/etc"
    assert secure_join(r, "/abs/hosts") == f"{r}/etc/hosts"
    assert secure_join(r, "/up/etc") == f"{r}/etc"
    assert secure_join(r, "/missing/../etc/x") == f"{r}/etc/x"
    with pytest.raises(OSError):
        secure_join(r, "/loop1")


def test_parse_mount_options() -> None:
    flags, prop, data = parse_mount_options(["nosuid", "noexec", "mode=755", "size=65536k", "ro", "rw"])
    assert flags == sc.MS_NOSUID | sc.MS_NOEXEC and prop == 0 and data == "mode=755,size=65536k"
    flags, prop, _ = parse_mount_options(["rbind", "rprivate", "ro"])
    assert flags == sc.MS_BIND | sc.MS_REC | sc.MS_RDONLY and prop == sc.MS_PRIVATE | sc.MS_REC
    flags, _, data = parse_mount_options(["rbind", "rro", "rnosuid"])
    assert flags == sc.MS_BIND | sc.MS_REC and data == ""


def test_recursive_attrs() -> None:
    assert recursive_attrs(["rbind", "ro"]) == (0, 0)
    assert recursive_attrs(["rro", "rnosuid"]) == (sc.MOUNT_ATTR_RDONLY | sc.MOUNT_ATTR_NOSUID, 0)
    assert recursive_attrs(["rro", "rrw"]) == (0, sc.MOUNT_ATTR_RDONLY)   # the later one wins
    assert recursive_attrs(["rnoatime"]) == (sc.MOUNT_ATTR_NOATIME, sc.MOUNT_ATTR_ATIME)


def test_look_path_messages(tmp_path: Path) -> None:
    (tmp_path / "exe").write_text("#!/bin/sh\n")
    os.chmod(tmp_path / "exe", 0o755)
    (tmp_path / "plain").write_text("")
    assert look_path("exe", f"/nonexistent:{tmp_path}") == f"{tmp_path}/exe"
    with pytest.raises(ExecLookupError, match=r'exec: "nope": executable file not found in \$PATH'):
        look_path("nope", str(tmp_path))
    with pytest.raises(ExecLookupError, match=r'exec: "/x/y": stat /x/y: no such file or directory'):
        look_path("/x/y", "")
    with pytest.raises(ExecLookupError, match=r'exec: "[^"]*plain": permission denied'):
        look_path(str(tmp_path / "plain"), "")


def test_errors_worded_like_go() -> None:
    assert go_strerror(2) == "no such file or directory"
    assert describe(OSError(1, "mount proc to /proc: Operation not permitted")) == \
        "mount proc to /proc: operation not permitted"
    assert describe(FileNotFoundError(2, "No such file or directory", "/x")) == "/x: no such file or directory"


def test_capability_masks() -> None:
    assert cap_number("chown") == 0 and cap_number("CAP_SYS_ADMIN") == 21 and cap_number("bogus") is None
    from dockyard.oci.runtime_spec import DEFAULT_CAPABILITIES
    assert caps_mask(DEFAULT_CAPABILITIES, 40) == 0xA80425FB


def test_namespace_plan() -> None:
    from dockyard.oci.runtime_spec import Namespace
    plan = plan_namespaces([Namespace("pid"), Namespace("mount"), Namespace("network", "/run/netns/x")])
    assert plan.pid == "new" and plan.joins == (("/run/netns/x", sc.CLONE_NEWNET),)
    assert plan.unshare_flags == sc.CLONE_NEWNS
    with pytest.raises(ValueError):
        plan_namespaces([Namespace("user")])
    with pytest.raises(ValueError):
        plan_namespaces([Namespace("mount"), Namespace("mount")])


def test_status_guards_and_signals() -> None:
    assert Status.CREATED.can_start and not Status.RUNNING.can_start
    assert Status.RUNNING.can_kill and not Status.STOPPED.can_kill
    assert not Status.RUNNING.can_delete() and Status.RUNNING.can_delete(force=True)
    assert parse_signal("KILL") == 9 == parse_signal("SIGKILL") == parse_signal("9")


def test_spec_roundtrip() -> None:
    from helpers import base_config
    cfg = base_config(["sh"])
    cfg["root"]["path"] = "/r"
    spec = Spec.from_dict(cfg)
    again = Spec.from_dict(spec.to_dict())
    assert again == spec
    assert [m.destination for m in spec.mounts] == [m.destination for m in default_mounts()]
