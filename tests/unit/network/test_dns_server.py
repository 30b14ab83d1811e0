"""EmbeddedDns on real sockets: a fresh netns with its own 127.0.0.11, queried from inside it by
busybox nslookup and by plain sockets, forwarding to a small upstream server on a host loopback address."""

from __future__ import annotations

import asyncio
import fcntl
import os
import random
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from dockyard.network.dns import EmbeddedDns, host_nameservers, open_listeners, parse_upstream
from dockyard.network.dnswire import (
    Message,
    Rcode,
    Type,
    a_response,
    error_response,
    make_query,
    nxdomain_response,
    parse_message,
    parse_query,
    truncate,
)
from dockyard.network.loopback import set_loopback_up
from dockyard.network.netns import in_netns

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")

DNS = ("127.0.0.11", 53)


# --- the pieces the daemon would own -------------------------------------------------------------


class Names:
    """The engine's side: what each client may see."""

    def __init__(self) -> None:
        self.names: dict[str, dict[str, list[str]]] = {
            "c1": {"web": ["10.0.0.2"], "web.mynet": ["10.0.0.2"], "db": ["10.0.0.3", "10.0.0.4", "10.0.0.5"]},
            "c2": {"db": ["10.9.0.9"]},
        }
        self.ptrs = {"c1": {"10.0.0.2": "web.mynet"}}
        self.forward = True
        self.seen: list[tuple[str, str]] = []
        self.broken = False

    def lookup(self, client: str, name: str) -> list[str] | None:
        if self.broken:
            raise RuntimeError("engine bug")
        self.seen.append((client, name))
        return self.names.get(client, {}).get(name)

    def reverse(self, client: str, ip: str) -> str | None:
        return self.ptrs.get(client, {}).get(ip)

    def may_forward(self, client: str) -> bool:
        return self.forward


class Upstream:
    """A nameserver on a random host loopback address and port.

    modes: "answer" (192.0.2.1; names starting "nx" get NXDOMAIN), "silent", "servfail",
    "big" (60 A records; over UDP always cut to 512 with TC, like a server without EDNS).
    """

    def __init__(self, mode: str = "answer") -> None:
        self.mode = mode
        self.seen: list[tuple[str, int, str]] = []

    async def start(self) -> Upstream:
        for _ in range(50):
            ip = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                udp.bind((ip, 0))
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((ip, udp.getsockname()[1]))
            except OSError:
                udp.close()
                tcp.close()
                continue
            break
        self.addr = f"{ip}:{udp.getsockname()[1]}"
        tcp.listen()
        udp.setblocking(False)
        tcp.setblocking(False)
        loop = asyncio.get_running_loop()
        up = self

        class Proto(asyncio.DatagramProtocol):
            def connection_made(self, transport):
                self.transport = transport

            def datagram_received(self, data, addr):
                reply = up.answer(data, "udp")
                if reply is not None:
                    self.transport.sendto(reply, addr)

        self.udp, _ = await loop.create_datagram_endpoint(Proto, sock=udp)
        self.server = await asyncio.start_server(self._tcp, sock=tcp)
        return self

    async def _tcp(self, reader, writer):
        try:
            while True:
                data = await reader.readexactly(int.from_bytes(await reader.readexactly(2), "big"))
                reply = self.answer(data, "tcp")
                if reply is not None:
                    writer.write(len(reply).to_bytes(2, "big") + reply)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def answer(self, data: bytes, proto: str) -> bytes | None:
        q = parse_query(data)
        self.seen.append((proto, q.id, q.question.name))
        if self.mode == "silent":
            return None
        if self.mode == "servfail":
            return error_response(q, Rcode.SERVFAIL)
        if q.question.name.startswith("nx"):
            return nxdomain_response(q)
        if self.mode == "big":
            reply = a_response(q, [f"10.1.0.{i}" for i in range(60)])
            return truncate(reply, 512) if proto == "udp" else reply
        return a_response(q, ["192.0.2.1"])

    async def stop(self) -> None:
        self.udp.close()
        self.server.close()


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    name = f"dytest-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        path = f"/run/netns/{name}"
        in_netns(path, set_loopback_up)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    loop.close()


