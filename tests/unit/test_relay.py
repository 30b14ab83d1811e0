"""engine.relay on socketpairs: how a session ends (output done, detach keys, stdin EOF, client gone)."""

from __future__ import annotations

import asyncio
import socket

from dockyard.detachkeys import DEFAULT_DETACH_KEYS
from dockyard.engine.relay import RelayEnd, relay


class FakeClient:
    """A hijacked client: scripted input chunks (then EOF, or silence), output collected."""

    def __init__(self, chunks: list[bytes], eof: bool = True, fail_writes: bool = False) -> None:
        self.chunks = list(chunks)
        self.eof = eof
        self.fail_writes = fail_writes
        self.out = bytearray()
        self.write_closed = False

    async def read(self, n: int = 65536) -> bytes:
        await asyncio.sleep(0.01)
        if self.chunks:
            return self.chunks.pop(0)
        if self.eof:
            return b""
        await asyncio.Event().wait()  # never: a client that keeps its stdin open
        return b""

    async def write(self, data: bytes) -> None:
        if self.fail_writes:
            raise ConnectionResetError("gone")
        self.out += data

    def close_write(self) -> None:
        self.write_closed = True


async def _pair() -> tuple[socket.socket, asyncio.StreamReader, asyncio.StreamWriter]:
    """(the shim's end as a plain socket, the daemon's end as asyncio streams)."""
    shim_end, daemon_end = socket.socketpair()
    shim_end.setblocking(False)
    reader, writer = await asyncio.open_connection(sock=daemon_end)
    return shim_end, reader, writer


async def _recv_all(sock: socket.socket) -> bytes:
    loop = asyncio.get_running_loop()
    data = b""
    while chunk := await loop.sock_recv(sock, 65536):
        data += chunk
    return data


def test_output_ends_the_session_and_stdin_reaches_the_process():
    async def main() -> None:
        shim, reader, writer = await _pair()
        client = FakeClient([b"in1", b"in2"], eof=False)
        loop = asyncio.get_running_loop()

        async def process() -> bytes:
            got = b""
            while len(got) < 6:
                got += await loop.sock_recv(shim, 64)
            await loop.sock_sendall(shim, b"output")
            shim.shutdown(socket.SHUT_WR)
            return got

        proc = asyncio.create_task(process())
        end = await relay(client, reader, writer, stdin=True)
        assert end is RelayEnd.ENDED and bytes(client.out) == b"output" and await proc == b"in1in2"
        shim.close()

    asyncio.run(main())


def test_detach_keys_end_the_session_and_are_not_forwarded():
    async def main() -> None:
        shim, reader, writer = await _pair()
        client = FakeClient([b"ls\r", b"\x10", b"\x11", b"never"], eof=False)
        end = await relay(client, reader, writer, stdin=True, detach_keys=DEFAULT_DETACH_KEYS)
        assert end is RelayEnd.DETACHED
        assert await _recv_all(shim) == b"ls\r"   # and the shim side was closed
        shim.close()

    asyncio.run(main())


def test_stdin_eof_half_closes_or_ends_the_session():
    async def main() -> None:
        # default: EOF reaches the process as EOF; the output still ends the session
        shim, reader, writer = await _pair()
        loop = asyncio.get_running_loop()

        async def echo_until_eof() -> None:
            data = await _recv_all(shim)
            await loop.sock_sendall(shim, data.upper())
            shim.shutdown(socket.SHUT_WR)

        task = asyncio.create_task(echo_until_eof())
        client = FakeClient([b"abc"])
        assert await relay(client, reader, writer, stdin=True) is RelayEnd.ENDED
        await task
        assert bytes(client.out) == b"ABC"
        shim.close()
        # end_on_eof (a TTY, as moby does): EOF ends the session, the process keeps running
        shim, reader, writer = await _pair()
        client = FakeClient([b"abc"])
        assert await relay(client, reader, writer, stdin=True, end_on_eof=True) is RelayEnd.INPUT_ENDED
        shim.close()

    asyncio.run(main())


def test_client_gone():
    async def main() -> None:
        shim, reader, writer = await _pair()
        await asyncio.get_running_loop().sock_sendall(shim, b"data")
        client = FakeClient([], eof=False, fail_writes=True)
        assert await relay(client, reader, writer, stdin=False) is RelayEnd.GONE
        shim.close()

    asyncio.run(main())
