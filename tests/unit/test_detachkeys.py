"""Detach keys: Docker's syntax and the filter that spots the sequence in a TTY's input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.api.wire_exec import exec_config, exec_inspect
from dockyard.detachkeys import DEFAULT_DETACH_KEYS, EscapeFilter, parse_detach_keys
from dockyard.engine.exec import ExecSession, start_failure
from dockyard.errors import InvalidArgument, SystemError_


@pytest.mark.parametrize(("spec", "keys"), [
    ("", b"\x10\x11"), ("ctrl-p,ctrl-q", b"\x10\x11"), ("ctrl-a", b"\x01"), ("ctrl-@", b"\x00"),
    ("ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", b"\x1b\x1c\x1d\x1e\x1f"), ("a,b", b"ab"), ("CTRL-X", b"\x18"),
    ("ctrl-x,x", b"\x18x"),
])
def test_parse(spec, keys):
    assert parse_detach_keys(spec) == keys


@pytest.mark.parametrize("spec", ["foo", "ctrl-", "ctrl-1", "ctrl-ab", "a,,b", "alt-x"])
def test_parse_rejects(spec):
    with pytest.raises(ValueError, match="Unknown character"):
        parse_detach_keys(spec)


def test_filter_detaches_and_holds_partial_matches():
    f = EscapeFilter(DEFAULT_DETACH_KEYS)
    assert f.feed(b"ls\r") == b"ls\r"
    assert f.feed(b"\x10") == b""          # held: maybe the start of the sequence
    assert f.feed(b"x") == b"\x10x"        # not: released with the next key
    assert f.feed(b"echo \x10") == b"echo "
    assert f.feed(b"\x11after") == b""
    assert f.detached
    assert f.feed(b"more") == b""


def test_filter_repeated_first_key_and_flush():
    f = EscapeFilter(DEFAULT_DETACH_KEYS)
    assert f.feed(b"\x10\x10") == b"\x10"
    assert f.flush() == b"\x10"
    assert not f.detached
    f = EscapeFilter(b"")
    assert f.feed(b"\x10\x11") == b"\x10\x11" and not f.detached


@given(st.binary(max_size=200), st.integers(min_value=1, max_value=7))
def test_filter_is_transparent_without_the_sequence(data, chunk):
    data = data.replace(b"\x10", b"")
    f = EscapeFilter(DEFAULT_DETACH_KEYS)
    out = b"".join(f.feed(data[i:i + chunk]) for i in range(0, len(data), chunk)) + f.flush()
    assert out == data and not f.detached


@given(st.binary(max_size=50), st.binary(max_size=50), st.integers(min_value=1, max_value=5))
def test_filter_stops_at_the_sequence_in_any_chunking(before, after, chunk):
    before = before.replace(b"\x10", b"")
    data = before + b"\x10\x11" + after
    f = EscapeFilter(DEFAULT_DETACH_KEYS)
    out = b""
    for i in range(0, len(data), chunk):
        out += f.feed(data[i:i + chunk])
        if f.detached:
            break
    assert f.detached and out == before


def test_exec_config_and_inspect_shapes():
    cfg = exec_config({"Cmd": ["sh", "-c", "x"], "Env": ["A=1"], "User": "nobody", "Tty": True,
                       "AttachStdin": True, "AttachStdout": True, "ConsoleSize": [40, 120], "DetachKeys": "ctrl-a"})
    assert cfg.cmd == ("sh", "-c", "x") and cfg.console_size == (40, 120) and cfg.user == "nobody"
    doc = exec_inspect(ExecSession(id="e1", container_id="c1", config=cfg))
    assert doc["ProcessConfig"] == {"tty": True, "entrypoint": "sh", "arguments": ["-c", "x"],
                                    "privileged": False, "user": "nobody"}
    assert doc["ExitCode"] is None and doc["Running"] is False and doc["OpenStdin"] is True
    assert doc["OpenStderr"] is False and doc["DetachKeys"] == "ctrl-a" and doc["CanRemove"] is False
    assert "user" not in exec_inspect(ExecSession(id="e", container_id="c", config=exec_config({"Cmd": ["x"]})))[
        "ProcessConfig"]


@pytest.mark.parametrize("body", [{}, {"Cmd": []}, {"Cmd": "ls"}, {"Cmd": ["ls"], "Env": "A=1"},
                                  {"Cmd": ["ls"], "ConsoleSize": [1]}, ["ls"]])
def test_exec_config_rejects(body):
    with pytest.raises(InvalidArgument):
        exec_config(body)


def test_start_failure_codes_and_words():
    code, err = start_failure('exec: "nosuch": executable file not found in $PATH')
    assert code == 127 and isinstance(err, InvalidArgument)
    assert err.message == ('OCI runtime exec failed: exec failed: unable to start container process: '
                           'exec: "nosuch": executable file not found in $PATH: unknown')
    code, err = start_failure('exec failed: unable to start container process: exec: "/etc": permission denied')
    assert code == 126 and err.message.count("unable to start container process") == 1
    code, err = start_failure("something else")
    assert code == 126 and isinstance(err, SystemError_)
