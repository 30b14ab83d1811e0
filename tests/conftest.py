"""Shared fixtures: one isolated daemon per test module, with busybox:latest imported."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from daemon_harness import Daemon, busybox_rootfs_tar  # noqa: E402


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    d = Daemon()
    try:
        d.start()
        tar = busybox_rootfs_tar(tmp_path_factory.mktemp("bb"))
        d.docker("import", "-c", 'CMD ["sh"]', str(tar), "busybox:latest")
        yield d
    finally:
        left = d.stop()
    assert not any(left.values()), f"the daemon left these behind: {left}"


@pytest.fixture()
def clean(daemon):
    """The module's daemon, with every container and unused network gone after the test."""
    yield daemon
    ids = daemon.docker("ps", "-aq").stdout_text.split()
    if ids:
        daemon.docker("rm", "-f", *ids, check=False)
    daemon.docker("network", "prune", "-f", check=False)
