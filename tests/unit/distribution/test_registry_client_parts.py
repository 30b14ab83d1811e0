"""Pure parts of the registry client: X-Registry-Auth decoding, challenges, plain-HTTP hosts."""

from __future__ import annotations

import base64
import json

import pytest

from dockyard.distribution.client import is_insecure, parse_challenge, registry_host
from dockyard.distribution.credentials import Credentials, decode_auth_header, encode_auth_header
from dockyard.errors import InvalidArgument


def test_auth_header_padded_unpadded_and_empty():
    doc = {"username": "alice", "password": "p", "serveraddress": "127.0.0.1:5000"}
    raw = base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()
    assert decode_auth_header(raw) == Credentials("alice", "p", server_address="127.0.0.1:5000")
    assert decode_auth_header(raw.rstrip("=")) == decode_auth_header(raw)
    assert decode_auth_header("") == Credentials()
    assert decode_auth_header("e30=").empty
    assert decode_auth_header(encode_auth_header(Credentials("bob", "x"))).username == "bob"


def test_auth_header_config_json_auth_field():
    doc = {"auth": base64.b64encode(b"carol:pw:with:colons").decode()}
    creds = decode_auth_header(base64.urlsafe_b64encode(json.dumps(doc).encode()).decode())
    assert (creds.username, creds.password) == ("carol", "pw:with:colons")


@pytest.mark.parametrize("bad", ["!!!", base64.urlsafe_b64encode(b"not json").decode(),
                                 base64.urlsafe_b64encode(b"[1]").decode()])
def test_auth_header_invalid(bad):
    with pytest.raises(InvalidArgument, match="invalid X-Registry-Auth header"):
        decode_auth_header(bad)


def test_parse_challenge():
    scheme, params = parse_challenge('Bearer realm="http://h:5000/token",service="reg",'
                                     'scope="repository:a/b:pull,push"')
    assert scheme == "bearer"
    assert params == {"realm": "http://h:5000/token", "service": "reg", "scope": "repository:a/b:pull,push"}
    assert parse_challenge('Basic realm="x"') == ("basic", {"realm": "x"})


def test_insecure_hosts():
    assert is_insecure("127.0.0.1:5000") and is_insecure("127.9.9.9") and is_insecure("localhost:5000")
    assert is_insecure("[::1]:5000")
    assert not is_insecure("registry.example.com:5000")
    assert is_insecure("registry.example.com:5000", ["registry.example.com:5000"])
    assert is_insecure("10.1.2.3:5000", ["10.0.0.0/8"])
    assert registry_host("docker.io") == "registry-1.docker.io"
