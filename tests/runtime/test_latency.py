"""Start latency through the engine's path: Zygote.spawn → created, and → exit of /bin/true.

Prints the medians of 20 runs (tests assert behaviour, never timings).  Run
with ``-s`` to see them:  pytest -s tests/runtime/test_latency.py
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from pathlib import Path

import pytest
from helpers import base_config

from dockyard.runtime import lifecycle, spawn
from dockyard.shim import client
from dockyard.shim.zygote import ShimRequest, Zygote

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")

RUNS = 20


def _bundle(tmp: Path, rootfs: Path, n: int, cg_parent: str) -> Path:
    b = tmp / f"b{n}"
    b.mkdir()
    c = base_config(["/bin/true"])
    c["root"]["path"] = str(rootfs)
    c["linux"]["cgroupsPath"] = f"{cg_parent}/lat{n}"
    (b / "config.json").write_text(json.dumps(c))
    return b


@pytest.mark.parametrize("gap", [0.0, 0.05], ids=["back-to-back", "50ms-apart"])
def test_spawn_latency(tmp_path: Path, busybox_rootfs: Path, cg_parent: str, subreaper: None,
                       capsys: pytest.CaptureFixture[str], gap: float) -> None:
    """Back to back, the next spare shim is still getting ready when the next spawn comes;
    with a little idle time between spawns it always is ready (the usual case)."""
    zygote = Zygote.start()
    created: list[float] = []
    exited: list[float] = []

    async def main() -> None:
        for n in range(RUNS):
            bundle = _bundle(tmp_path, busybox_rootfs, n, cg_parent)
            shim_dir = str(tmp_path / f"s{n}")
            req = ShimRequest(f"lat{n}", str(bundle), shim_dir, str(tmp_path / f"{n}.log"), "json-file",
                              "dockyard", False, False, False)
            t0 = time.perf_counter()
            await zygote.spawn(req)
            t1 = time.perf_counter()
            await client.start(shim_dir)
            status = await client.wait(shim_dir)
            t2 = time.perf_counter()
            assert status.exit_code == 0
            created.append((t1 - t0) * 1000)
            exited.append((t2 - t0) * 1000)
            await client.delete(shim_dir)
            await asyncio.sleep(gap)

    try:
        asyncio.run(main())
    finally:
        zygote.close()
    with capsys.disabled():
        print(f"\n[latency {'back-to-back' if not gap else f'{gap * 1000:.0f} ms apart'}] "
              f"Zygote.spawn → created: median {statistics.median(created):.1f} ms; "
              f"→ exit of /bin/true after start: median {statistics.median(exited):.1f} ms "
              f"(min {min(created):.1f} / {min(exited):.1f} ms, {RUNS} runs)")


def test_in_process_create_latency(tmp_path: Path, busybox_rootfs: Path, cg_parent: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    root = str(tmp_path / "state")
    created: list[float] = []
    exited: list[float] = []
    for n in range(RUNS):
        bundle = _bundle(tmp_path, busybox_rootfs, n, cg_parent)
        t0 = time.perf_counter()
        c = spawn.create(f"in{n}", str(bundle), root)
        t1 = time.perf_counter()
        lifecycle.start(root, f"in{n}")
        _, status = os.waitpid(c.pid, 0)
        t2 = time.perf_counter()
        lifecycle.delete(root, f"in{n}")
        assert os.waitstatus_to_exitcode(status) == 0
        created.append((t1 - t0) * 1000)
        exited.append((t2 - t0) * 1000)
    with capsys.disabled():
        print(f"\n[latency] runtime create (in-process): median {statistics.median(created):.1f} ms; "
              f"→ exit: median {statistics.median(exited):.1f} ms")
