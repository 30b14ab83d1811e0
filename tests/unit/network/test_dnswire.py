"""dnswire on bytes: hand-made packets, Docker's flag and TTL choices, and arbitrary input."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.network.dnswire import (
    DnsFormatError,
    Rcode,
    Type,
    a_response,
    encode_name,
    error_response,
    make_query,
    nodata_response,
    nxdomain_response,
    parse_message,
    parse_query,
    ptr_response,
    read_id,
    reject,
    reverse_ipv4,
    truncate,
    with_id,
)

# id 0x1234, RD, one question "Web.MyNet." A IN
QUERY = bytes.fromhex("1234 0100 0001 0000 0000 0000") + b"\x03Web\x05MyNet\x00" + b"\x00\x01\x00\x01"
OPT_4096 = b"\x00" + struct.pack("!HHIH", 41, 4096, 0, 0)


def with_counts(msg: bytes, qd: int, an: int, ns: int, ar: int) -> bytes:
    return msg[:4] + struct.pack("!HHHH", qd, an, ns, ar) + msg[12:]


def test_parse_query_header_and_question():
    q = parse_query(QUERY)
    assert (q.id, q.rd, q.opcode, q.qr) == (0x1234, True, 0, False)
    assert q.question.name == "web.mynet"  # lower case, no trailing dot
    assert q.question.wire_name == b"\x03Web\x05MyNet\x00"  # as sent
    assert (q.question.qtype, q.question.qclass) == (Type.A, 1)
    assert q.edns_size is None


def test_edns_opt_record_is_tolerated_and_gives_the_udp_size():
    q = parse_query(with_counts(QUERY + OPT_4096, 1, 0, 0, 1))
    assert q.edns_size == 4096 and q.question.name == "web.mynet"
    small = OPT_4096[:3] + struct.pack("!H", 100) + OPT_4096[5:]
    assert parse_query(with_counts(QUERY + small, 1, 0, 0, 1)).edns_size == 512  # RFC 6891: < 512 means 512


def test_two_opt_records_are_a_format_error():
    with pytest.raises(DnsFormatError):
        parse_query(with_counts(QUERY + OPT_4096 + OPT_4096, 1, 0, 0, 2))


def test_root_and_escaped_names():
    root = bytes.fromhex("0001 0000 0001 0000 0000 0000") + b"\x00\x00\x02\x00\x01"
    assert parse_query(root).question.name == ""
    odd = bytes.fromhex("0001 0000 0001 0000 0000 0000") + b"\x03a.b\x02\x00Z\x00\x00\x01\x00\x01"
    assert parse_query(odd).question.name == "a\\.b.\\000z"


def test_compression_pointers_are_followed():
    two = with_counts(QUERY + b"\x03WWW\xc0\x0c\x00\x1c\x00\x01", 2, 0, 0, 0)
    m = parse_message(two)
    assert [q.name for q in m.questions] == ["web.mynet", "www.web.mynet"]
    assert m.questions[1].wire_name == b"\x03WWW\x03Web\x05MyNet\x00" and m.questions[1].qtype == Type.AAAA


def test_answer_owner_is_a_pointer_to_the_question():
    resp = a_response(parse_query(QUERY), ["10.0.0.2"])
    m = parse_message(resp)
    assert [rr.rtype for rr in m.rrs] == [Type.A]
    assert resp[m.rrs[0].start : m.rrs[0].start + 2] == b"\xc0\x0c"


@pytest.mark.parametrize(
    "body",
    [
        b"\xc0\x0c\x00\x01\x00\x01",  # pointer to itself
        b"\x01a\xc0\x0c\x00\x01\x00\x01",  # label, then a pointer back to the label: a loop
        b"\xc0\x0e\x00\x01\x00\x01",  # pointer forwards
        b"\xff\xff\x00\x01\x00\x01",  # pointer far out of range
        b"\xc0",  # pointer cut short
        b"\x05ab",  # label past the end
        b"\x41" + b"a" * 65 + b"\x00\x00\x01\x00\x01",  # 0x40 label type
        b"\x03web\x00\x00\x01",  # question cut short
        b"",  # no question at all
    ],
)
def test_malformed_questions_raise_format_error(body):
    with pytest.raises(DnsFormatError):
        parse_query(bytes.fromhex("0001 0100 0001 0000 0000 0000") + body)


def test_pointer_loop_between_two_names_is_an_error():
    # answer 1 owner "\x01a" + pointer to answer 2's owner, which points back to answer 1: forward then back
    head = bytes.fromhex("0001 8000 0001 0002 0000 0000")
    question = b"\x00\x00\x01\x00\x01"  # root, A, IN: offsets 12..16
    rr1 = b"\x01a\xc0\x1f" + struct.pack("!HHIH", 1, 1, 0, 0)  # at 17; its pointer targets 31 (forward)
    rr2 = b"\xc0\x11" + struct.pack("!HHIH", 1, 1, 0, 0)  # at 31, points at 17
    msg = head + question + rr1 + rr2
    assert len(head + question + rr1) == 31
    with pytest.raises(DnsFormatError):
        parse_message(msg)


def test_overlong_name_is_an_error():
    name = (b"\x3f" + b"a" * 63) * 4 + b"\x00"  # 257 bytes
    with pytest.raises(DnsFormatError):
        parse_query(bytes.fromhex("0001 0100 0001 0000 0000 0000") + name + b"\x00\x01\x00\x01")


def test_query_rules_follow_miekgs_accept_function():
    with pytest.raises(DnsFormatError):
        parse_query(QUERY[:2] + b"\x81\x00" + QUERY[4:])  # a response
    with pytest.raises(DnsFormatError):
        parse_query(QUERY[:2] + b"\x28\x00" + QUERY[4:])  # opcode 5 (UPDATE)
    with pytest.raises(DnsFormatError):
        parse_query(with_counts(QUERY + QUERY[12:], 2, 0, 0, 0))  # two questions
    with pytest.raises(DnsFormatError):
        parse_query(QUERY[:11])


def test_reject_answers_formerr_or_notimp_and_drops_runts_and_responses():
    formerr = reject(bytes.fromhex("abcd 0110 0002 0000 0000 0000"))  # RD, CD, two questions
    assert formerr == bytes.fromhex("abcd 8111 0000 0000 0000 0000")  # QR RD CD, FORMERR, header only
    notimp = reject(bytes.fromhex("abcd 2900 0001 0000 0000 0000"))  # opcode 5, RD
    assert notimp == bytes.fromhex("abcd a904 0000 0000 0000 0000")  # opcode kept, NOTIMP
    assert reject(b"\x00" * 11) is None
    assert reject(bytes.fromhex("abcd 8000 0001 0000 0000 0000")) is None


def test_a_response_is_dockers():
    resp = a_response(parse_query(QUERY), ["10.0.0.2", "10.0.0.3"])
    head = bytes.fromhex("1234 8180 0001 0002 0000 0000")  # QR RD RA, not AA, NOERROR
    rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 600, 4)
    assert resp == head + QUERY[12:] + rr + bytes([10, 0, 0, 2]) + rr + bytes([10, 0, 0, 3])


def test_ptr_response_has_a_fully_qualified_target():
    q = make_query("2.0.0.10.in-addr.arpa", Type.PTR, 7)
    resp = ptr_response(parse_query(q), "web.mynet")
    m = parse_message(resp)
    assert m.flags == 0x8180 and [rr.rtype for rr in m.rrs] == [Type.PTR]
    rdata = resp[m.rrs[0].start + 12 :]
    assert resp[m.rrs[0].start + 6 : m.rrs[0].start + 10] == (600).to_bytes(4, "big")
    assert rdata == b"\x03web\x05mynet\x00"


def test_nodata_nxdomain_and_errors():
    q = parse_query(QUERY[:2] + b"\x01\x10" + QUERY[4:])  # RD + CD
    assert nodata_response(q)[:12] == bytes.fromhex("1234 8190 0001 0000 0000 0000")
    assert nxdomain_response(q)[:12] == bytes.fromhex("1234 8193 0001 0000 0000 0000")
    assert error_response(q, Rcode.SERVFAIL)[:12] == bytes.fromhex("1234 8112 0001 0000 0000 0000")  # no RA
    assert error_response(q, Rcode.REFUSED)[12:] == QUERY[12:]  # question echoed


def test_ids_read_and_patched():
    assert read_id(QUERY) == 0x1234
    assert with_id(QUERY, 0xBEEF)[:2] == b"\xbe\xef" and with_id(QUERY, 0xBEEF)[2:] == QUERY[2:]
    with pytest.raises(DnsFormatError):
        read_id(b"\x01")


def test_truncate_drops_whole_records_sets_tc_and_keeps_opt():
    q = parse_query(QUERY)
    ips = [f"10.0.{i // 256}.{i % 256}" for i in range(60)]  # 60 * 16 bytes: too big for 512
    full = a_response(q, ips)
    cut = truncate(full, 512)
    m = parse_message(cut)
    assert len(cut) <= 512 and m.tc and m.count(1) == (512 - len(full[: m.question_end])) // 16
    assert truncate(full, 4096) == full  # fits: untouched, no TC
    with_opt = with_counts(full + OPT_4096, 1, 60, 0, 1)
    m2 = parse_message(truncate(with_opt, 600))
    assert m2.tc and m2.edns_size == 4096 and m2.rrs[-1].rtype == Type.OPT
    assert len(truncate(with_opt, 600)) <= 600


def test_reverse_ipv4_names():
    assert reverse_ipv4("4.3.2.1.in-addr.arpa") == "1.2.3.4"
    for bad in ("3.2.1.in-addr.arpa", "256.3.2.1.in-addr.arpa", "01.3.2.1.in-addr.arpa",
                "4.3.2.1.ip6.arpa", "x.3.2.1.in-addr.arpa", "4.3.2.1.in-addr.arpa.com"):
        assert reverse_ipv4(bad) is None


def test_encode_name():
    assert encode_name("web.mynet.") == encode_name("web.mynet") == b"\x03web\x05mynet\x00"
    assert encode_name(".") == b"\x00"
    for bad in ("a..b", "a" * 64, ".".join(["a" * 63] * 5), "é"):
        with pytest.raises(ValueError):
            encode_name(bad)


# --- arbitrary input ---------------------------------------------------------------------------


@settings(max_examples=3000)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_only_raise_format_error(data):
    for fn in (parse_message, parse_query):
        try:
            fn(data)
        except DnsFormatError:
            pass
    reply = reject(data)
    assert reply is None or parse_message(reply).qr
    try:
        out = truncate(data, 512)
    except DnsFormatError:
        return
    assert len(out) <= 512


@settings(max_examples=1000)
@given(st.binary(min_size=12, max_size=64))
def test_mutated_queries_only_raise_format_error(noise):
    # flip bytes of a well-formed query: keeps headers plausible so the deep paths get exercised
    data = bytearray(with_counts(QUERY + OPT_4096, 1, 0, 0, 1))
    for i in range(0, len(noise) - 1, 2):
        data[noise[i] % len(data)] = noise[i + 1]
    try:
        parse_query(bytes(data))
    except DnsFormatError:
        pass


names = st.lists(st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True), min_size=1, max_size=6).map(".".join)
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))


@given(names, st.sampled_from([Type.A, Type.AAAA, Type.PTR, Type.MX]), st.integers(0, 0xFFFF),
       st.booleans(), st.one_of(st.none(), st.integers(0, 0xFFFF)))
def test_build_parse_round_trip(name, qtype, ident, rd, edns):
    q = parse_query(make_query(name, qtype, ident, rd=rd, edns_size=edns))
    assert (q.id, q.rd, q.question.name, q.question.qtype) == (ident, rd, name.lower(), qtype)
    assert q.edns_size == (None if edns is None else max(edns, 512))


@given(names, st.lists(ipv4, max_size=80), st.integers(0, 0xFFFF), st.integers(0, 2000))
def test_a_response_round_trip_and_truncation(name, ips, ident, limit):
    q = parse_query(make_query(name, Type.A, ident))
    resp = a_response(q, ips)
    m = parse_message(resp)
    assert m.id == ident and m.qr and not m.aa and m.ra and m.question.matches(q.question)
    assert [resp[rr.end - 4 : rr.end] for rr in m.rrs] == [bytes(map(int, ip.split("."))) for ip in ips]
    cut = parse_message(truncate(resp, limit))
    assert cut.tc == (len(resp) > max(limit, 512))
    assert cut.count(1) == len(ips) or len(truncate(resp, limit)) <= max(limit, 512)


@given(names, names)
def test_ptr_round_trip(qname, target):
    q = parse_query(make_query(qname, Type.PTR, 1))
    m = parse_message(ptr_response(q, target))
    assert m.question.name == qname.lower() and m.rrs[0].rtype == Type.PTR
