"""HEALTHCHECK: probes run as execs in the container, and its State.Health (moby daemon/health.go).

A running container with a healthcheck gets one monitor task: it waits the
interval (the start interval while still ``starting`` within the start period),
runs the probe through the container's shim as an exec, and records the result:
exit 0 → ``healthy`` and the failing streak back to 0; anything else counts
toward ``Retries`` consecutive failures → ``unhealthy`` (failures inside the
start period do not count while the container is still ``starting``).  The last
5 results are kept.  A change of status is an event ``health_status: <status>``.
When the container stops the monitor ends and the status becomes ``unhealthy``,
as in Docker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import signal
import time
from collections.abc import Callable
from typing import Any

from dockyard import errors
from dockyard.engine.container_store import Container
from dockyard.engine.spec import exec_process_spec
from dockyard.engine.state import Status
from dockyard.engine.timeutil import rfc3339_to_epoch
from dockyard.shim import client as shim
from dockyard.shim.protocol import FrameDecoder, rfc3339nano
from dockyard.store.paths import Paths

__all__ = ["HealthMonitor", "merge_healthcheck", "validate_healthcheck", "probe_command", "go_duration",
           "health_status", "MAX_LOG_ENTRIES", "MAX_OUTPUT"]

log = logging.getLogger("dockyard.health")

SECOND = 1_000_000_000
DEFAULT_INTERVAL = 30 * SECOND
DEFAULT_TIMEOUT = 30 * SECOND
DEFAULT_START_INTERVAL = 5 * SECOND
DEFAULT_RETRIES = 3
MIN_DURATION = 1_000_000          # 1ms, Docker's containertypes.MinimumDuration
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096
EXEC_START_TIMEOUT = 30.0         # a wedged exec start is a failed probe, not a hung monitor
_FIELDS = ("Interval", "Timeout", "StartPeriod", "StartInterval", "Retries")


# -- configuration -------------------------------------------------------------------------------

def merge_healthcheck(user: dict[str, Any] | None, image: dict[str, Any] | None) -> dict[str, Any] | None:
    """The container's Healthcheck: the request's, with zero fields taken from the image's (moby merge())."""
    if not user:
        return dict(image) if image else None
    out = dict(user)
    if image:
        if not out.get("Test"):
            out["Test"] = image.get("Test")
        for key in _FIELDS:
            if not out.get(key):
                out[key] = image.get(key) or 0
    return out


def validate_healthcheck(hc: dict[str, Any] | None) -> None:
    """Docker's create-time checks (400 on failure)."""
    if not hc:
        return
    test = hc.get("Test")
    if test is not None and (not isinstance(test, list) or not all(isinstance(t, str) for t in test)):
        raise errors.InvalidArgument("invalid type for Healthcheck.Test: expected a list of strings")
    for key in _FIELDS:
        if hc.get(key) is not None and not isinstance(hc.get(key), int):
            raise errors.InvalidArgument(f"invalid type for Healthcheck.{key}")
    for key in ("Interval", "Timeout"):
        if hc.get(key) and hc[key] < MIN_DURATION:
            raise errors.InvalidArgument(f"{key} in Healthcheck cannot be less than 1ms")
    if (hc.get("Retries") or 0) < 0:
        raise errors.InvalidArgument("Retries in Healthcheck cannot be negative")
    for key in ("StartPeriod", "StartInterval"):
        if hc.get(key) and hc[key] < MIN_DURATION:
            raise errors.InvalidArgument(f"{key} in Healthcheck cannot be less than 1ms")


def probe_command(hc: dict[str, Any] | None, shell: list[str] | None = None) -> list[str] | None:
    """The probe's argv, or None when there is no check (none configured, NONE, unknown kind)."""
    test = (hc or {}).get("Test") or []
    if not test or test[0] not in ("CMD", "CMD-SHELL") or len(test) < 2:
        return None
    if test[0] == "CMD-SHELL":
        return list(shell or ["/bin/sh", "-c"]) + list(test[1:])
    return list(test[1:])


def go_duration(ns: int) -> str:
    """Go's time.Duration.String: 1s, 1.5s, 500ms, 1m30s, 1h0m0s."""
    if ns == 0:
        return "0s"
    sign, u = ("-" if ns < 0 else ""), abs(ns)

    def frac(v: int, unit: int) -> str:
        whole, rest = divmod(v, unit)
        digits = str(rest).rjust(len(str(unit)) - 1, "0").rstrip("0")
        return f"{whole}.{digits}" if digits else str(whole)

    if u < 1000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        return f"{sign}{frac(u, 1000)}µs"
    if u < SECOND:
        return f"{sign}{frac(u, 1_000_000)}ms"
    hours, rest = divmod(u, 3600 * SECOND)
    minutes, rest = divmod(rest, 60 * SECOND)
    text = frac(rest, SECOND) + "s"
    if hours or minutes:
        text = f"{minutes}m" + text
    if hours:
        text = f"{hours}h" + text
    return sign + text


def health_status(c: Container) -> str:
    """'starting' | 'healthy' | 'unhealthy' for a container with a health state, else ''."""
    h = getattr(c, "health", None)
    return str(h.get("Status") or "unhealthy") if h else ""


# -- the monitor ---------------------------------------------------------------------------------