def run(loop, coro, timeout: float = 30):
    return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)


class Setup:
    def __init__(self, loop, netns: str) -> None:
        self.loop, self.netns, self.path = loop, netns, f"/run/netns/{netns}"
        self.names = Names()
        self.upstreams: list[str] = []
        self.dns = EmbeddedDns(self.names, lambda: list(self.upstreams), timeout=1.0)
        self.up: list[Upstream] = []

    def add(self, client: str = "c1", port: int = 53):
        udp, tcp = in_netns(self.path, lambda: open_listeners("127.0.0.11", port))
        run(self.loop, self.dns.add(client, udp, tcp))
        return udp, tcp

    def upstream(self, mode: str = "answer") -> Upstream:
        up = run(self.loop, Upstream(mode).start())
        self.up.append(up)
        self.upstreams.append(up.addr)
        return up

    def udp(self, packet: bytes, timeout: float = 5, port: int = 53) -> Message:
        return parse_message(self.udp_raw(packet, timeout, port))

    def udp_raw(self, packet: bytes, timeout: float = 5, port: int = 53) -> bytes:
        def ask() -> bytes:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(timeout)
                s.sendto(packet, ("127.0.0.11", port))
                return s.recv(65535)

        return in_netns(self.path, ask)

    def tcp_raw(self, packet: bytes, timeout: float = 5) -> bytes:
        def ask() -> bytes:
            with socket.create_connection(DNS, timeout=timeout) as s:
                s.sendall(len(packet).to_bytes(2, "big") + packet)
                f = s.makefile("rb")
                return f.read(int.from_bytes(f.read(2), "big"))

        return in_netns(self.path, ask)

    def nslookup(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.netns, "busybox", "nslookup", *args, "127.0.0.11"],
            capture_output=True, text=True, timeout=20,
        )

    def close(self) -> None:
        run(self.loop, self.dns.close())
        for up in self.up:
            run(self.loop, up.stop())


@pytest.fixture
def s(loop, netns) -> Iterator[Setup]:
    setup = Setup(loop, netns)
    setup.add()
    try:
        yield setup
    finally:
        setup.close()


def a_records(resp: bytes) -> list[str]:
    m = parse_message(resp)
    return [".".join(map(str, resp[rr.end - 4 : rr.end])) for rr in m.rrs if rr.rtype == Type.A]


# --- local answers -------------------------------------------------------------------------------


def test_container_name_over_udp_is_dockers_answer(s):
    raw = s.udp_raw(make_query("DB.", Type.A, 0x4242))
    m = parse_message(raw)
    assert (m.id, m.qr, m.aa, m.ra, m.rcode) == (0x4242, True, False, True, Rcode.NOERROR)
    assert m.question.wire_name == b"\x02DB\x00"  # the question as sent, case kept
    assert sorted(a_records(raw)) == ["10.0.0.3", "10.0.0.4", "10.0.0.5"]
    assert {raw[rr.start + 6 : rr.start + 10] for rr in m.rrs} == {(600).to_bytes(4, "big")}
    assert ("c1", "db") in s.names.seen  # lower case, no trailing dot


def test_known_name_without_ipv6_or_mx_gets_noerror_no_data(s):
    for qtype in (Type.AAAA, Type.MX):
        m = s.udp(make_query("web", qtype, 9))
        assert (m.rcode, m.ra, m.rrs) == (Rcode.NOERROR, True, ())


def test_ptr_for_a_container_ip(s):
    raw = s.udp_raw(make_query("2.0.0.10.in-addr.arpa", Type.PTR, 5))
    m = parse_message(raw)
    assert m.rcode == Rcode.NOERROR and m.rrs[0].rtype == Type.PTR
    assert raw[m.rrs[0].start + 12 :] == b"\x03web\x05mynet\x00"


