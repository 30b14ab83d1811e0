"""Capability sets: names → masks, and applying a spec's five sets to the calling process.

Order matters (runc's finalizeNamespace): drop the bounding set while we still
hold CAP_SETPCAP, keep permitted caps across setuid (PR_SET_KEEPCAPS), switch
user, then capset effective/permitted/inheritable and raise ambient caps.
"""

from __future__ import annotations

from collections.abc import Iterable

from dockyard.oci.runtime_spec import ALL_CAPABILITIES, Capabilities
from dockyard.runtime import syscalls as sc

__all__ = ["cap_number", "caps_mask", "drop_bounding", "apply_caps", "keep_caps"]

_NUMBERS = {name: i for i, name in enumerate(ALL_CAPABILITIES)}


def cap_number(name: str) -> int | None:
    """CAP_X or X (any case) → number; None if unknown (ignored, as runc warns and ignores)."""
    key = name.upper()
    if not key.startswith("CAP_"):
        key = "CAP_" + key
    return _NUMBERS.get(key)


def caps_mask(names: Iterable[str], last_cap: int | None = None) -> int:
    last = sc.cap_last_cap() if last_cap is None else last_cap
    mask = 0
    for n in names:
        num = cap_number(n)
        if num is not None and num <= last:
            mask |= 1 << num
    return mask


def drop_bounding(caps: Capabilities, last_cap: int) -> None:
    keep = caps_mask(caps.bounding, last_cap)
    for num in range(last_cap + 1):
        if not keep & (1 << num):
            sc.prctl(sc.PR_CAPBSET_DROP, num)


def keep_caps(on: bool) -> None:
    sc.prctl(sc.PR_SET_KEEPCAPS, 1 if on else 0)


def apply_caps(caps: Capabilities, last_cap: int) -> None:
    eff = caps_mask(caps.effective, last_cap)
    prm = caps_mask(caps.permitted, last_cap)
    inh = caps_mask(caps.inheritable, last_cap)
    sc.capset(eff, prm, inh)
    sc.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_CLEAR_ALL)
    for n in caps.ambient:
        num = cap_number(n)
        if num is not None and num <= last_cap:
            sc.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_RAISE, num)
