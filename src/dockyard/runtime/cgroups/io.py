"""Block I/O: v1 ``blkio`` and v2 ``io``.

OCI ``blockIO`` is in v1 terms: ``weight`` 10..1000, per-device weights and
bps/iops throttles as ``{"major", "minor", "rate"}``. Weight knobs exist only
with a proportional scheduler (CFQ/BFQ); when the kernel has none the weight
is skipped, as Docker discards it ("kernel does not support Block I/O weight").
Throttles are always available and are written one device per write(2).
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from typing import Any

from dockyard.errors import InvalidArgument

from . import fs
from .resources import Resources, device_list, opt_int, section

__all__ = ["set_v1", "set_v2", "stats_v1", "stats_v2", "blkio_weight_to_io_weight"]

_THROTTLES_V1 = {
    "throttleReadBpsDevice": "blkio.throttle.read_bps_device",
    "throttleWriteBpsDevice": "blkio.throttle.write_bps_device",
    "throttleReadIOPSDevice": "blkio.throttle.read_iops_device",
    "throttleWriteIOPSDevice": "blkio.throttle.write_iops_device",
}
_THROTTLES_V2 = {
    "throttleReadBpsDevice": "rbps",
    "throttleWriteBpsDevice": "wbps",
    "throttleReadIOPSDevice": "riops",
    "throttleWriteIOPSDevice": "wiops",
}


def blkio_weight_to_io_weight(weight: int) -> int:
    """v1 blkio weight [10..1000] → v2 io.weight [1..10000] (runc's linear map)."""
    return 0 if weight == 0 else 1 + (weight - 10) * 9999 // 990


def _dev(entry: Mapping[str, Any]) -> str:
    major, minor = opt_int(entry, "major"), opt_int(entry, "minor")
    if major is None or minor is None:
        raise InvalidArgument("blockIO device entries need 'major' and 'minor'")
    return f"{major}:{minor}"


def _write_if_supported(path: str, name: str, value: str) -> None:
    try:
        fs.write(path, name, value)
    except fs.CgroupFileError as exc:
        if exc.errno != errno.ENOENT:
            raise


def set_v1(path: str, res: Resources | None) -> None:
    b = section(res, "blockIO")
    if not b:
        return
    weight, leaf = opt_int(b, "weight"), opt_int(b, "leafWeight")
    devices = device_list(b, "weightDevice")
    if weight or devices:
        # CFQ names the files blkio.weight*, BFQ (5.0+) blkio.bfq.weight*.
        prefix = "blkio." if fs.exists(path, "blkio.weight") else "blkio.bfq."
        if weight:
            _write_if_supported(path, prefix + "weight", str(weight))
        for d in devices:
            if w := opt_int(d, "weight"):
                _write_if_supported(path, prefix + "weight_device", f"{_dev(d)} {w}")
            if lw := opt_int(d, "leafWeight"):
                _write_if_supported(path, "blkio.leaf_weight_device", f"{_dev(d)} {lw}")
    if leaf:
        _write_if_supported(path, "blkio.leaf_weight", str(leaf))
    for key, name in _THROTTLES_V1.items():
        for d in device_list(b, key):
            fs.write(path, name, f"{_dev(d)} {opt_int(d, 'rate') or 0}")


def set_v2(path: str, res: Resources | None) -> None:
    b = section(res, "blockIO")
    if not b:
        return
    weight = opt_int(b, "weight")
    devices = device_list(b, "weightDevice")
    if weight or devices:
        bfq = fs.exists(path, "io.bfq.weight")  # BFQ takes the v1 scale unconverted
        if weight:
            if bfq:
                fs.write(path, "io.bfq.weight", str(weight))
            else:
                _write_if_supported(path, "io.weight", str(blkio_weight_to_io_weight(weight)))
        for d in devices:
            if w := opt_int(d, "weight"):
                if bfq:
                    fs.write(path, "io.bfq.weight", f"{_dev(d)} {w}")
                else:
                    _write_if_supported(path, "io.weight", f"{_dev(d)} {blkio_weight_to_io_weight(w)}")
    for key, knob in _THROTTLES_V2.items():
        for d in device_list(b, key):
            rate = opt_int(d, "rate") or 0
            fs.write(path, "io.max", f"{_dev(d)} {knob}={rate if rate > 0 else 'max'}")


def _parse_v1(text: str | None) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) != 3 or ":" not in parts[0]:
            continue  # the trailing "Total N"
        major, _, minor = parts[0].partition(":")
        out.append({"major": int(major), "minor": int(minor), "op": parts[1], "value": int(parts[2])})
    return out


def stats_v1(path: str) -> dict[str, object]:
    """Docker ``blkio_stats`` from CFQ/BFQ counters, else the throttle layer's (always present)."""
    out: dict[str, object] = {}
    for key, names in (
        (
            "io_service_bytes_recursive",
            ("blkio.io_service_bytes_recursive", "blkio.throttle.io_service_bytes_recursive"),
        ),
        ("io_serviced_recursive", ("blkio.io_serviced_recursive", "blkio.throttle.io_serviced_recursive")),
    ):
        entries: list[dict[str, object]] = []
        for name in names:
            entries = _parse_v1(fs.read_optional(path, name))
            if entries:
                break
        out[key] = entries
    return out


def stats_v2(path: str) -> dict[str, object]:
    """Docker ``blkio_stats`` for v2 from io.stat (ops "read"/"write", lower case as Docker does)."""
    text = fs.read_optional(path, "io.stat")
    if text is None:
        return {}
    service_bytes: list[dict[str, object]] = []
    serviced: list[dict[str, object]] = []
    for line in text.splitlines():
        dev, *kvs = line.split()
        major, _, minor = dev.partition(":")
        vals = dict(kv.split("=", 1) for kv in kvs if "=" in kv)
        base = {"major": int(major), "minor": int(minor)}
        for op, b_key, n_key in (("read", "rbytes", "rios"), ("write", "wbytes", "wios")):
            service_bytes.append({**base, "op": op, "value": int(vals.get(b_key, 0))})
            serviced.append({**base, "op": op, "value": int(vals.get(n_key, 0))})
    return {"io_service_bytes_recursive": service_bytes, "io_serviced_recursive": serviced}