def test_tcp_client_gets_the_same_local_answer(s):
    raw = s.tcp_raw(make_query("web.mynet", Type.A, 77))
    assert parse_message(raw).id == 77 and a_records(raw) == ["10.0.0.2"]


def test_busybox_nslookup_resolves_container_and_forwarded_names(s):
    s.upstream()
    out = s.nslookup("web")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "10.0.0.2" in out.stdout
    out = s.nslookup("example.test")
    assert out.returncode == 0 and "192.0.2.1" in out.stdout, out.stdout + out.stderr
    out = s.nslookup("nx.example.test")
    assert out.returncode != 0 and "NXDOMAIN" in out.stdout + out.stderr
    out = s.nslookup("10.0.0.2")  # busybox turns an address into its in-addr.arpa PTR query
    assert "web.mynet" in out.stdout, out.stdout + out.stderr


def test_each_client_sees_its_own_names(s):
    s.add("c2", port=5353)
    s.upstream()
    assert a_records(s.udp_raw(make_query("db", Type.A, 1), port=5353)) == ["10.9.0.9"]
    assert a_records(s.udp_raw(make_query("web", Type.A, 2), port=5353)) == ["192.0.2.1"]  # not c2's: forwarded


def test_a_container_name_with_an_internal_only_client_still_resolves_but_others_servfail(s):
    up = s.upstream()
    s.names.forward = False
    assert a_records(s.udp_raw(make_query("web", Type.A, 1))) == ["10.0.0.2"]
    started = time.monotonic()
    m = s.udp(make_query("example.test", Type.A, 2))
    assert (m.id, m.rcode, m.ra) == (2, Rcode.SERVFAIL, False)
    assert time.monotonic() - started < 0.5 and up.seen == []


def test_resolver_errors_become_servfail(s):
    s.names.broken = True
    assert s.udp(make_query("web", Type.A, 3)).rcode == Rcode.SERVFAIL
    s.names.broken = False
    assert s.udp(make_query("web", Type.A, 4)).rcode == Rcode.NOERROR


# --- forwarding ----------------------------------------------------------------------------------


def test_forwarded_udp_answer_keeps_the_clients_id(s):
    up = s.upstream()
    raw = s.udp_raw(make_query("Example.Test", Type.A, 0x1111))
    assert parse_message(raw).id == 0x1111 and a_records(raw) == ["192.0.2.1"]
    assert [(proto, name) for proto, _, name in up.seen] == [("udp", "example.test")]
    assert s.udp(make_query("nx.test", Type.A, 0x2222)).rcode == Rcode.NXDOMAIN


def test_forwarded_query_from_a_tcp_client_goes_over_tcp(s):
    up = s.upstream()
    raw = s.tcp_raw(make_query("example.test", Type.TXT, 0x3333))
    assert parse_message(raw).id == 0x3333 and a_records(raw) == ["192.0.2.1"]
    assert [proto for proto, _, _ in up.seen] == ["tcp"]


def test_non_in_class_is_forwarded_not_answered(s):
    up = s.upstream()
    q = bytearray(make_query("web", Type.A, 8))
    q[-2:] = (3).to_bytes(2, "big")  # CHAOS
    s.udp(bytes(q))
    assert [name for _, _, name in up.seen] == ["web"]


def test_truncated_upstream_answer_is_retried_over_tcp(s):
    up = s.upstream("big")
    raw = s.udp_raw(make_query("many.test", Type.A, 0x4444, edns_size=4096))
    m = parse_message(raw)
    assert m.id == 0x4444 and not m.tc and len(a_records(raw)) == 60
    assert [proto for proto, _, _ in up.seen] == ["udp", "tcp"]