class _Output:
    """Up to MAX_OUTPUT bytes of the probe's stdout+stderr; '...' marks a cut."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.truncated = False

    def write(self, data: bytes) -> None:
        keep = max(0, min(MAX_OUTPUT - len(self.buf), len(data)))
        self.buf += data[:keep]
        self.truncated = self.truncated or keep < len(data)

    def text(self) -> str:
        return self.buf.decode("utf-8", "replace") + ("..." if self.truncated else "")


class HealthMonitor:
    """One probing task per running container with a healthcheck."""

    def __init__(self, paths: Paths, save: Callable[[Container], None],
                 emit: Callable[..., None]) -> None:
        self.paths = paths
        self._save = save
        self._emit = emit
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, c: Container) -> None:
        """The container just started (or was re-adopted): status `starting`, probing begins."""
        hc = c.config.get("Healthcheck")
        cmd = probe_command(hc, c.config.get("Shell"))
        if cmd is None:
            return
        self.stop(c, mark=False)
        h = dict(c.health or {})
        h.update(Status="starting", FailingStreak=0)
        h.setdefault("Log", [])
        c.health = h
        self._save(c)
        self._tasks[c.id] = asyncio.create_task(self._run(c, hc or {}, cmd))

    def stop(self, c: Container, mark: bool = True) -> None:
        """The container stopped: no more probes; its health reads `unhealthy` (as Docker's)."""
        task = self._tasks.pop(c.id, None)
        if task is not None:
            task.cancel()
        if mark and c.health:
            c.health = dict(c.health, Status="unhealthy")

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- the loop
    async def _run(self, c: Container, hc: dict[str, Any], cmd: list[str]) -> None:
        interval = (hc.get("Interval") or DEFAULT_INTERVAL) / SECOND
        start_interval = (hc.get("StartInterval") or DEFAULT_START_INTERVAL) / SECOND
        start_period = (hc.get("StartPeriod") or 0) / SECOND
        timeout_ns = hc.get("Timeout") or DEFAULT_TIMEOUT
        retries = hc.get("Retries") or DEFAULT_RETRIES
        started = time.monotonic()
        try:
            while True:
                in_start = time.monotonic() - started < start_period
                status = (c.health or {}).get("Status")
                await asyncio.sleep(start_interval if in_start and status == "starting" else interval)
                if c.state.status is not Status.RUNNING:   # paused: a probe would only hang in the freezer
                    continue
                begun = time.time_ns()
                try:
                    code, output = await self._probe(c, cmd, timeout_ns)
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # noqa: BLE001 - a probe that cannot run is a failed probe
                    code, output = -1, str(e)
                result = {"Start": rfc3339nano(begun), "End": rfc3339nano(), "ExitCode": code,
                          "Output": output}
                self._record(c, result, retries, in_start=(begun / SECOND - _started_epoch(c)) < start_period)
        except asyncio.CancelledError:
            pass

    def _record(self, c: Container, result: dict[str, Any], retries: int, *, in_start: bool) -> None:
        h = dict(c.health or {"Status": "starting", "FailingStreak": 0, "Log": []})
        old = h.get("Status")
        h["Log"] = (list(h.get("Log") or []) + [result])[-MAX_LOG_ENTRIES:]
        if result["ExitCode"] == 0:
            h["FailingStreak"] = 0
            h["Status"] = "healthy"
        elif not (old == "starting" and in_start):
            h["FailingStreak"] = int(h.get("FailingStreak") or 0) + 1
            if h["FailingStreak"] >= retries:
                h["Status"] = "unhealthy"
        c.health = h
        if h["Status"] != old:
            self._save(c)
            self._emit("container", f"health_status: {h['Status']}", c)

    async def _probe(self, c: Container, cmd: list[str], timeout_ns: int) -> tuple[int, str]:
        shim_dir = str(self.paths.shim_dir(c.id))
        with open(self.paths.bundle(c.id) / "config.json") as f:
            spec = json.load(f)
        process = exec_process_spec(spec, args=cmd, user=c.config.get("User") or "",
                                    cwd=c.config.get("WorkingDir") or "")
        exec_id = secrets.token_hex(32)
        text = " ".join(cmd)
        self._emit("container", f"exec_create: {text}", c, execID=exec_id)
        try:
            _pid, reader, writer = await asyncio.wait_for(
                shim.exec_start(shim_dir, exec_id, process, stdin=False, stdout=True, stderr=True),
                EXEC_START_TIMEOUT)
        except shim.RuntimeCreateError as e:
            return -1, e.message
        self._emit("container", f"exec_start: {text}", c, execID=exec_id)
        output = _Output()
        try:
            await asyncio.wait_for(_drain(reader, output), timeout_ns / SECOND)
            code = await shim.exec_wait(shim_dir, exec_id, forget=True)
        except TimeoutError:
            with contextlib.suppress(Exception):
                await shim.exec_kill(shim_dir, exec_id, signal.SIGKILL)
            with contextlib.suppress(Exception):  # let it die, so that dying probes never pile up
                await asyncio.wait_for(shim.exec_wait(shim_dir, exec_id, forget=True), 10)
            out = output.text()
            msg = f"Health check exceeded timeout ({go_duration(timeout_ns)})"
            return -1, f"{msg}: {out}" if out else msg
        finally:
            writer.close()
        self._emit("container", "exec_die", c, execID=exec_id, exitCode=str(code))
        return code, output.text()


async def _drain(reader: asyncio.StreamReader, out: _Output) -> None:
    frames = FrameDecoder()
    while True:
        data = await reader.read(65536)
        if not data:
            return
        for _stream, payload in frames.feed(data):
            out.write(payload)


def _started_epoch(c: Container) -> float:
    return rfc3339_to_epoch(c.state.started_at) or time.time()
