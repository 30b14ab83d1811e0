"""The zygote → shim → runtime path, as the engine drives it, under both runtimes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import base_config
from runners import RUNC

from dockyard.shim import client
from dockyard.shim.protocol import FrameDecoder
from dockyard.shim.zygote import RuntimeCreateError, ShimRequest, Zygote

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")

MiB = 1 << 20
HERE = Path(__file__).resolve().parent


def _reap_all() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    z = Zygote.start()
    yield z
    z.close()
    _reap_all()


class Shims:
    """Spawns containers through the zygote and cleans every one up afterwards."""

    def __init__(self, zygote: Zygote, tmp: Path, runtime: str, busybox: Path, cg_parent: str) -> None:
        self.zygote, self.tmp, self.runtime, self.busybox, self.cg_parent = zygote, tmp, runtime, busybox, cg_parent
        self.dirs: list[str] = []

    def config(self, args: list[str], *, tty: bool = False, **linux: Any) -> dict[str, Any]:
        c = base_config(args)
        c["root"]["path"] = str(self.busybox)
        c["process"]["terminal"] = tty
        c["linux"]["cgroupsPath"] = f"{self.cg_parent}/c{len(self.dirs)}"
        c["linux"].update(linux)
        return c

    async def spawn(self, config: dict[str, Any], *, tty: bool = False, open_stdin: bool = False,
                    stdin_once: bool = False, log: bool = True, width: int = 0, height: int = 0) -> str:
        n = len(self.dirs)
        bundle = self.tmp / f"bundle{n}"
        bundle.mkdir()
        (bundle / "config.json").write_text(json.dumps(config))
        shim_dir = str(self.tmp / f"s{n}")
        self.dirs.append(shim_dir)
        req = ShimRequest(container_id=f"shimtest{n}", bundle=str(bundle), shim_dir=shim_dir,
                          log_path=str(self.tmp / f"c{n}.log") if log else "",
                          log_driver="json-file" if log else "none", runtime=self.runtime, tty=tty,
                          open_stdin=open_stdin, stdin_once=stdin_once, console_width=width,
                          console_height=height)
        await self.zygote.spawn(req)
        return shim_dir

    def log(self, shim_dir: str) -> list[dict[str, Any]]:
        n = self.dirs.index(shim_dir)
        return [json.loads(line) for line in (self.tmp / f"c{n}.log").read_text().splitlines()]

    async def cleanup(self) -> None:
        for d in self.dirs:
            with contextlib.suppress(Exception):
                await client.kill(d, signal.SIGKILL, True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.wait(d), 10)
            with contextlib.suppress(Exception):
                await client.delete(d, self.runtime)
            with contextlib.suppress(Exception):
                os.kill(int(Path(d, "shim.pid").read_text()), signal.SIGKILL)
        _reap_all()


OUR_CLI = os.path.join(os.path.dirname(sys.executable), "dockyard-runtime")


@pytest.fixture(params=["dockyard", "runc", "dockyard-runtime"])
def shims(request: pytest.FixtureRequest, zygote: Zygote, tmp_path: Path, busybox_rootfs: Path,
          cg_parent: str, subreaper: None) -> Iterator[Shims]:
    """The built-in runtime in-process, runc, and our own CLI driven as an external runtime."""
    runtime = {"runc": RUNC, "dockyard-runtime": OUR_CLI}.get(request.param, request.param)
    if runtime is None or (request.param != "dockyard" and not os.access(runtime, os.X_OK)):
        pytest.skip(f"{request.param} is not installed")
    s = Shims(zygote, tmp_path, runtime, busybox_rootfs, cg_parent)
    yield s
    asyncio.run(s.cleanup())


async def read_all(reader: asyncio.StreamReader, timeout: float = 20) -> bytes:
    return await asyncio.wait_for(reader.read(), timeout)


def test_attach_start_wait_and_log(shims: Shims) -> None:
    async def main() -> None:
        d = await shims.spawn(shims.config(["sh", "-c", "echo out; echo err >&2; exit 3"]))
        assert (await client.state(d))["status"] == "created"
        reader, _writer = await client.attach(d, False, True, True)
        await client.start(d)
        frames = list(FrameDecoder().feed(await read_all(reader)))
        status = await client.wait(d)
        assert sorted(frames) == [(1, b"out\n"), (2, b"err\n")]
        assert (status.exit_code, status.oom_killed) == (3, False)
        assert status.finished_at.endswith("Z") and "T" in status.finished_at
        assert (await client.state(d))["status"] == "stopped"
        assert client.read_exit(d) == status
        entries = shims.log(d)
        assert sorted((e["stream"], e["log"]) for e in entries) == [("stderr", "err\n"), ("stdout", "out\n")]
        assert all(e["time"].endswith("Z") for e in entries)
    asyncio.run(main())


def test_kill_term_kill_and_all(shims: Shims) -> None:
    async def main() -> None:
        trap = shims.config(["sh", "-c", 'trap "echo got-term; exit 5" TERM; while true; do sleep 0.05; done'])
        d1 = await shims.spawn(trap)
        d2 = await shims.spawn(shims.config(["sleep", "100"]))
        d3 = await shims.spawn(shims.config(["sh", "-c", "sleep 100 & sleep 100"]))
        for d in (d1, d2, d3):
            await client.start(d)
        await asyncio.sleep(0.2)
        await client.kill(d1, signal.SIGTERM)
        await client.kill(d2, signal.SIGTERM)   # pid 1 without a handler ignores it
        await asyncio.sleep(0.2)
        assert (await client.state(d2))["status"] == "running"
        await client.kill(d2, signal.SIGKILL)
        await client.kill(d3, signal.SIGKILL, all_=True)
        codes = [(await asyncio.wait_for(client.wait(d), 20)).exit_code for d in (d1, d2, d3)]
        assert codes == [5, 137, 137]
        assert [e["log"] for e in shims.log(d1)] == ["got-term\n"]
        with pytest.raises(client.ShimError):
            await client.kill(d2, signal.SIGKILL)
    asyncio.run(main())


def test_stdin_once(shims: Shims) -> None:
    async def main() -> None:
        d = await shims.spawn(shims.config(["sh", "-c", "cat; echo eof"]), open_stdin=True, stdin_once=True)
        reader, writer = await client.attach(d, True, True, True)
        await client.start(d)
        writer.write(b"hello\n")
        await writer.drain()
        writer.write_eof()
        frames = list(FrameDecoder().feed(await read_all(reader)))
        assert b"".join(p for s, p in frames if s == 1) == b"hello\neof\n"
        assert (await client.wait(d)).exit_code == 0
    asyncio.run(main())


def test_tty_and_resize(shims: Shims) -> None:
    async def main() -> None:
        d = await shims.spawn(shims.config(["sh", "-c", "tty; stty size; sleep 0.5; stty size"], tty=True),
                              tty=True, width=80, height=25)
        reader, _ = await client.attach(d, False, True, True)
        await client.start(d)
        await asyncio.sleep(0.2)
        await client.resize(d, 100, 40)
        out = await read_all(reader)
        assert out == b"/dev/pts/0\r\n25 80\r\n40 100\r\n"
        assert (await client.wait(d)).exit_code == 0
        assert [e["stream"] for e in shims.log(d)] == ["stdout"] * 3
    asyncio.run(main())


def test_create_failure(shims: Shims) -> None:
    async def main() -> None:
        with pytest.raises(RuntimeCreateError) as err:
            await shims.spawn(shims.config(["/no/such/cmd"]))
        assert 'exec: "/no/such/cmd": stat /no/such/cmd: no such file or directory' in err.value.message
        d = shims.dirs[-1]
        assert not client.shim_alive(d)
        with pytest.raises(client.ShimGone):
            await client.state(d)
    asyncio.run(main())


def test_oom_killed(shims: Shims) -> None:
    async def main() -> None:
        c = shims.config(["sh", "-c", 'x=$(head -c 300m /dev/zero | tr "\\0" a)'],
                         resources={"memory": {"limit": 32 * MiB, "swap": 32 * MiB}})
        d = await shims.spawn(c)
        await client.start(d)
        status = await asyncio.wait_for(client.wait(d), 60)
        assert (status.exit_code, status.oom_killed) == (137, True)
    asyncio.run(main())


def test_log_splits_long_and_partial_lines(shims: Shims) -> None:
    async def main() -> None:
        d = await shims.spawn(shims.config(["sh", "-c", "head -c 20000 /dev/zero | tr '\\0' a; echo; printf tail"]))
        await client.start(d)
        await client.wait(d)
        logs = [e["log"] for e in shims.log(d)]
        assert [len(x) for x in logs] == [16384, 3617, 4]
        assert logs[1].endswith("\n") and logs[2] == "tail"
    asyncio.run(main())


def test_slow_client_never_blocks_the_container(shims: Shims) -> None:
    async def main() -> None:
        d = await shims.spawn(shims.config(["sh", "-c", "head -c 20000000 /dev/zero | tr '\\0' 'x' | fold -w 99"]),
                              log=True)
        _reader, _writer = await client.attach(d, False, True, True)   # never read
        await client.start(d)
        status = await asyncio.wait_for(client.wait(d), 60)
        assert status.exit_code == 0
        entries = shims.log(d)
        assert len(entries) == 20000000 // 99 + 1
    asyncio.run(main())


def test_wait_after_the_shim_left(shims: Shims) -> None:
    async def main() -> None:
        d = await shims.spawn(shims.config(["true"]))
        await client.start(d)
        first = await client.wait(d)
        assert await client.wait(d) == first
        await client.delete(d, shims.runtime)
        for _ in range(100):
            if not client.shim_alive(d):
                break
            await asyncio.sleep(0.02)
        assert not client.shim_alive(d)
        assert await client.wait(d) == first   # from exit.json
        with pytest.raises(client.ShimGone):
            await client.state(d)
    asyncio.run(main())


def _ppid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[1])


def test_the_init_is_the_shims_child_once_its_worker_is_gone(shims: Shims) -> None:
    """The worker that created the container exits; the kernel hands the init to the shim (a
    child subreaper), which alone supervises it from then on."""
    async def main() -> None:
        d = await shims.spawn(shims.config(["sleep", "100"]))
        await client.start(d)
        shim_pid = int(Path(d, "shim.pid").read_text())
        init_pid = (await client.state(d))["pid"]
        parent, children = 0, [""]
        for _ in range(250):   # the worker reports, then exits (the shim does not wait for that)
            parent = _ppid(init_pid)
            children = Path(f"/proc/{shim_pid}/task/{shim_pid}/children").read_text().split()
            if parent == shim_pid and children == [str(init_pid)]:
                break
            await asyncio.sleep(0.02)
        assert (parent, children) == (shim_pid, [str(init_pid)])
        await client.kill(d, signal.SIGKILL)
        assert (await asyncio.wait_for(client.wait(d), 20)).exit_code == 137
    asyncio.run(main())


OWNER = """
import asyncio, json, sys, time
sys.path.insert(0, {here!r})
from dockyard.shim.zygote import Zygote, ShimRequest
from dockyard.shim import client
z = Zygote.start()
async def main():
    sp = await z.spawn(ShimRequest(**json.loads(sys.argv[1])))
    await client.start(json.loads(sys.argv[1])["shim_dir"])
    print("READY", sp.shim_pid, sp.container_pid, flush=True)
