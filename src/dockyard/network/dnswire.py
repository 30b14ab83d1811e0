"""DNS messages on the wire (RFC 1035, EDNS0 per RFC 6891), as the embedded DNS server needs them.

Pure: bytes in, bytes out, no I/O. `parse_message` walks a whole message and
refuses anything malformed with `DnsFormatError` (and nothing else);
`parse_query` adds the rules a server applies to a request. The builders make
the answers Docker's resolver (moby libnetwork/resolver.go, miekg/dns) gives:

- answers carry RA but not AA, copy the query's id, opcode, RD and CD bits and
  echo its question exactly as sent (case kept, for 0x20-randomising clients);
- container records have TTL 600; their owner name points at the question;
- error replies (SERVFAIL, REFUSED) are the query with an rcode and no RA; a
  message too broken to answer gets FORMERR (or NOTIMP for an opcode other than
  QUERY) with the header only, and a response or a runt is dropped;
- no OPT record in local answers (Docker adds none either).

Names are read with compression pointers that must point strictly backwards
of every earlier position, so loops and forward jumps are errors, not hangs.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

__all__ = [
    "CLASS_IN",
    "HEADER_LEN",
    "MIN_UDP_SIZE",
    "TTL",
    "DnsFormatError",
    "Message",
    "Question",
    "RR",
    "Rcode",
    "Type",
    "a_response",
    "encode_name",
    "error_response",
    "make_query",
    "nodata_response",
    "nxdomain_response",
    "parse_message",
    "parse_query",
    "ptr_response",
    "read_id",
    "reject",
    "reverse_ipv4",
    "truncate",
    "with_id",
]

HEADER_LEN = 12
MIN_UDP_SIZE = 512  # RFC 1035 §4.2.1; RFC 6891 says a smaller EDNS size means 512 too
MAX_NAME = 255
TTL = 600  # what Docker gives every container record
CLASS_IN = 1

_QR, _AA, _TC, _RD, _RA, _CD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0010
_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")  # type, class, ttl, rdlength
_QUESTION_PTR = b"\xc0\x0c"  # the question's name always starts right after the header


class Rcode(IntEnum):
    NOERROR = 0
    FORMERR = 1
    SERVFAIL = 2
    NXDOMAIN = 3
    NOTIMP = 4
    REFUSED = 5


class Type(IntEnum):
    A = 1
    NS = 2
    CNAME = 5
    SOA = 6
    PTR = 12
    MX = 15
    TXT = 16
    AAAA = 28
    SRV = 33
    OPT = 41
    ANY = 255


class DnsFormatError(ValueError):
    """The bytes are not a well-formed DNS message (or not one a server may answer)."""


def _presentation(wire: bytes) -> str:
    """Lower-case dotted form without the trailing dot; odd bytes escaped as in RFC 4343."""
    labels = []
    pos = 0
    while wire[pos]:
        n = wire[pos]
        out = []
        for b in wire[pos + 1 : pos + 1 + n].lower():
            if b in b".\\":
                out.append("\\" + chr(b))
            elif 0x21 <= b <= 0x7E:
                out.append(chr(b))
            else:
                out.append(f"\\{b:03d}")
        labels.append("".join(out))
        pos += 1 + n
    return ".".join(labels)


@dataclass(frozen=True)
class Question:
    wire_name: bytes  # uncompressed, in the case the client wrote it
    qtype: int
    qclass: int

    @property
    def name(self) -> str:
        """Lower case, no trailing dot ("" for the root); a '.' or odd byte inside a label is escaped."""
        return _presentation(self.wire_name)

    def matches(self, other: Question) -> bool:
        """Same question, ignoring the case of the name (RFC 4343)."""
        return (self.name, self.qtype, self.qclass) == (other.name, other.qtype, other.qclass)

    def to_wire(self) -> bytes:
        return self.wire_name + struct.pack("!HH", self.qtype, self.qclass)


class RR(NamedTuple):
    section: int  # 1 answer, 2 authority, 3 additional
    rtype: int
    start: int  # offset of the owner name
    end: int  # offset just past the rdata


@dataclass(frozen=True)
class Message:
    id: int
    flags: int
    questions: tuple[Question, ...]
    rrs: tuple[RR, ...]
    question_end: int  # offset just past the question section
    edns_size: int | None  # the requestor's UDP payload size from an OPT record; None without one

    @property
    def question(self) -> Question:
        """The first question; `parse_query` guarantees there is exactly one."""
        return self.questions[0]

    qr = property(lambda self: bool(self.flags & _QR))
    aa = property(lambda self: bool(self.flags & _AA))
    tc = property(lambda self: bool(self.flags & _TC))
    rd = property(lambda self: bool(self.flags & _RD))
    ra = property(lambda self: bool(self.flags & _RA))
    opcode = property(lambda self: (self.flags >> 11) & 0xF)
    rcode = property(lambda self: self.flags & 0xF)

    def count(self, section: int) -> int:
        return sum(1 for rr in self.rrs if rr.section == section)


def _read_name(data: bytes, off: int) -> tuple[bytes, int]:
    """(uncompressed wire name, offset after the name as written at `off`)."""
    out = bytearray()
    pos, end = off, -1
    floor = off  # every pointer must land strictly before this: no loops, no forward jumps
    while True:
        if pos >= len(data):
            raise DnsFormatError("name runs past the end of the message")
        n = data[pos]
        if n & 0xC0 == 0xC0:
            if pos + 1 >= len(data):
                raise DnsFormatError("compression pointer cut short")
            target = ((n & 0x3F) << 8) | data[pos + 1]
            if end < 0:
                end = pos + 2
            if target >= floor:
                raise DnsFormatError("compression pointer does not point backwards")
            floor = pos = target
            continue
        if n & 0xC0:
            raise DnsFormatError(f"unsupported label type 0x{n & 0xC0:02x}")
        if pos + 1 + n > len(data):
            raise DnsFormatError("label runs past the end of the message")
        out += data[pos : pos + 1 + n]
        if len(out) + (n != 0) > MAX_NAME:
            raise DnsFormatError("name longer than 255 bytes")
        if n == 0:
            return bytes(out), end if end >= 0 else pos + 1
        pos += 1 + n


def parse_message(data: bytes) -> Message:
    """Any DNS message (query or response), every section checked; trailing bytes are ignored."""
    if len(data) < HEADER_LEN:
        raise DnsFormatError("message shorter than a DNS header")
    ident, flags, qd, an, ns, ar = _HEADER.unpack_from(data)
    off = HEADER_LEN
    questions = []
    for _ in range(qd):
        wire, off = _read_name(data, off)
        if off + 4 > len(data):
            raise DnsFormatError("question runs past the end of the message")
        qtype, qclass = struct.unpack_from("!HH", data, off)
        off += 4
        questions.append(Question(wire, qtype, qclass))
    question_end = off
    rrs = []
    edns_size = None
    for section, count in ((1, an), (2, ns), (3, ar)):
        for _ in range(count):
            start = off
            wire, off = _read_name(data, off)
            if off + _RR_FIXED.size > len(data):
                raise DnsFormatError("record runs past the end of the message")
            rtype, rclass, _ttl, rdlen = _RR_FIXED.unpack_from(data, off)
            off += _RR_FIXED.size + rdlen
            if off > len(data):
                raise DnsFormatError("record data runs past the end of the message")
            if rtype == Type.OPT and section == 3:
                if edns_size is not None:
                    raise DnsFormatError("more than one OPT record")
                if wire != b"\x00":
                    raise DnsFormatError("OPT record not owned by the root")
                edns_size = max(rclass, MIN_UDP_SIZE)
            rrs.append(RR(section, rtype, start, off))
    return Message(ident, flags, tuple(questions), tuple(rrs), question_end, edns_size)


def parse_query(data: bytes) -> Message:
    """A request this server may answer: QR clear, opcode QUERY, one question (miekg's accept rules)."""
    msg = parse_message(data)
    if msg.qr:
        raise DnsFormatError("message is a response")
    if msg.opcode != 0:
        raise DnsFormatError(f"opcode {msg.opcode} is not QUERY")
    if len(msg.questions) != 1:
        raise DnsFormatError(f"{len(msg.questions)} questions, expected 1")
    if msg.count(1) > 1 or msg.count(2) > 1 or msg.count(3) > 2:
        raise DnsFormatError("too many records in a query")
    return msg


def read_id(data: bytes) -> int:
    if len(data) < 2:
        raise DnsFormatError("message shorter than its id")
    return int.from_bytes(data[:2], "big")


def with_id(data: bytes, ident: int) -> bytes:
    """The same message with another id (forwarding swaps ids both ways)."""
    read_id(data)
    return ident.to_bytes(2, "big") + data[2:]


def _header(ident: int, flags: int, qd: int, an: int = 0, ns: int = 0, ar: int = 0) -> bytes:
    return _HEADER.pack(ident, flags, qd, an, ns, ar)


def _reply_flags(query: Message, rcode: int, ra: bool) -> int:
    flags = _QR | (query.flags & 0x7800) | rcode  # opcode copied
    if query.opcode == 0:
        flags |= query.flags & (_RD | _CD)
    return flags | (_RA if ra else 0)


def _response(query: Message, rcode: int, answers: Sequence[bytes] = (), ra: bool = True) -> bytes:
    head = _header(query.id, _reply_flags(query, rcode, ra), 1, len(answers))
    return head + query.question.to_wire() + b"".join(answers)


def _rr(rtype: int, rdata: bytes) -> bytes:
    return _QUESTION_PTR + _RR_FIXED.pack(rtype, CLASS_IN, TTL, len(rdata)) + rdata


def encode_name(name: str) -> bytes:
    """Dotted ASCII name (trailing dot optional) → wire form. ValueError when it cannot be one."""
    labels = name.removesuffix(".").split(".") if name.strip(".") else []
    out = bytearray()
    for label in labels:
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise ValueError(f"invalid DNS label {label!r} in {name!r}")
        out += bytes([len(raw)]) + raw
    out += b"\x00"
    if len(out) > MAX_NAME:
        raise ValueError(f"DNS name too long: {name!r}")
    return bytes(out)


def a_response(query: Message, ips: Iterable[str]) -> bytes:
    """NOERROR with one A record per address, in the order given."""
    return _response(query, Rcode.NOERROR, [_rr(Type.A, ipaddress.IPv4Address(ip).packed) for ip in ips])


def ptr_response(query: Message, target: str) -> bytes:
    return _response(query, Rcode.NOERROR, [_rr(Type.PTR, encode_name(target))])


def nodata_response(query: Message) -> bytes:
    """NOERROR, no answers: the name exists but has no record of that type (AAAA on IPv4-only, MX)."""
    return _response(query, Rcode.NOERROR)


def nxdomain_response(query: Message) -> bytes:
    return _response(query, Rcode.NXDOMAIN)


def error_response(query: Message, rcode: int) -> bytes:
    """SERVFAIL, REFUSED, FORMERR for a parsed query: miekg's SetRcode, which leaves RA clear."""
    return _response(query, rcode, ra=False)


def reject(data: bytes) -> bytes | None:
    """The reply to bytes `parse_query` refused, or None when nothing must be sent.

    Runts and responses are dropped (answering them can be used to amplify or
    loop); another opcode gets NOTIMP, anything else FORMERR; header only.
    """
    if len(data) < HEADER_LEN:
        return None
    ident, flags = struct.unpack_from("!HH", data)
    if flags & _QR:
        return None
    opcode = (flags >> 11) & 0xF
    keep = flags & (_RD | _CD)
    if opcode:  # miekg: NOTIMP keeps the opcode, FORMERR says QUERY
        return _header(ident, _QR | keep | flags & 0x7800 | Rcode.NOTIMP, 0)
    return _header(ident, _QR | keep | Rcode.FORMERR, 0)


def truncate(message: bytes, limit: int) -> bytes:
    """Fit a parseable message in `limit` bytes (at least 512) for UDP.

    Whole records are dropped from the end and TC set, as miekg's Truncate does;
    an OPT record is kept. Owner names only point backwards (parse_message
    enforces it), so cutting at a record boundary leaves every kept name intact.
    """
    limit = max(limit, MIN_UDP_SIZE)
    if len(message) <= limit:
        return message
    msg = parse_message(message)
    opt = next((rr for rr in msg.rrs if rr.section == 3 and rr.rtype == Type.OPT), None)
    opt_bytes = message[opt.start : opt.end] if opt else b""
    if msg.question_end + len(opt_bytes) > limit:  # only a pathological message: questions or OPT huge
        if msg.question_end > limit:
            return _header(msg.id, msg.flags | _TC, 0)
        opt, opt_bytes = None, b""
    cut, counts, opt_kept = msg.question_end, [0, 0, 0], False
    for rr in msg.rrs:
        reserve = 0 if (opt_kept or rr is opt) else len(opt_bytes)
        if rr.end + reserve > limit:
            break
        cut = rr.end
        counts[rr.section - 1] += 1
        opt_kept = opt_kept or rr is opt
    body = message[HEADER_LEN:cut]
    if opt and not opt_kept:
        body += opt_bytes
        counts[2] += 1
    dropped = sum(counts) < len(msg.rrs)
    flags = msg.flags | (_TC if dropped else 0)
    return _header(msg.id, flags, len(msg.questions), *counts) + body


def reverse_ipv4(name: str) -> str | None:
    """"4.3.2.1.in-addr.arpa" → "1.2.3.4"; None for anything else (ip6.arpa included)."""
    parts = name.split(".")
    if len(parts) != 6 or parts[4:] != ["in-addr", "arpa"]:
        return None
    octets = parts[3::-1]
    if not all(p.isascii() and p.isdigit() and len(p) <= 3 and int(p) < 256 for p in octets):
        return None
    if any(len(p) > 1 and p[0] == "0" for p in octets):
        return None  # "01" is not how anyone writes an octet in a reverse name
    return ".".join(octets)


def make_query(name: str, qtype: int, ident: int = 0, *, rd: bool = True, edns_size: int | None = None) -> bytes:
    """A query message (the client side: tests and health checks)."""
    additional = b""
    if edns_size is not None:
        additional = b"\x00" + _RR_FIXED.pack(Type.OPT, edns_size, 0, 0)
    head = _header(ident, _RD if rd else 0, 1, 0, 0, 1 if additional else 0)
    return head + encode_name(name) + struct.pack("!HH", qtype, CLASS_IN) + additional
