"""dockerd's --insecure-registry: a registry on a non-loopback address is HTTPS unless named."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from daemon_harness import daemon_with_busybox  # noqa: E402
from registry_harness import RunningRegistry  # noqa: E402


def _host_address() -> str:
    """An address of this host that is not loopback (the one its default route leaves from)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))   # no packet is sent: this only picks a route
        except OSError:
            pytest.skip("no non-loopback route on this host")
        return s.getsockname()[0]


@pytest.fixture(scope="module")
def lan_registry(tmp_path_factory):
    reg = RunningRegistry(str(tmp_path_factory.mktemp("lanreg")), host=_host_address())
    yield reg
    reg.stop()


def test_plain_http_only_for_registries_named_insecure(lan_registry, tmp_path_factory):
    ref = f"{lan_registry.addr}/lan/bb:1"
    with daemon_with_busybox(tmp_path_factory.mktemp("bb1")) as d:
        d.docker("tag", "busybox:latest", ref)
        r = d.docker("push", ref, check=False)
        assert r.returncode != 0 and "HTTP response to HTTPS client" in r.stderr_text + r.stdout_text
    with daemon_with_busybox(tmp_path_factory.mktemp("bb2"), ["--insecure-registry", lan_registry.addr]) as d:
        info = d.docker("info").stdout_text
        assert f"Insecure Registries:\n  {lan_registry.addr}\n" in info
        d.docker("tag", "busybox:latest", ref)
        assert "Pushed" in d.docker("push", ref).stdout_text
        d.docker("rmi", ref)
        d.docker("pull", ref)
        assert d.docker("run", "--rm", ref, "echo", "over http").stdout_text == "over http\n"
