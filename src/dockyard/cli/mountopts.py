"""`--mount` and `-v` as docker 28's CLI reads them (opts/mount.go, compose/loader/volume.go).

`--mount` is one CSV record of key=value fields, checked as the flag is parsed (a bad one is
pflag's `invalid argument ... for "--mount" flag`, status 125). `-v` values with a source go
to HostConfig.Binds (a "./rel" source made absolute), the rest to Config.Volumes.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["parse_mount_flag", "split_volumes"]

_PROPAGATIONS = ("rprivate", "private", "rshared", "shared", "rslave", "slave")


def _go_bool(key: str, val: str) -> bool:
    from dockyard.gostrconv import parse_bool

    try:
        return parse_bool(val)
    except ValueError:
        raise ValueError(f"invalid value for {key}: {val}") from None


def _absolute(source: str) -> str:
    return os.path.abspath(source) if not source.startswith("/") and source.startswith(".") else source


def _key_value(target: dict[str, str], value: str) -> None:
    k, _, v = value.partition("=")
    if k:
        target[k] = v


def parse_mount_flag(value: str) -> dict[str, Any]:
    """One `--mount` value → the Mount object docker sends (its omitempty fields left out)."""
    from dockyard.cli.flags import parse_bytes
    from dockyard.cli.netconfig import _csv_record

    if not value:
        raise ValueError("EOF")
    fields = _csv_record(value)
    m: dict[str, Any] = {"Type": "volume"}

    def sub(name: str) -> dict[str, Any]:
        return m.setdefault(name, {})

    def volume_options() -> dict[str, Any]:
        vo = sub("VolumeOptions")
        vo.setdefault("DriverConfig", {})
        return vo

    for f in fields:
        key, eq, val = f.partition("=")
        key = key.lower()
        if not eq:
            if key in ("readonly", "ro"):
                m["ReadOnly"] = True
            elif key == "volume-nocopy":
                volume_options()["NoCopy"] = True
            elif key == "bind-nonrecursive":
                sub("BindOptions")["NonRecursive"] = True
            else:
                raise ValueError(f"invalid field '{f}' must be a key=value pair")
            continue
        if key == "type":
            m["Type"] = val.lower()
        elif key in ("source", "src"):
            m["Source"] = _absolute(val)
        elif key in ("target", "dst", "destination"):
            m["Target"] = val
        elif key in ("readonly", "ro"):
            m["ReadOnly"] = _go_bool(key, val)
        elif key == "consistency":
            m["Consistency"] = val.lower()
        elif key == "bind-propagation":
            sub("BindOptions")["Propagation"] = val.lower()
        elif key == "bind-nonrecursive":
            sub("BindOptions")["NonRecursive"] = _go_bool(key, val)
        elif key == "bind-recursive":
            choice = {"enabled": None, "disabled": "NonRecursive", "writable": "ReadOnlyNonRecursive",
                      "readonly": "ReadOnlyForceRecursive"}
            if val not in choice:
                raise ValueError(f'invalid value for {key}: {val} (must be "enabled", "disabled", "writable", '
                                 'or "readonly")')
            if choice[val]:
                sub("BindOptions")[choice[val]] = True
        elif key == "volume-subpath":
            volume_options()["Subpath"] = val
        elif key == "volume-nocopy":
            volume_options()["NoCopy"] = _go_bool(key, val)
        elif key == "volume-label":
            _key_value(volume_options().setdefault("Labels", {}), val)
        elif key == "volume-driver":
            volume_options()["DriverConfig"]["Name"] = val
        elif key == "volume-opt":
            _key_value(volume_options()["DriverConfig"].setdefault("Options", {}), val)
        elif key == "image-subpath":
            sub("ImageOptions")["Subpath"] = val
        elif key == "tmpfs-size":
            try:
                sub("TmpfsOptions")["SizeBytes"] = parse_bytes(val)
            except ValueError:
                raise ValueError(f"invalid value for {key}: {val}") from None
        elif key == "tmpfs-mode":
            try:
                mode = int(val, 8)
                if not 0 <= mode < 1 << 32:
                    raise ValueError
            except ValueError:
                raise ValueError(f"invalid value for {key}: {val}") from None
            sub("TmpfsOptions")["Mode"] = mode
        else:
            raise ValueError(f"unexpected key '{key}' in '{f}'")
    kind = m["Type"]
    if not kind:
        raise ValueError("type is required")
    if not m.get("Target"):
        raise ValueError("target is required")
    for opts, prefix, owner in (("VolumeOptions", "volume", "volume"), ("ImageOptions", "image", "image"),
                                ("BindOptions", "bind", "bind"), ("TmpfsOptions", "tmpfs", "tmpfs")):
        if opts in m and kind != owner:
            raise ValueError(f"cannot mix '{prefix}-*' options with mount type '{kind}'")
    bind = m.get("BindOptions") or {}
    if bind.get("ReadOnlyNonRecursive") and not m.get("ReadOnly"):
        raise ValueError("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction")
    if bind.get("ReadOnlyForceRecursive"):
        if not m.get("ReadOnly"):
            raise ValueError("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction")
        if bind.get("Propagation") != "rprivate":
            raise ValueError("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be "
                             "specified in conjunction")
    vo = m.get("VolumeOptions")
    if vo is not None and not vo.get("Labels"):
        vo.pop("Labels", None)
    return m


def _parse_volume(spec: str) -> tuple[str, str]:
    """compose's ParseVolume, reduced to what `run -v` needs: (source, type)."""
    if not spec:
        raise ValueError("invalid empty volume spec")
    if len(spec) <= 2:
        return "", "volume"
    source = target = ""
    buffer = ""
    for ch in spec + "\0":
        if ch == ":" and len(buffer) == 1 and buffer.isalpha():   # a Windows drive letter ("c:")
            buffer += ch
        elif ch in (":", "\0"):
            if not buffer:
                raise ValueError(f"invalid spec: {spec}: empty section between colons")
            if not source and ch == "\0":
                target = buffer
            elif not source:
                source = buffer
            elif not target:
                target = buffer
            elif ch == ":":
                raise ValueError(f"invalid spec: {spec}: too many colons")
            buffer = ""
        else:
            buffer += ch
    del target
    if not source:
        return "", "volume"
    is_path = source[0] in "./~" or source.startswith("\\\\") or (
        len(source) > 1 and source[1] == ":" and source[0].isalpha())
    return source, "bind" if is_path else "volume"


def split_volumes(values: list[str]) -> tuple[list[str], dict[str, dict]]:
    """`-v` values → (HostConfig.Binds, Config.Volumes); each distinct value counts once."""
    binds: list[str] = []
    volumes: dict[str, dict] = {}
    for v in dict.fromkeys(values):
        source, kind = _parse_volume(v)
        if not source:
            volumes[v] = {}
            continue
        if kind == "bind":
            host, colon, target = v.partition(":")
            if colon:
                v = f"{_absolute(host)}:{target}"
        binds.append(v)
    return binds, volumes
