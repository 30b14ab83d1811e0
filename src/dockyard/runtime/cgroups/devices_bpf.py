"""Device access rules on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program.

v2 has no devices.allow/deny files; the kernel asks an eBPF program attached
to the cgroup instead (``BPF_CGROUP_DEVICE``). This module turns the OCI rule
list into such a program and attaches it.

The rules mean exactly what they mean to the v1 devices cgroup (Docker's
lists were written for it), so :func:`effective_rules` replays the v1 kernel's
algorithm (security/device_cgroup.c): an ``a`` rule sets the default and
clears the exceptions; a rule against the default adds an exception (access
bits merged per exact type:major:minor); a rule agreeing with the default
removes those bits from the exactly matching exception. Then:

* default deny: allowed iff one exception matches and grants *all* requested bits;
* default allow: denied iff one exception matches and shares *any* requested bit.

The program, one block per exception, then the default::

    r2 = ctx->access_type & 0xffff   (device type: 1 block, 2 char)
    r3 = ctx->access_type >> 16      (access: 1 mknod, 2 read, 4 write)
    r4 = ctx->major; r5 = ctx->minor
    if r2 != TYPE goto next; if r4 != MAJOR goto next; if r5 != MINOR goto next
    r1 = r3 & BITS-test; if no match goto next; return !DEFAULT
    next: ...
    return DEFAULT

Updating attaches the new program before detaching the old ones, so there is
never a moment with no rules (while both are attached, both must allow).
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from dockyard.errors import SystemError_

from .devices import rule_line

__all__ = ["effective_rules", "compile_rules", "apply"]

# uapi/linux/bpf.h
_BPF_PROG_LOAD = 5
_BPF_PROG_ATTACH = 8
_BPF_PROG_DETACH = 9
_BPF_PROG_GET_FD_BY_ID = 13
_BPF_PROG_QUERY = 16
_BPF_PROG_TYPE_CGROUP_DEVICE = 15
_BPF_CGROUP_DEVICE = 6
_BPF_F_ALLOW_MULTI = 2

_DEV_BLOCK, _DEV_CHAR = 1, 2
_ACC = {"m": 1, "r": 2, "w": 4}

# Instruction opcodes (class | op | source).
_LDX_W = 0x61  # dst = *(u32 *)(src + off)
_AND32_K = 0x54
_RSH32_K = 0x74
_MOV32_X = 0xBC
_MOV64_K = 0xB7
_JEQ_K = 0x15
_JNE_K = 0x55
_EXIT = 0x95

# The bpf(2) number; TODO(runtime/syscalls.py owner): move this syscall there.
_BPF_NR = {"x86_64": 321, "aarch64": 280, "riscv64": 280, "ppc64le": 361, "s390x": 351}


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    regs = (src << 4) | dst if sys.byteorder == "little" else (dst << 4) | src
    return struct.pack("=BBhi", code, regs, off, imm)


Exception = tuple[int, int | None, int | None]  # (type, major, minor); None = wildcard


def effective_rules(rules: Sequence[Mapping[str, Any]]) -> tuple[bool, dict[Exception, int]]:
    """Replay ``rules`` as the v1 kernel would → (default allow?, {exception: access bits})."""
    default_allow = True  # a cgroup with no rules inherits the root's "allow everything"
    exceptions: dict[Exception, int] = {}
    for rule in rules:
        kind, nums, access = rule_line(rule).split()  # validates, normalises wildcards
        allow = bool(rule.get("allow"))
        if kind == "a":  # the kernel ignores numbers and access on "a"
            default_allow, exceptions = allow, {}
            continue
        major, minor = (None if n == "*" else int(n) for n in nums.split(":"))
        key = (_DEV_BLOCK if kind == "b" else _DEV_CHAR, major, minor)
        bits = sum(_ACC[c] for c in set(access))
        if allow != default_allow:
            exceptions[key] = exceptions.get(key, 0) | bits
        elif key in exceptions:
            left = exceptions.pop(key) & ~bits
            if left:
                exceptions[key] = left
    return default_allow, exceptions


def compile_rules(rules: Sequence[Mapping[str, Any]]) -> bytes:
    """OCI ``linux.resources.devices`` → BPF instructions (pure)."""
    default_allow, exceptions = effective_rules(rules)
    prog = [
        _insn(_LDX_W, dst=2, src=1, off=0),
        _insn(_AND32_K, dst=2, imm=0xFFFF),
        _insn(_LDX_W, dst=3, src=1, off=0),
        _insn(_RSH32_K, dst=3, imm=16),
        _insn(_LDX_W, dst=4, src=1, off=4),
        _insn(_LDX_W, dst=5, src=1, off=8),
    ]
    for (kind, major, minor), bits in exceptions.items():
        # Jumps are (opcode, register, immediate) and all go to the block's end.
        block: list[bytes | tuple[int, int, int]] = [(_JNE_K, 2, kind)]
        if major is not None:
            block.append((_JNE_K, 4, major))
        if minor is not None:
            block.append((_JNE_K, 5, minor))
        if default_allow:  # a deny exception hits if it shares any requested bit
            block += [_insn(_MOV32_X, dst=1, src=3), _insn(_AND32_K, dst=1, imm=bits), (_JEQ_K, 1, 0)]
        elif bits != 7:  # an allow exception must grant every requested bit
            block += [_insn(_MOV32_X, dst=1, src=3), _insn(_AND32_K, dst=1, imm=~bits & 7), (_JNE_K, 1, 0)]
        block += [_insn(_MOV64_K, dst=0, imm=int(not default_allow)), _insn(_EXIT)]
        n = len(block)
        for i, item in enumerate(block):
            if isinstance(item, tuple):
                code, reg, imm = item
                prog.append(_insn(code, dst=reg, off=n - i - 1, imm=imm))
            else:
                prog.append(item)
    prog += [_insn(_MOV64_K, dst=0, imm=int(default_allow)), _insn(_EXIT)]
    return b"".join(prog)


# -- the bpf(2) side ---------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _bpf(cmd: int, attr: ctypes.Array[ctypes.c_char], what: str) -> int:
    nr = _BPF_NR.get(platform.machine())
    if nr is None:
        raise SystemError_(
            f"cgroups: bpf(2) unknown on {platform.machine()}: cannot apply device rules on cgroup v2"
        )
    ret = _libc.syscall(ctypes.c_long(nr), ctypes.c_int(cmd), attr, ctypes.c_uint(len(attr)))
    if ret < 0:
        err = ctypes.get_errno()
        raise SystemError_(f"cgroups: {what}: {os.strerror(err)}")
    return int(ret)


def _load(insns: bytes) -> int:
    code = ctypes.create_string_buffer(insns, len(insns))
    license_ = ctypes.create_string_buffer(b"Apache")
    attr = ctypes.create_string_buffer(128)
    struct.pack_into(
        "=IIQQ", attr, 0, _BPF_PROG_TYPE_CGROUP_DEVICE, len(insns) // 8,
        ctypes.addressof(code), ctypes.addressof(license_),
    )  # fmt: skip
    struct.pack_into("=I", attr, 68, _BPF_CGROUP_DEVICE)  # expected_attach_type
    return _bpf(_BPF_PROG_LOAD, attr, "loading the device-rules BPF program")


def _attached(cg_fd: int) -> list[int]:
    ids = (ctypes.c_uint32 * 64)()
    attr = ctypes.create_string_buffer(40)
    struct.pack_into("=IIIIQI", attr, 0, cg_fd, _BPF_CGROUP_DEVICE, 0, 0, ctypes.addressof(ids), 64)
    _bpf(_BPF_PROG_QUERY, attr, "listing device-rules BPF programs")
    (count,) = struct.unpack_from("=I", attr, 24)
    return list(ids[: min(count, 64)])


def _detach(cg_fd: int, prog_id: int) -> None:
    attr = ctypes.create_string_buffer(16)
    struct.pack_into("=I", attr, 0, prog_id)
    prog_fd = _bpf(_BPF_PROG_GET_FD_BY_ID, attr, "opening an old device-rules BPF program")
    try:
        attr = ctypes.create_string_buffer(20)
        struct.pack_into("=III", attr, 0, cg_fd, prog_fd, _BPF_CGROUP_DEVICE)
        _bpf(_BPF_PROG_DETACH, attr, "detaching an old device-rules BPF program")
    finally:
        os.close(prog_fd)


def apply(path: str, rules: Sequence[Mapping[str, Any]]) -> None:
    """Attach a program enforcing ``rules`` to the v2 cgroup ``path``, replacing earlier ones."""
    insns = compile_rules(rules)
    try:
        cg_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise SystemError_(f"cgroups: failed to open {path}: {os.strerror(exc.errno or 0)}") from None
    try:
        old = _attached(cg_fd)
        prog_fd = _load(insns)
        try:
            attr = ctypes.create_string_buffer(20)
            struct.pack_into("=IIII", attr, 0, cg_fd, prog_fd, _BPF_CGROUP_DEVICE, _BPF_F_ALLOW_MULTI)
            _bpf(_BPF_PROG_ATTACH, attr, f"attaching the device-rules BPF program to {path}")
        finally:
            os.close(prog_fd)  # the attachment keeps the program alive
        for prog_id in old:
            _detach(cg_fd, prog_id)
    finally:
        os.close(cg_fd)
