"""Device access rules (OCI ``linux.resources.devices``) for the v1 devices cgroup.

Each rule becomes one line ``"<type> <major>:<minor> <access>"`` written, in
order, to ``devices.allow`` or ``devices.deny``; a wildcard type ``a`` resets
the default policy, which is how Docker's "deny all, then allow a list" works.
(v2 has no such files: device control there is an eBPF program, not done here.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockyard.errors import InvalidArgument

from . import fs
from .resources import Resources, device_list, opt_bool, opt_int, opt_str

__all__ = ["rule_line", "set_v1"]


def rule_line(rule: Mapping[str, Any]) -> str:
    """One OCI device rule → the devices.allow/deny syntax (pure)."""
    kind = opt_str(rule, "type") or "a"
    if kind not in ("a", "b", "c"):
        raise InvalidArgument(f"invalid device rule type {kind!r}")
    access = opt_str(rule, "access") or "rwm"
    if not access or set(access) - set("rwm"):
        raise InvalidArgument(f"invalid device rule access {access!r}")
    if kind == "a":
        return f"a *:* {access}"

    def num(key: str) -> str:
        value = opt_int(rule, key)
        return "*" if value is None or value < 0 else str(value)

    return f"{kind} {num('major')}:{num('minor')} {access}"


def set_v1(path: str, res: Resources | None) -> None:
    for rule in device_list(res, "devices"):
        name = "devices.allow" if opt_bool(rule, "allow") else "devices.deny"
        fs.write(path, name, rule_line(rule))
