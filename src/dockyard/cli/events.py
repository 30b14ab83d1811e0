"""`events` / `system events`: stream `GET /events` and print each message as docker does.

`--since`/`--until` are turned into Unix timestamps here, on the client, with
docker's GetTimestamp rules (a Go duration counts back from now; RFC 3339 and
its shorter forms without a zone are local time; a Unix timestamp passes
through), so a bad value fails before anything is sent.
"""

from __future__ import annotations

import re
import time

from dockyard.cli.command import Cli, Command, StatusError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.flags import Parsed

__all__ = ["EVENTS", "EventContext", "get_timestamp", "pretty_event"]

_DATE_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:T(\d{2})(?::(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?)?"
    r"(Z|z|[+-]\d{2}:\d{2})?$")
_UNIX = re.compile(r"^-?\d+(?:\.\d+)?$")


def get_timestamp(value: str, now: float | None = None) -> str:
    """docker's api/types/time.GetTimestamp → "seconds[.nanoseconds]"."""
    from dockyard.cli.formatting import parse_duration

    now = time.time() if now is None else now
    if value != "0":
        try:
            return str(int(now - parse_duration(value)))
        except ValueError:
            pass
    m = _DATE_TIME.match(value)
    if m is None:
        if "-" in value:
            raise ValueError(f'parsing time "{value}": cannot parse as RFC 3339')
        if not _UNIX.match(value):
            raise ValueError(f'failed to parse value as time or duration: "{value}"')
        return value  # already a Unix timestamp
    year, month, day, hour, minute, sec, frac, zone = m.groups()
    fields = (int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(sec or 0))
    import calendar

    try:
        if zone:
            secs = calendar.timegm((*fields, 0, 0, 0))
            if zone not in ("Z", "z"):
                sign = 1 if zone[0] == "+" else -1
                secs -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
        else:
            secs = int(time.mktime((*fields, 0, 0, -1)))
    except (OverflowError, ValueError):
        raise ValueError(f'parsing time "{value}": out of range') from None
    nanos = int((frac or ".0")[1:].ljust(9, "0"))
    return f"{secs}.{nanos:09d}"


def _local_rfc3339_nano(ns: int) -> str:
    """Go's RFC3339NanoFixed in local time: 2024-05-01T12:00:00.000000000+02:00 (Z for UTC)."""
    secs, frac = divmod(ns, 1_000_000_000)
    t = time.localtime(secs)
    off = t.tm_gmtoff or 0
    zone = "Z" if off == 0 else f"{'+' if off > 0 else '-'}{abs(off) // 3600:02d}:{abs(off) % 3600 // 60:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{frac:09d}{zone}"


def pretty_event(msg: dict[str, Any]) -> str:
    """docker's prettyPrintEvent: time, type, action, actor id, then (k=v, ...) sorted."""
    parts = []
    if msg.get("timeNano"):
        parts.append(_local_rfc3339_nano(int(msg["timeNano"])) + " ")
    elif msg.get("time"):
        parts.append(_local_rfc3339_nano(int(msg["time"]) * 1_000_000_000) + " ")
    actor = msg.get("Actor") or {}
    parts.append(f"{msg.get('Type', '')} {msg.get('Action', '')} {actor.get('ID', '')}")
    attrs = actor.get("Attributes") or {}
    if attrs:
        parts.append(" (" + ", ".join(f"{k}={attrs[k]}" for k in sorted(attrs)) + ")")
    return "".join(parts)


class EventContext:
    """A message as Go templates see events.Message (field names) and `json` prints it (wire names)."""

    go_type = "events.Message"

    def __init__(self, msg: dict[str, Any]) -> None:
        self.msg = msg
        self.Status = msg.get("status", "")
        self.ID = msg.get("id", "")
        self.From = msg.get("from", "")
        self.Type = msg.get("Type", "")
        self.Action = msg.get("Action", "")
        actor = msg.get("Actor") or {}
        self.Actor = {"ID": actor.get("ID", ""), "Attributes": dict(actor.get("Attributes") or {})}
        self.Scope = msg.get("scope", "")
        self.Time = int(msg.get("time") or 0)
        self.TimeNano = int(msg.get("timeNano") or 0)

    def to_json(self) -> dict[str, Any]:
        return self.msg


def _events(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.ps import parse_filters
    from dockyard.client.api import encode_filters

    params: dict[str, Any] = {"filters": encode_filters(parse_filters(o.list("filter")))}
    now = time.time()
    for name in ("since", "until"):
        if o.str(name):
            try:
                params[name] = get_timestamp(o.str(name), now)
            except ValueError as e:
                raise StatusError(str(e), 1) from None
    fmt = o.str("format")
    tmpl = None
    if fmt:
        from dockyard.cli.gotemplate import Template, TemplateError

        try:
            tmpl = Template("{{json .}}" if fmt == "json" else fmt.replace("\\t", "\t").replace("\\n", "\n"))
        except TemplateError as e:
            raise StatusError(f"Error parsing format: {e}", 64) from None
    for msg in cli.client.stream_json("GET", "/events", params):
        if tmpl is None:
            cli.print(pretty_event(msg))
        else:
            from dockyard.cli.gotemplate import TemplateError

            try:
                cli.print(tmpl.execute(EventContext(msg)))
            except TemplateError as e:
                raise StatusError(str(e), 1) from None
        cli.out.flush()
    return 0


EVENTS = Command(
    "[OPTIONS]", "Get real time events from the server", _events,
    flags=(
        ("f", "filter", "filter", "Filter output based on conditions provided"),
        ("", "format", "string", "Format output using a custom template:\n"
                                 "'json':             Print in JSON format\n"
                                 "'TEMPLATE':         Print output using the given Go template.\n"
                                 "Refer to https://docs.docker.com/go/formatting/ for more information about "
                                 "formatting output with templates"),
        ("", "since", "string", "Show all events created since timestamp"),
        ("", "until", "string", "Stream events until this timestamp"),
    ),
    aliases=("system events", "events"), args=("none",),
)
