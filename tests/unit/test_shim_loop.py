"""The shim's event loop (shim/loop.py): waiters and coroutines, timers, signals, streams."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator

import pytest

from dockyard.shim.loop import Loop, Stream, Waiter, current, spawn


@pytest.fixture
def loop() -> Iterator[Loop]:
    lp = Loop()
    yield lp
    lp.close()


def test_a_coroutine_awaits_waiters_and_returns(loop: Loop) -> None:
    w: Waiter = Waiter()

    async def main() -> int:
        return await w + 1

    task = spawn(main())
    loop.call_later(0.01, w.set_result, 41)
    assert loop.run_until(task) == 42
    assert current() is loop


def test_an_exception_reaches_the_awaiter(loop: Loop) -> None:
    w: Waiter = Waiter()

    async def inner() -> None:
        await w

    async def outer() -> str:
        try:
            await spawn(inner())
        except KeyError as e:
            return f"caught {e}"
        return "not raised"

    loop.call_soon(w.set_exception, KeyError("x"))
    assert loop.run_until(spawn(outer())) == "caught 'x'"


def test_callbacks_run_from_the_loop_not_from_set_result(loop: Loop) -> None:
    seen: list[str] = []
    w: Waiter = Waiter()
    w.add_done_callback(lambda _: seen.append("callback"))
    w.set_result(None)
    seen.append("after set_result")
    loop.run_until(spawn(_sleep(loop, 0)))
    assert seen == ["after set_result", "callback"]


async def _sleep(loop: Loop, delay: float) -> None:
    w: Waiter = Waiter()
    loop.call_later(delay, w.set_result, None)
    await w


def test_timers_fire_in_order_and_cancelled_ones_not(loop: Loop) -> None:
    fired: list[int] = []
    loop.call_later(0.03, fired.append, 3)
    loop.call_later(0.01, fired.append, 1)
    loop.call_later(0.02, fired.append, 2).cancel()
    loop.run_until(spawn(_sleep(loop, 0.05)))
    assert fired == [1, 3]


def test_a_failing_callback_does_not_stop_the_loop(loop: Loop, capsys: pytest.CaptureFixture[str]) -> None:
    loop.call_soon(lambda: 1 / 0)
    loop.run_until(spawn(_sleep(loop, 0.01)))
    assert "ZeroDivisionError" in capsys.readouterr().err


def test_signals_are_delivered_as_callbacks(loop: Loop) -> None:
    got: Waiter = Waiter()
    loop.add_signal_handler(signal.SIGUSR1, lambda: got.set_result("usr1"))
    saved = signal.getsignal(signal.SIGUSR1)
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        assert loop.run_until(got) == "usr1"
    finally:
        signal.signal(signal.SIGUSR1, saved if saved is not None else signal.SIG_DFL)


def test_stream_lines_chunks_and_eof(loop: Loop) -> None:
    a, b = socket.socketpair()
    stream = Stream(a)
    b.sendall(b'{"op":"state"}\npartial')
    b.shutdown(socket.SHUT_WR)

    async def main() -> list[bytes]:
        return [await stream.readline(1024), await stream.read(100), await stream.read(100)]

    assert loop.run_until(spawn(main())) == [b'{"op":"state"}\n', b"partial", b""]
    stream.close()
    b.close()


def test_stream_line_past_the_limit_is_an_error(loop: Loop) -> None:
    a, b = socket.socketpair()
    stream = Stream(a)
    b.sendall(b"x" * 100)

    async def main() -> bytes:
        return await stream.readline(10)

    with pytest.raises(ValueError):
        loop.run_until(spawn(main()))
    stream.close()
    b.close()


def test_stream_buffers_writes_and_closes_after_the_last_byte(loop: Loop) -> None:
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    stream = Stream(a)
    data = os.urandom(1 << 20)
    stream.write(data)
    assert stream.buffer_size() > 0          # the kernel took only part of it
    stream.close()
    assert stream.is_closing()
    received = bytearray()
    b.setblocking(False)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        loop.run_until(spawn(_sleep(loop, 0.001)))
        try:
            chunk = b.recv(1 << 16)
        except BlockingIOError:
            continue
        if not chunk:
            break
        received += chunk
    assert bytes(received) == data
    b.close()


def test_writing_to_a_gone_peer_closes_the_stream(loop: Loop) -> None:
    a, b = socket.socketpair()
    stream = Stream(a)
    b.close()
    stream.write(b"x" * 100000)
    stream.write(b"y")
    assert stream.is_closing()
