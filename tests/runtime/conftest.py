"""Fixtures for the runtime and shim tests (opt-in: nothing here is autouse)."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import make_busybox_rootfs
from runners import RUNC, BuiltinRunner, RuncRunner, Runner, force_remove_cgroup

from dockyard.runtime import syscalls as sc


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_busybox_rootfs(tmp_path_factory.mktemp("busybox") / "rootfs")


@pytest.fixture(scope="session")
def subreaper() -> None:
    """Orphaned container inits (runc's, or the CLI's) are reparented to us, so we can reap them."""
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)


@pytest.fixture
def cg_parent() -> Iterator[str]:
    path = f"/dockyard-rt-{secrets.token_hex(4)}"
    yield path
    force_remove_cgroup(path)


@pytest.fixture
def overlay(tmp_path: Path, busybox_rootfs: Path) -> Iterator[Callable[[], Path]]:
    """Factory of writable rootfs: an overlay over the shared busybox tree, unmounted afterwards."""
    mounted: list[Path] = []

    def make() -> Path:
        base = tmp_path / f"ovl{len(mounted)}"
        for d in ("upper", "work", "merged"):
            (base / d).mkdir(parents=True)
        sc.mount("overlay", str(base / "merged"), "overlay", 0,
                 f"lowerdir={busybox_rootfs},upperdir={base / 'upper'},workdir={base / 'work'}")
        mounted.append(base / "merged")
        return base / "merged"

    yield make
    for m in reversed(mounted):
        with contextlib.suppress(OSError):
            sc.umount2(str(m), sc.MNT_DETACH)


@pytest.fixture(params=["dockyard", "runc"])
def runner(request: pytest.FixtureRequest, tmp_path: Path, subreaper: None) -> Runner:
    if request.param == "runc":
        if RUNC is None:
            pytest.skip("runc is not installed")
        return RuncRunner(tmp_path)
    return BuiltinRunner(tmp_path)


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"dyrt-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.fixture(autouse=False)
def no_leaked_children() -> Iterator[None]:
    yield
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
