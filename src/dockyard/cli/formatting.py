"""Human-readable values exactly as docker prints them (go-units, tabwriter, stringid).

Pure functions; every one is unit-tested against strings seen in docker's output.
"""

from __future__ import annotations

import time

from dockyard.units import container_status, human_duration, human_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

__all__ = [
    "human_size",
    "human_duration",
    "time_ago",
    "go_time",
    "truncate_id",
    "ellipsis",
    "tabwrite",
    "display_ports",
    "container_status",
    "parse_duration",
]

def time_ago(epoch: float, now: float | None = None) -> str:
    """"3 minutes ago" for a Unix timestamp."""
    now = time.time() if now is None else now
    return human_duration(now - epoch) + " ago"


def go_time(epoch: float) -> str:
    """Go's time.Time.String() in local time: "2024-05-01 12:34:56 +0200 CEST"."""
    t = time.localtime(epoch)
    off = t.tm_gmtoff or 0
    sign = "+" if off >= 0 else "-"
    off = abs(off)
    zone = t.tm_zone or ""
    return time.strftime("%Y-%m-%d %H:%M:%S", t) + f" {sign}{off // 3600:02d}{off % 3600 // 60:02d} {zone}"


def truncate_id(ident: str) -> str:
    """stringid.TruncateID: drop "sha256:" and keep 12 characters."""
    if ":" in ident:
        ident = ident.split(":", 1)[1]
    return ident[:12]


def ellipsis(text: str, max_width: int) -> str:
    """formatter.Ellipsis: cut to max_width with a trailing "…"."""
    if len(text) <= max_width:
        return text
    if max_width <= 0:
        return ""
    if max_width == 1:
        return text[:1]
    return text[: max_width - 1] + "…"


def tabwrite(text: str, minwidth: int = 10, tabwidth: int = 1, padding: int = 3) -> str:
    """Go's text/tabwriter (padchar ' ', no flags) as docker configures it: (10, 1, 3).

    Cells end at a tab; a line's last cell is not part of a column.  Column widths are
    computed per block of consecutive lines that have that column, as Go does.
    """
    raw_lines = text.split("\n")
    trailing_newline = text.endswith("\n")
    if trailing_newline:
        raw_lines.pop()
    lines = [ln.split("\t") for ln in raw_lines]
    out: list[str] = []
    widths: list[int] = []

    def write_lines(start: int, end: int) -> None:
        for li in range(start, end):
            cells = lines[li]
            parts = []
            for j, cell in enumerate(cells):
                if j < len(widths):
                    parts.append(cell + " " * max(0, widths[j] - len(cell)))
                else:
                    parts.append(cell)
            out.append("".join(parts))

    def fmt(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                w = len(lines[this][column]) + padding
                if w > width:
                    width = w
                this += 1
            widths.append(width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write_lines(line0, line1)

    fmt(0, len(lines))
    result = "\n".join(out)
    return result + "\n" if trailing_newline else result


def _port_key(p: dict[str, Any]) -> tuple:
    return (int(p.get("PrivatePort") or 0), p.get("IP") or "", int(p.get("PublicPort") or 0), p.get("Type") or "")


def display_ports(ports: Iterable[dict[str, Any]] | None) -> str:
    """formatter.DisplayablePorts: "0.0.0.0:8080->8080/tcp, :::8080->8080/tcp, [::]:81->80/tcp".

    Ports published on the same number are grouped into ranges per (IP, protocol);
    ports published on another number are listed last, one by one, as docker does.
    """
    if not ports:
        return ""
    groups: dict[str, list[int]] = {}
    keys: list[str] = []
    result: list[str] = []
    mappings: list[str] = []
    for p in sorted(ports, key=_port_key):
        cur = int(p.get("PrivatePort") or 0)
        proto = p.get("Type") or "tcp"
        ip = p.get("IP") or ""
        key = proto
        if ip:
            pub = int(p.get("PublicPort") or 0)
            if pub != cur:
                host = f"[{ip}]" if ":" in ip else ip
                mappings.append(f"{host}:{pub}->{cur}/{proto}")
                continue
            key = f"{ip}/{proto}"
        group = groups.get(key)
        if group is None:
            groups[key] = [cur, cur]
            keys.append(key)
            continue
        if cur == group[1] + 1:
            group[1] = cur
            continue
        result.append(_form_group(key, group[0], group[1]))
        groups[key] = [cur, cur]
    for key in keys:
        first, last = groups[key]
        result.append(_form_group(key, first, last))
    return ", ".join(result + mappings)


def _form_group(key: str, first: int, last: int) -> str:
    ip, _, proto = key.rpartition("/")
    group = str(first) if first == last else f"{first}-{last}"
    if ip:
        group = f"{ip}:{group}->{group}"
    return f"{group}/{proto}"


def parse_duration(text: str) -> float:
    """Go's time.ParseDuration: "1h30m", "10s", "1.5s", "300ms"; returns seconds."""
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    s = text.strip()
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    sign = 1.0
    if s[0] in "+-":
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    total = 0.0
    i = 0
    n = len(s)
    if not n:
        raise ValueError(f'time: invalid duration "{text}"')
    while i < n:
        j = i
        while j < n and (s[j].isdigit() or s[j] == "."):
            j += 1
        if j == i:
            raise ValueError(f'time: invalid duration "{text}"')
        num = float(s[i:j])
        k = j
        while k < n and not (s[k].isdigit() or s[k] == "."):
            k += 1
        unit = s[j:k]
        if unit not in units:
            if not unit:
                raise ValueError(f'time: missing unit in duration "{text}"')
            raise ValueError(f'time: unknown unit "{unit}" in duration "{text}"')
        total += num * units[unit]
        i = k
    return sign * total
