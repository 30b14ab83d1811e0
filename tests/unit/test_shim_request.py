"""The shim request's wire format (shim/request.py)."""

from __future__ import annotations

import marshal

import pytest

from dockyard.shim.request import ShimRequest, decode_request, encode_request


def test_round_trip() -> None:
    req = ShimRequest(container_id="c" * 64, bundle="/b", shim_dir="/s", log_path="/l", log_driver="json-file",
                      runtime="", tty=True, open_stdin=True, stdin_once=False, console_width=80,
                      console_height=24, log_max_size=1 << 20, log_max_files=3)
    assert decode_request(encode_request(req)) == req


@pytest.mark.parametrize("data", [
    b"",
    b"not marshal",
    marshal.dumps(["a", "list"]),
    marshal.dumps(("too", "few")),
    marshal.dumps(tuple(range(20))),
])
def test_bad_requests_are_value_errors(data: bytes) -> None:
    with pytest.raises(ValueError, match="bad shim request"):
        decode_request(data)