def test_udp_answer_over_512_bytes_is_truncated_with_tc(s):
    s.upstream("big")
    raw = s.udp_raw(make_query("many.test", Type.A, 0x5555))
    m = parse_message(raw)
    assert len(raw) <= 512 and m.tc and m.id == 0x5555 and 0 < len(a_records(raw)) < 60
    assert len(a_records(s.tcp_raw(make_query("many.test", Type.A, 6)))) == 60


def test_silent_upstream_times_out_to_the_next_one_and_none_left_is_servfail(s):
    silent = s.upstream("silent")
    started = time.monotonic()
    m = s.udp(make_query("example.test", Type.A, 0x6666))
    assert (m.id, m.rcode) == (0x6666, Rcode.SERVFAIL)
    assert 0.9 < time.monotonic() - started < 1.8  # the 1 s budget of this test's server
    s.upstream("answer")
    started = time.monotonic()
    raw = s.udp_raw(make_query("example.test", Type.A, 0x7777))
    assert a_records(raw) == ["192.0.2.1"] and time.monotonic() - started < 1.8
    assert len(silent.seen) == 2


def test_upstream_servfail_means_ask_the_next(s):
    s.upstream("servfail")
    s.upstream("answer")
    assert a_records(s.udp_raw(make_query("example.test", Type.A, 1))) == ["192.0.2.1"]


def test_no_upstreams_is_servfail(s):
    assert s.udp(make_query("example.test", Type.A, 1)).rcode == Rcode.SERVFAIL


# --- abuse ---------------------------------------------------------------------------------------


def test_flood_of_malformed_packets_gets_formerr_or_nothing(s):
    rnd = random.Random(1)
    packets = [rnd.randbytes(rnd.randint(0, 80)) for _ in range(3000)]
    packets += [bytes.fromhex("abcd 0100 0001 0000 0000 0000") + rnd.randbytes(rnd.randint(0, 20)) for _ in range(500)]

    def flood() -> list[bytes]:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            sock.connect(DNS)
            for p in packets:
                sock.send(p)
            sock.settimeout(0.5)
            got = []
            try:
                while True:
                    got.append(sock.recv(65535))
            except TimeoutError:
                return got

    replies = in_netns(s.path, flood)
    assert replies, "nothing answered"
    for r in replies:
        m = parse_message(r)
        assert m.qr and m.rcode in (Rcode.FORMERR, Rcode.NOTIMP, Rcode.SERVFAIL, Rcode.NOERROR, Rcode.REFUSED)
    assert any(parse_message(r).rcode == Rcode.FORMERR for r in replies)
    assert a_records(s.udp_raw(make_query("web", Type.A, 1))) == ["10.0.0.2"]  # still serving
    # and over TCP: garbage closes the connection, the server stays up
    def garbage() -> bytes:
        with socket.create_connection(DNS, timeout=5) as c:
            c.sendall(b"\x00\x05\xff\xff\xff\xff\xff")
            return c.recv(100)

    assert in_netns(s.path, garbage) == b""
    assert a_records(s.tcp_raw(make_query("web", Type.A, 2))) == ["10.0.0.2"]


def test_in_flight_forwards_per_client_are_bounded(s):
    up = s.upstream("silent")

    def burst() -> list[Message]:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            sock.connect(DNS)
            for i in range(250):
                sock.send(make_query(f"n{i}.example.test", Type.A, i))
            sock.settimeout(3)
            got = []
            try:
                while len(got) < 250:
                    got.append(parse_message(sock.recv(65535)))
            except TimeoutError:
                pass
            return got

    replies = in_netns(s.path, burst)
    codes = [m.rcode for m in replies]
    # the first 100 wait out the budget (SERVFAIL), the rest are turned away at once (REFUSED)
    assert codes.count(Rcode.SERVFAIL) == 100 == len(up.seen)
    assert codes.count(Rcode.REFUSED) == len(codes) - 100 > 0
    assert a_records(s.udp_raw(make_query("web", Type.A, 1))) == ["10.0.0.2"]  # local names unaffected


