"""Pure pieces of the API layer and the engine: routing, versions, filters, config merge, time, logs."""

from __future__ import annotations

import asyncio
import json

import pytest

from dockyard import errors
from dockyard.api.filters import parse_filters
from dockyard.api.server import Router, split_version
from dockyard.engine.create_config import merge_config, normalise_host_config
from dockyard.engine.logs import LogOptions, log_stream
from dockyard.engine.names import generate_name, validate_name
from dockyard.engine.streams import encode_frame
from dockyard.engine.timeutil import parse_since, rfc3339_to_epoch


def test_split_version():
    assert split_version("/v1.41/containers/json") == ("1.41", "/containers/json")
    assert split_version("/containers/json") == ("1.50", "/containers/json")
    with pytest.raises(errors.InvalidArgument, match="too new"):
        split_version("/v1.51/info")
    with pytest.raises(errors.InvalidArgument, match="too old"):
        split_version("/v1.23/info")


def test_router_paths_and_methods():
    async def h(req):
        return None

    r = Router()
    r.add("GET", "/images/{name:path}/json", h)
    r.add("DELETE", "/images/{name:path}", h)
    _, params = r.match("GET", "/images/localhost:5000/a/b:1/json")
    assert params == {"name": "localhost:5000/a/b:1"}
    assert r.match("HEAD", "/images/x/json")[1] == {"name": "x"}
    with pytest.raises(errors.NotFound):
        r.match("GET", "/nothing")


def test_filters_both_encodings():
    assert parse_filters('{"name":{"x":true}}', {"name"}) == {"name": ["x"]}
    assert parse_filters('{"label":["a=b","c"]}', {"label"}) == {"label": ["a=b", "c"]}
    with pytest.raises(errors.InvalidArgument, match="invalid filter 'bogus'"):
        parse_filters('{"bogus":["1"]}', {"name"})
    with pytest.raises(errors.InvalidArgument):
        parse_filters("{", {"name"})


IMAGE = {"config": {"Cmd": ["sh"], "Env": ["PATH=/bin", "A=1"], "WorkingDir": "/w", "Labels": {"x": "1"}}}


def test_merge_config_docker_rules():
    c = merge_config({"Image": "busybox", "Env": ["A=2", "B=3"]}, IMAGE, "ab" * 32)
    assert c["Cmd"] == ["sh"] and c["Env"] == ["PATH=/bin", "A=2", "B=3"]
    assert c["Hostname"] == ("ab" * 32)[:12] and c["WorkingDir"] == "/w"
    c = merge_config({"Image": "busybox", "Entrypoint": ["echo"]}, IMAGE, "ab" * 32)
    assert c["Entrypoint"] == ["echo"] and c["Cmd"] is None    # an entrypoint drops the image's Cmd
    with pytest.raises(errors.InvalidArgument, match="No command specified"):
        merge_config({"Image": "x"}, {"config": {}}, "ab" * 32)
    with pytest.raises(errors.InvalidArgument):
        merge_config({"Image": "x", "Cmd": 5}, IMAGE, "ab" * 32)


def test_host_config_validation():
    assert normalise_host_config(None)["ShmSize"] == 64 << 20
    with pytest.raises(errors.InvalidArgument, match="Minimum memory limit"):
        normalise_host_config({"Memory": 1024})
    with pytest.raises(errors.InvalidArgument, match="AutoRemove"):
        normalise_host_config({"AutoRemove": True, "RestartPolicy": {"Name": "always"}})
    with pytest.raises(errors.InvalidArgument, match="restart policy"):
        normalise_host_config({"RestartPolicy": {"Name": "sometimes"}})


def test_names():
    assert validate_name("/web_1") == "web_1"
    with pytest.raises(errors.InvalidArgument, match="Invalid container name"):
        validate_name("bad name")
    name = generate_name(set())
    assert "_" in name and validate_name(name) == name


def test_time_parsing():
    assert rfc3339_to_epoch("1970-01-01T00:00:10.5Z") == 10.5
    assert rfc3339_to_epoch("1970-01-01T01:00:10+01:00") == 10
    assert rfc3339_to_epoch("0001-01-01T00:00:00Z") == 0
    assert parse_since("10m", now=1000.0) == 400.0
    assert parse_since("1700000000") == 1700000000.0
    with pytest.raises(errors.InvalidArgument, match="since"):
        parse_since("yesterday")


def test_frames():
    assert encode_frame(1, b"hi\n") == b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n"


def test_log_stream_tail_and_streams(tmp_path):
    path = tmp_path / "c-json.log"
    lines = [{"log": f"line{i}\n", "stream": "stdout" if i % 2 == 0 else "stderr",
              "time": f"2026-01-01T00:00:0{i}.000000000Z"} for i in range(6)]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))

    async def collect(opts, tty=True):
        return b"".join([c async for c in log_stream(path, opts, tty=tty, running=lambda: None)])

    assert asyncio.run(collect(LogOptions(stderr=False))) == b"line0\nline2\nline4\n"
    assert asyncio.run(collect(LogOptions(tail=2))) == b"line4\nline5\n"
    assert asyncio.run(collect(LogOptions(tail=0))) == b""
    framed = asyncio.run(collect(LogOptions(tail=1), tty=False))
    assert framed == encode_frame(2, b"line5\n")
    stamped = asyncio.run(collect(LogOptions(tail=1, timestamps=True)))
    assert stamped == b"2026-01-01T00:00:05.000000000Z line5\n"
