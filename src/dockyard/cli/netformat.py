"""`network ls` output as docker prints it: its row context, natural name order, Go time text.

Pure; unit-tested against docker 28.2's output.
"""

from __future__ import annotations

import functools
import re

from dockyard.cli.format import Row
from dockyard.cli.formatting import truncate_id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["NetworkRow", "DEFAULT_TABLE", "list_format", "natural_less", "sort_networks", "go_time_text"]

DEFAULT_TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
_QUIET = "{{.ID}}"
_RAW = "network_id: {{.ID}}\\nname: {{.Name}}\\ndriver: {{.Driver}}\\nscope: {{.Scope}}\\n"
_RAW_QUIET = "network_id: {{.ID}}"


def list_format(fmt: str, quiet: bool) -> str:
    """docker's network NewFormat: what -q and the "table"/"raw" keywords turn into."""
    if fmt in ("", "table"):
        return _QUIET if quiet else DEFAULT_TABLE
    if fmt == "raw":
        return _RAW_QUIET if quiet else _RAW
    return fmt  # a template of the user's own wins over -q


def _go_bool(v: object) -> str:
    return "true" if v else "false"


class NetworkRow(Row):
    """The placeholders of docker's networkContext."""

    HEADERS = {
        "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4",
        "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
    }
    go_type = "*network.networkContext"

    def __init__(self, n: dict[str, Any], trunc: bool = True) -> None:
        self.n = n
        self.trunc = trunc

    def ID(self) -> str:  # noqa: N802 - Go's names
        ident = self.n.get("Id") or ""
        return truncate_id(ident) if self.trunc else ident

    def Name(self) -> str:  # noqa: N802
        return self.n.get("Name") or ""

    def Driver(self) -> str:  # noqa: N802
        return self.n.get("Driver") or ""

    def Scope(self) -> str:  # noqa: N802
        return self.n.get("Scope") or ""

    def IPv4(self) -> str:  # noqa: N802
        return _go_bool(self.n.get("EnableIPv4"))

    def IPv6(self) -> str:  # noqa: N802
        return _go_bool(self.n.get("EnableIPv6"))

    def Internal(self) -> str:  # noqa: N802
        return _go_bool(self.n.get("Internal"))

    def Labels(self) -> str:  # noqa: N802
        labels = self.n.get("Labels") or {}
        return ",".join(f"{k}={v}" for k, v in labels.items())

    def Label(self, name: str) -> str:  # noqa: N802
        return (self.n.get("Labels") or {}).get(name, "")

    def CreatedAt(self) -> str:  # noqa: N802
        return go_time_text(self.n.get("Created") or "")


def natural_less(a: str, b: str) -> bool:
    """fvbommel/sortorder.NaturalLess: digit runs compare as numbers and sort before other bytes."""
    x, y = a.encode(), b.encode()
    i = j = 0
    while i < len(x) and j < len(y):
        dx, dy = x[i:i + 1].isdigit(), y[j:j + 1].isdigit()
        if dx != dy:
            return dx
        if not dx:
            if x[i] != y[j]:
                return x[i] < y[j]
            i += 1
            j += 1
            continue
        zi, zj = i, j
        while i < len(x) and x[i] == 0x30:
            i += 1
        while j < len(y) and y[j] == 0x30:
            j += 1
        si, sj = i, j
        while i < len(x) and x[i:i + 1].isdigit():
            i += 1
        while j < len(y) and y[j:j + 1].isdigit():
            j += 1
        nx, ny = x[si:i], y[sj:j]
        if len(nx) != len(ny):
            return len(nx) < len(ny)
        if nx != ny:
            return nx < ny
        if si - zi != sj - zj:
            return si - zi < sj - zj  # fewer leading zeros first
    return len(x) < len(y)


def sort_networks(networks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def cmp(p: dict[str, Any], q: dict[str, Any]) -> int:
        a, b = p.get("Name") or "", q.get("Name") or ""
        return -1 if natural_less(a, b) else 1 if natural_less(b, a) else 0

    return sorted(networks, key=functools.cmp_to_key(cmp))


_RFC3339 = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([Zz])|([+-])(\d\d):(\d\d))$")


def go_time_text(text: str) -> str:
    """Go's time.Time.String() of an RFC 3339 time as encoding/json decodes it.

    "Z" reads as UTC; an offset is the local zone when the local zone has that offset at
    that instant, otherwise a nameless fixed zone printed as "+0100 +0100".
    """
    import calendar
    import time

    m = _RFC3339.match(text)
    if not m:
        return "0001-01-01 00:00:00 +0000 UTC"  # the zero time a missing or odd value leaves
    year, mon, day, hh, mm, ss = (int(g) for g in m.groups()[:6])
    frac = (m.group(7) or "")[:9].rstrip("0")
    clock = f"{year:04d}-{mon:02d}-{day:02d} {hh:02d}:{mm:02d}:{ss:02d}" + (f".{frac}" if frac else "")
    if m.group(8):
        return f"{clock} +0000 UTC"
    sign = -1 if m.group(9) == "-" else 1
    offset = sign * (int(m.group(10)) * 3600 + int(m.group(11)) * 60)
    hhmm = f"{'-' if offset < 0 else '+'}{abs(offset) // 3600:02d}{abs(offset) % 3600 // 60:02d}"
    zone = hhmm
    try:
        local = time.localtime(calendar.timegm((year, mon, day, hh, mm, ss, 0, 0, 0)) - offset)
        if local.tm_gmtoff == offset and local.tm_zone:
            zone = local.tm_zone
    except (OverflowError, ValueError, OSError):
        pass
    return f"{clock} {hhmm} {zone}"