def first_bytes(c: socket.socket) -> bytes:
    try:
        return c.recv(2, socket.MSG_WAITALL)
    except ConnectionResetError:  # closed with our query unread: the kernel sends RST
        return b""


def test_tcp_connections_per_client_are_bounded(s):
    def connect_many() -> list[bytes]:
        conns = [socket.create_connection(DNS, timeout=5) for _ in range(33)]
        try:
            q = make_query("web", Type.A, 1)
            for c in conns:
                c.sendall(len(q).to_bytes(2, "big") + q)
            return [first_bytes(c) for c in conns]
        finally:
            for c in conns:
                c.close()

    got = in_netns(s.path, connect_many)
    assert got.count(b"") == 1 and len(set(got) - {b""}) == 1  # 32 answered, one turned away


def test_thousands_of_addresses_over_tcp_stay_within_one_frame(s):
    s.names.names["c1"]["big"] = [f"10.{i // 65536}.{i // 256 % 256}.{i % 256}" for i in range(5000)]
    raw = s.tcp_raw(make_query("big", Type.A, 1))
    m = parse_message(raw)
    assert m.tc and len(raw) <= 0xFFFF and len(a_records(raw)) == (0xFFFF - m.question_end) // 16


def test_remove_closes_the_clients_sockets_and_connections(s):
    def connect() -> socket.socket:
        c = socket.create_connection(DNS, timeout=5)
        q = make_query("web", Type.A, 1)
        c.sendall(len(q).to_bytes(2, "big") + q)
        size = int.from_bytes(c.recv(2, socket.MSG_WAITALL), "big")
        assert a_records(c.recv(size, socket.MSG_WAITALL)) == ["10.0.0.2"]
        return c

    conn = in_netns(s.path, connect)
    udp, tcp = s.add("c3", port=5300)
    run(s.loop, s.dns.remove("c3"))
    assert udp.fileno() == -1 and tcp.fileno() == -1
    run(s.loop, s.dns.remove("c1"))
    try:
        conn.settimeout(5)
        assert conn.recv(4096) == b""  # the server hung up
    finally:
        conn.close()

    def refused() -> None:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(DNS, timeout=5)

    in_netns(s.path, refused)
    s.add("c1")  # the port is free again


# --- helpers -------------------------------------------------------------------------------------


def test_open_listeners_sockets_are_nonblocking_cloexec_and_share_a_port(netns):
    udp, tcp = in_netns(f"/run/netns/{netns}", lambda: open_listeners("127.0.0.11", 0))
    try:
        assert udp.getsockname()[1] == tcp.getsockname()[1] != 0
        for sock in (udp, tcp):
            assert not sock.getblocking()
            assert fcntl.fcntl(sock.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    finally:
        udp.close()
        tcp.close()


def test_host_nameservers():
    text = (
        "# generated\nsearch example.com\nnameserver 10.0.0.1\nnameserver  fe80::1%eth0 # link-local\n"
        "nameserver 2001:db8::53\n;nameserver 9.9.9.9\nnameserver bogus\noptions ndots:2\nnameserver 127.0.0.53\n"
    )
    assert host_nameservers(text) == ["10.0.0.1", "fe80::1%eth0", "2001:db8::53", "127.0.0.53"]


def test_parse_upstream():
    assert parse_upstream("10.0.0.1") == (socket.AF_INET, ("10.0.0.1", 53))
    assert parse_upstream("127.1.2.3:5353") == (socket.AF_INET, ("127.1.2.3", 5353))
    assert parse_upstream("[::1]:5353")[1][:2] == ("::1", 5353)
    assert parse_upstream("2001:db8::1")[1][:2] == ("2001:db8::1", 53)
    for bad in ("example.com", "10.0.0.1:x", "[::1"):
        with pytest.raises(ValueError):
            parse_upstream(bad)
