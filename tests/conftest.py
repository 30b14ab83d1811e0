"""Shared fixtures: one isolated daemon per test module, with busybox:latest imported."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from daemon_harness import daemon_with_busybox  # noqa: E402


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    with daemon_with_busybox(tmp_path_factory.mktemp("bb")) as d:
        yield d


@pytest.fixture()
def clean(daemon):
    """The module's daemon, with every container and unused network gone after the test."""
    yield daemon
    ids = daemon.docker("ps", "-aq").stdout_text.split()
    if ids:
        daemon.docker("rm", "-f", *ids, check=False)
    daemon.docker("network", "prune", "-f", check=False)