asyncio.run(main())
time.sleep(1000)
"""


def test_shim_survives_its_owner(shims: Shims) -> None:
    c = shims.config(["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.05; done"])
    bundle = shims.tmp / "owner-bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps(c))
    shim_dir = str(shims.tmp / "owner-shim")
    log = shims.tmp / "owner.log"
    shims.dirs.append(shim_dir)
    req = dict(container_id="owned", bundle=str(bundle), shim_dir=shim_dir, log_path=str(log),
               log_driver="json-file", runtime=shims.runtime, tty=False, open_stdin=False, stdin_once=False)
    owner = subprocess.Popen([sys.executable, "-c", OWNER.format(here=str(HERE)), json.dumps(req)],
                             stdout=subprocess.PIPE, text=True)
    try:
        line = owner.stdout.readline().split()
        assert line[0] == "READY", line
        container_pid = int(line[2])
    finally:
        owner.kill()
        owner.wait()
    time.sleep(0.3)
    before = len(log.read_text().splitlines())
    time.sleep(0.5)
    after = len(log.read_text().splitlines())
    os.kill(container_pid, 0)
    assert client.shim_alive(shim_dir)
    assert after > before > 0

    async def finish() -> None:
        await client.kill(shim_dir, signal.SIGKILL)
        assert (await asyncio.wait_for(client.wait(shim_dir), 20)).exit_code == 137
    asyncio.run(finish())


def _exec_proc(shims: Shims, args: list[str], **kw: Any) -> dict[str, Any]:
    from dockyard.engine.spec import exec_process_spec
    spec = shims.config(["sleep", "100"])
    return exec_process_spec(spec, args=args, **kw)


def test_exec(shims: Shims) -> None:
    async def main() -> None:
        d = await shims.spawn(shims.config(["sleep", "100"]))
        await client.start(d)
        script = "echo $X; echo err >&2; ps -o pid,args | awk '$1==1{print $2}'; id -u; exit 7"
        proc = _exec_proc(shims, ["sh", "-c", script], env=["X=1"], user="65534")
        pid, reader, _writer = await client.exec_start(d, "e1", proc, stdin=False, stdout=True, stderr=True)
        assert pid > 0
        frames = list(FrameDecoder().feed(await read_all(reader)))
        assert b"".join(p for s, p in frames if s == 1) == b"1\nsleep\n65534\n"
        assert b"".join(p for s, p in frames if s == 2) == b"err\n"
        assert await client.exec_wait(d, "e1") == 7

        pid, reader, writer = await client.exec_start(d, "e2", _exec_proc(shims, ["cat"]), stdin=True,
                                                      stdout=True, stderr=True)
        writer.write(b"via stdin\n")
        await writer.drain()
        writer.write_eof()
        assert list(FrameDecoder().feed(await read_all(reader))) == [(1, b"via stdin\n")]
        assert await client.exec_wait(d, "e2") == 0

        _, reader, _ = await client.exec_start(d, "e3", _exec_proc(shims, ["sh", "-c", "tty; stty size"], tty=True),
                                               stdin=False, stdout=True, stderr=True, console_width=90,
                                               console_height=30)
        out = await read_all(reader)
        assert out.startswith(b"/dev/pts/") and out.endswith(b"\r\n30 90\r\n")

        _, reader, _ = await client.exec_start(d, "e4", _exec_proc(shims, ["sleep", "100"]), stdin=False,
                                               stdout=True, stderr=True)
        await client.exec_kill(d, "e4", signal.SIGKILL)
        assert await client.exec_wait(d, "e4") == 137

        with pytest.raises(client.RuntimeCreateError) as err:
            await client.exec_start(d, "e5", _exec_proc(shims, ["nosuchcmd"]), stdin=False, stdout=True,
                                    stderr=True)
        assert 'exec: "nosuchcmd": executable file not found in $PATH' in err.value.message
        assert (await client.state(d))["status"] == "running"
        await client.kill(d, signal.SIGKILL)
        await client.wait(d)
        with pytest.raises(client.ShimError):
            await client.exec_start(d, "e6", _exec_proc(shims, ["true"]), stdin=False, stdout=True, stderr=True)
    asyncio.run(main())


def test_bad_log_path_fails_the_spawn_cleanly(zygote: Zygote, tmp_path: Path, busybox_rootfs: Path) -> None:
    c = base_config(["true"])
    c["root"]["path"] = str(busybox_rootfs)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "config.json").write_text(json.dumps(c))
    req = ShimRequest("badlog", str(tmp_path / "b"), str(tmp_path / "s"), "/nonexistent/dir/x.log", "json-file",
                      "dockyard", False, False, False)
    with pytest.raises(client.ShimError, match="open log"):
        asyncio.run(zygote.spawn(req))
    assert not client.shim_alive(str(tmp_path / "s"))
