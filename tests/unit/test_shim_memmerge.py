"""Which mappings a shim marks mergeable (KSM)."""

from __future__ import annotations

from dockyard.shim.memmerge import make_mergeable, mergeable_ranges

MAPS = """\
55d0c0a00000-55d0c0a6e000 r--p 00000000 08:01 1234  /usr/bin/python3.11
55d0c0dd0000-55d0c0e10000 rw-p 003cf000 08:01 1234  /usr/bin/python3.11
55d0c1a00000-55d0c1c00000 rw-p 00000000 00:00 0     [heap]
7f0000000000-7f0000100000 rw-p 00000000 00:00 0
7f0000100000-7f0000200000 rw-s 00000000 00:05 99    /memfd:x (deleted)
7f0000200000-7f0000201000 ---p 00000000 00:00 0
7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0     [stack]
7ffc000f0000-7ffc000f2000 r-xp 00000000 00:00 0     [vdso]
"""


def test_private_writable_mappings_only() -> None:
    assert mergeable_ranges(MAPS) == [
        (0x55d0c0dd0000, 0x40000),    # the interpreter's data
        (0x55d0c1a00000, 0x200000),   # [heap]
        (0x7f0000000000, 0x100000),   # anonymous (obmalloc arenas)
    ]


def test_advising_this_process_works() -> None:
    # harmless with ksmd off; the kernel accepts the advice for every range we pick
    assert make_mergeable() > 0
