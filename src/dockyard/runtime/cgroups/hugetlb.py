"""Huge page limits (OCI ``hugepageLimits``: ``[{"pageSize": "2MB", "limit": bytes}]``).

v1 file ``hugetlb.<size>.limit_in_bytes``, v2 ``hugetlb.<size>.max``. The size
string is the kernel's own (``2MB``, ``1GB``), as OCI and Docker pass it.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument

from . import fs
from .resources import Resources, device_list, opt_int, opt_str

__all__ = ["set_v1", "set_v2"]


def _limits(res: Resources | None) -> list[tuple[str, int]]:
    out = []
    for entry in device_list(res, "hugepageLimits"):
        size, limit = opt_str(entry, "pageSize"), opt_int(entry, "limit")
        if not size or limit is None or "/" in size:
            raise InvalidArgument("hugepageLimits entries need 'pageSize' (e.g. \"2MB\") and 'limit'")
        out.append((size, limit))
    return out


def set_v1(path: str, res: Resources | None) -> None:
    for size, limit in _limits(res):
        fs.write(path, f"hugetlb.{size}.limit_in_bytes", str(limit))


def set_v2(path: str, res: Resources | None) -> None:
    for size, limit in _limits(res):
        fs.write(path, f"hugetlb.{size}.max", "max" if limit < 0 else str(limit))
