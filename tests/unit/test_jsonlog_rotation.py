"""json-file rotation: the shim's writer, the engine's reader across rotations, --log-opt parsing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard import errors
from dockyard.engine.logfiles import RotatingReader, rotated_paths
from dockyard.engine.logopts import Rotation, from_human_size, parse_log_config
from dockyard.shim.jsonlog import JsonFileLog


def _logs(lines: list[bytes]) -> list[str]:
    return [json.loads(x)["log"] for x in lines]


def _write(log: JsonFileLog, start: int, n: int) -> None:
    for i in range(start, start + n):
        log.write("stdout", f"line {i:04d}\n".encode())


def test_rotates_into_numbered_files(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    log = JsonFileLog(str(path), max_size=1000, max_files=3)
    _write(log, 0, 100)
    log.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["c-json.log", "c-json.log.1", "c-json.log.2"]
    # every file but the current one reached max-size before it was rotated away
    for p in (tmp_path / "c-json.log.1", tmp_path / "c-json.log.2"):
        assert 1000 <= p.stat().st_size < 1000 + 100
    got = _logs(RotatingReader(path).read_lines())
    assert got == [f"line {i:04d}\n" for i in range(100 - len(got), 100)]   # contiguous, ends last
    assert 20 < len(got) < 60


def test_max_file_one_truncates(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    log = JsonFileLog(str(path), max_size=500, max_files=1)
    _write(log, 0, 50)
    log.close()
    assert [p.name for p in tmp_path.iterdir()] == ["c-json.log"]
    assert path.stat().st_size < 500 + 100


def test_no_rotation_by_default_and_reopen_appends(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    log = JsonFileLog(str(path))
    _write(log, 0, 200)
    log.close()
    log = JsonFileLog(str(path), max_size=100_000, max_files=2)   # a restart: size counted from the file
    _write(log, 200, 10)
    log.close()
    assert rotated_paths(path) == []
    assert len(_logs(RotatingReader(path).read_lines())) == 210


def test_follow_across_rotations(tmp_path: Path) -> None:
    """A reader holding the current file sees every line once, in order, through 0, 1 or 2 rotations
    between two reads."""
    path = tmp_path / "c-json.log"
    log = JsonFileLog(str(path), max_size=600, max_files=5)   # ~8 entries a file
    reader = RotatingReader(path)
    seen: list[str] = []
    n = 0
    for burst in (1, 3, 12, 7, 25, 2, 20):   # 25 entries: 3 rotations between two reads
        _write(log, n, burst)
        n += burst
        seen += _logs(reader.read_lines())
    log.close()
    assert seen == [f"line {i:04d}\n" for i in range(n)]


def test_follow_when_the_open_file_was_deleted(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    log = JsonFileLog(str(path), max_size=200, max_files=2)
    reader = RotatingReader(path)
    _write(log, 0, 2)
    first = _logs(reader.read_lines())
    _write(log, 2, 40)   # many rotations: the file the reader holds is long gone
    rest = _logs(reader.read_lines())
    log.close()
    assert first == ["line 0000\n", "line 0001\n"]
    assert rest and rest[-1] == "line 0041\n"
    nums = [int(x.split()[1]) for x in rest]
    assert nums == sorted(nums) and len(set(nums)) == len(nums)


@pytest.mark.parametrize("text,value", [
    ("10", 10), ("10k", 10_000), ("10K", 10_000), ("10kb", 10_000), ("10KiB", 10_000),
    ("1.5m", 1_500_000), ("2g", 2_000_000_000), ("3 MB", 3_000_000), ("7b", 7),
])
def test_from_human_size(text: str, value: int) -> None:
    assert from_human_size(text) == value


@pytest.mark.parametrize("text,message", [
    ("abc", "invalid size: 'abc'"), ("10x", "invalid suffix: 'x'"), ("10kbb", "invalid suffix: 'kbb'"),
    ("-1", "invalid size: '-1'"),
])
def test_from_human_size_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        from_human_size(text)


def test_parse_log_config() -> None:
    assert parse_log_config("json-file", {}) == Rotation()
    assert parse_log_config("json-file", {"max-size": "10k", "max-file": "3"}) == Rotation(10_000, 3)
    assert parse_log_config("json-file", {"max-size": "1m", "labels": "a", "tag": "x"}) == Rotation(1_000_000, 1)
    assert parse_log_config("none", {"whatever": "1"}) == Rotation()


@pytest.mark.parametrize("config,message", [
    ({"max-size": "abc"}, "failed to initialize logging driver: invalid size: 'abc'"),
    ({"max-size": "0"}, "max-size must be a positive number"),
    ({"max-file": "0"}, "max-file cannot be less than 1"),
    ({"max-file": "x"}, 'strconv.Atoi: parsing "x": invalid syntax'),
    ({"compress": "maybe"}, 'strconv.ParseBool: parsing "maybe": invalid syntax'),
    ({"foo": "1"}, "unknown log opt 'foo' for json-file log driver"),
    ({"mode": "fast"}, "logger: logging mode not supported: fast"),
])
def test_parse_log_config_errors(config: dict[str, str], message: str) -> None:
    with pytest.raises(errors.InvalidArgument) as e:
        parse_log_config("json-file", config)
    assert message in str(e.value)
