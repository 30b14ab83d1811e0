"""dockerd's --insecure-registry: the daemon flag, info's RegistryConfig, and the client's HTTP choice."""

from __future__ import annotations

import socket

from dockyard.api.wire import registry_config
from dockyard.daemon import parse_args
from dockyard.distribution.client import is_insecure


def test_flag_is_repeatable():
    args = parse_args(["--insecure-registry", "reg.lan:5000", "--insecure-registry", "10.1.0.0/16"])
    assert args.insecure_registry == ["reg.lan:5000", "10.1.0.0/16"]
    assert parse_args([]).insecure_registry == []


def test_info_registry_config():
    cfg = registry_config(("reg.lan:5000", "10.1.2.3/16", "127.0.0.0/8"))
    assert cfg["InsecureRegistryCIDRs"] == ["::1/128", "127.0.0.0/8", "10.1.0.0/16"]
    assert cfg["IndexConfigs"]["reg.lan:5000"] == {"Name": "reg.lan:5000", "Mirrors": [], "Secure": False,
                                                   "Official": False}
    assert cfg["IndexConfigs"]["docker.io"]["Secure"] is True and cfg["Mirrors"] == []


def test_which_registries_get_plain_http():
    given = ("reg.lan:5000", "10.1.0.0/16")
    assert is_insecure("reg.lan:5000", given) and is_insecure("10.1.9.9:5000", given)
    assert is_insecure("127.0.0.1:5000") and is_insecure("localhost:5000")
    assert not is_insecure("reg.lan:5001", ()) and not is_insecure("10.2.0.1", given)


def test_connection_failures_in_dockers_words():
    import pytest

    from dockyard.distribution.client import RegistryClient
    from dockyard.errors import SystemError_

    with socket.socket() as s:   # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SystemError_, match=rf'"http://127.0.0.1:{port}/v2/": dial tcp 127.0.0.1:{port}: '
                                           "connect: connection refused"):
        RegistryClient(f"127.0.0.1:{port}").ping()
