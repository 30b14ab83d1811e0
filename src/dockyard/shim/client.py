"""asyncio helpers the engine uses to talk to a container's shim (protocol: ``protocol.py``).

Every call raises ``ShimGone`` when nothing answers on shim.sock and
``ShimError`` when the shim answers with an error.  ``wait`` and
``read_exit`` fall back on ``exit.json``, which outlives the shim.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from typing import Any

from dockyard.shim.protocol import ExitStatus, RuntimeCreateError, ShimError, ShimGone, decode, encode
from dockyard.shim.runtimes import BUILTIN, delete_argv

__all__ = ["ExitStatus", "ShimError", "ShimGone", "RuntimeCreateError", "start", "kill", "state", "wait",
           "attach", "resize", "exec_start", "exec_wait", "exec_kill", "exec_resize", "read_exit", "shim_alive",
           "delete", "socket_path"]


def socket_path(shim_dir: str) -> str:
    return os.path.join(shim_dir, "shim.sock")


async def _connect(shim_dir: str, obj: dict[str, Any]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        reader, writer = await asyncio.open_unix_connection(socket_path(shim_dir))
    except (FileNotFoundError, ConnectionRefusedError) as e:
        raise ShimGone(f"no shim answers in {shim_dir}: {e.strerror}") from None
    writer.write(encode(obj))
    return reader, writer


async def _call(shim_dir: str, obj: dict[str, Any]) -> dict[str, Any]:
    reader, writer = await _connect(shim_dir, obj)
    try:
        line = await reader.readline()
    except ConnectionError as e:
        raise ShimGone(f"shim in {shim_dir} went away: {e}") from None
    finally:
        writer.close()
    if not line:
        raise ShimGone(f"shim in {shim_dir} closed the connection without a reply")
    return decode(line)


async def _ok(shim_dir: str, obj: dict[str, Any]) -> None:
    reply = await _call(shim_dir, obj)
    if not reply.get("ok"):
        raise ShimError(str(reply.get("error", "shim error")))


async def start(shim_dir: str) -> None:
    """Release the created container (runtime `start`)."""
    await _ok(shim_dir, {"op": "start"})


async def kill(shim_dir: str, sig: int, all_: bool = False) -> None:
    await _ok(shim_dir, {"op": "kill", "signal": int(sig), "all": all_})


async def state(shim_dir: str) -> dict[str, Any]:
    """{"pid": N, "status": "created|running|stopped"}."""
    return await _call(shim_dir, {"op": "state"})


def read_exit(shim_dir: str) -> ExitStatus | None:
    try:
        with open(os.path.join(shim_dir, "exit.json")) as f:
            return ExitStatus.from_dict(json.load(f))
    except (FileNotFoundError, ValueError, KeyError):
        return None


async def wait(shim_dir: str) -> ExitStatus:
    """Block until the container exited and its output is logged."""
    try:
        return ExitStatus.from_dict(await _call(shim_dir, {"op": "wait"}))
    except ShimGone:
        status = read_exit(shim_dir)
        if status is None:
            raise
        return status


async def attach(shim_dir: str, stdin: bool, stdout: bool,
                 stderr: bool) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """After the {"ok":true} line: the reader yields output (frames, or raw with a tty); write stdin
    to the writer and ``write_eof()`` to signal stdin EOF."""
    reader, writer = await _connect(shim_dir, {"op": "attach", "stdin": stdin, "stdout": stdout,
                                               "stderr": stderr})
    line = await reader.readline()
    if not line:
        writer.close()
        raise ShimGone(f"shim in {shim_dir} closed the attach connection")
    reply = decode(line)
    if not reply.get("ok"):
        writer.close()
        raise ShimError(str(reply.get("error", "attach failed")))
    return reader, writer


async def resize(shim_dir: str, w: int, h: int) -> None:
    await _ok(shim_dir, {"op": "resize", "width": int(w), "height": int(h)})


async def exec_start(shim_dir: str, exec_id: str, process: dict[str, Any], *, stdin: bool, stdout: bool,
                     stderr: bool, console_width: int = 0, console_height: int = 0,
                     ) -> tuple[int, asyncio.StreamReader, asyncio.StreamWriter]:
    """Run `process` (OCI process, e.g. from engine.spec.exec_process_spec) in the running container.

    Returns (host pid, reader, writer) with the same stream semantics as `attach`;
    ``writer.write_eof()`` closes the process's stdin.  RuntimeCreateError when the
    runtime refuses (command not found...)."""
    reader, writer = await _connect(shim_dir, {
        "op": "exec", "id": exec_id, "process": process, "stdin": stdin, "stdout": stdout, "stderr": stderr,
        "console_width": console_width, "console_height": console_height})
    line = await reader.readline()
    if not line:
        writer.close()
        raise ShimGone(f"shim in {shim_dir} closed the exec connection")
    reply = decode(line)
    if not reply.get("ok"):
        writer.close()
        if reply.get("create"):
            raise RuntimeCreateError(str(reply.get("error", "")))
        raise ShimError(str(reply.get("error", "exec failed")))
    return int(reply["pid"]), reader, writer


async def exec_wait(shim_dir: str, exec_id: str, *, forget: bool = False) -> int:
    """Exit code of the exec once it exited and its output is drained; `forget`: the shim drops
    the exec after answering (its id can then be reused)."""
    reply = await _call(shim_dir, {"op": "exec_wait", "id": exec_id, "forget": forget})
    if "exit_code" not in reply:
        raise ShimError(str(reply.get("error", "exec_wait failed")))
    return int(reply["exit_code"])


async def exec_kill(shim_dir: str, exec_id: str, sig: int) -> None:
    await _ok(shim_dir, {"op": "kill", "id": exec_id, "signal": int(sig)})


async def exec_resize(shim_dir: str, exec_id: str, w: int, h: int) -> None:
    await _ok(shim_dir, {"op": "resize", "id": exec_id, "width": int(w), "height": int(h)})


def shim_alive(shim_dir: str) -> bool:
    """True if a shim accepts connections on shim.sock."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(socket_path(shim_dir))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _shim_info(shim_dir: str) -> dict[str, Any]:
    try:
        with open(os.path.join(shim_dir, "shim.json")) as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return {}


def _delete_builtin(root: str, container_id: str) -> None:
    from dockyard.runtime import lifecycle
    with contextlib.suppress(Exception):
        lifecycle.delete(root, container_id, force=True)


def _delete_cgroup(path: str) -> None:
    from dockyard.runtime.cgroups import open_cgroup
    open_cgroup(path).delete()


async def delete(shim_dir: str, runtime: str | None = None) -> None:
    """Release the runtime's state and the container's cgroup; tell a lingering shim to leave.

    Call after the container exited (a live one is killed).  Idempotent.
    """
    info = _shim_info(shim_dir)
    if not info:
        return
    with contextlib.suppress(ShimError, OSError):
        await _call(shim_dir, {"op": "shutdown"})
    runtime = runtime or info.get("runtime") or BUILTIN
    root, cid = info["runtime_root"], info["container_id"]
    loop = asyncio.get_running_loop()
    if runtime == BUILTIN:
        await loop.run_in_executor(None, _delete_builtin, root, cid)
    else:
        argv = delete_argv(runtime, root, os.path.join(shim_dir, "runtime.log"), cid)
        with contextlib.suppress(OSError):
            proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                        stdout=asyncio.subprocess.DEVNULL,
                                                        stderr=asyncio.subprocess.DEVNULL)
            await proc.wait()
    if info.get("cgroups_path"):
        await loop.run_in_executor(None, _delete_cgroup, info["cgroups_path"])
