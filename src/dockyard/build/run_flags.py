"""RUN's flags (`--mount`, `--network`, `--security`, `--device`): declared and checked as buildkit does.

At parse time buildkit only checks what it can without variables: the network and
security modes, the device specs, a `--mount` value's CSV syntax and that its `from=`
has no variable. The full mount is interpreted by a builder after expansion (the classic
builder refuses every RUN flag: "the --mount option requires BuildKit").
"""

from __future__ import annotations

from dockyard.build.bflags import BFlags, FlagError
from dockyard.build.golang import go_lower, go_quote, suggest
from dockyard.gostrconv import parse_bool

__all__ = ["declare_run_flags", "check_run_flags", "csv_fields", "NETWORKS", "SECURITY_MODES"]

NETWORKS = ("default", "none", "host")
SECURITY_MODES = ("insecure", "sandbox")


def declare_run_flags(flags: BFlags) -> None:
    # buildkit's hooks register in file order: device, mount, network, security
    flags.add_strings("device")
    flags.add_strings("mount")
    flags.add_string("network", "default")
    flags.add_string("security", "sandbox")


def check_run_flags(flags: BFlags) -> None:
    for device in flags.strings("device"):
        _check_device(device)
    for mount in flags.strings("mount"):
        _check_mount(mount)
    network = flags.string("network")
    if network not in NETWORKS:
        raise FlagError(f"invalid network mode {go_quote(network)}")
    security = flags.string("security")
    if security not in SECURITY_MODES:
        raise FlagError(f"security {go_quote(security)} is not valid")


def _check_mount(value: str) -> None:
    try:
        fields = csv_fields(value)
    except ValueError as err:
        raise FlagError(f"failed to parse csv mounts: {err}") from None
    for item in fields:
        key, eq, val = item.partition("=")
        if eq and go_lower(key) == "from":
            idx = val.find("$")
            if idx != -1 and idx != len(val) - 1:
                raise FlagError("'from' doesn't support variable expansion, define alias stage instead")


def _check_device(value: str) -> None:
    try:
        fields = csv_fields(value)
    except ValueError as err:
        raise FlagError(f"failed to parse csv devices: {err}") from None
    name = ""
    for item in fields:
        key, eq, val = item.partition("=")
        key = go_lower(key)
        if not eq:
            if key == "required":
                continue
            if not name:
                name = item
                continue
            raise FlagError(f"invalid field '{item}' must be a key=value pair")
        if key == "name":
            if name:
                raise FlagError(f"device name already set to {name}")
            name = val
        elif key == "required":
            try:
                parse_bool(val)
            except ValueError:
                raise FlagError(f"invalid value for {key}: {val}") from None
        elif not name:
            name = item
        else:
            raise FlagError(suggest(f"unexpected key '{key}' in '{item}'", key, ["name", "required"], True))


_ERR_QUOTE = 'extraneous or missing " in quoted-field'


def csv_fields(line: str) -> list[str]:
    """One CSV record (go-csvvalue, as buildkit splits --mount values); ValueError as Go's csv words it."""
    if line.endswith("\n"):
        line = line[:-2] if line.endswith("\r\n") else line[:-1]
    if not line:
        raise ValueError("EOF")
    data = line.encode("utf-8", "surrogatepass")   # Go reports byte columns
    out: list[bytes] = []
    pos = 0
    while True:
        if not data or data[:1] != b'"':
            i = data.find(b",")
            item = data if i < 0 else data[:i]
            j = item.find(b'"')
            if j >= 0:
                raise ValueError(f'parse error on line 1, column {pos + j + 1}: bare " in non-quoted-field')
            out.append(item)
            if i < 0:
                break
            data = data[i + 1:]
            pos += i + 1
            continue
        data = data[1:]
        pos += 1
        half_open = False
        while True:
            i = data.find(b'"')
            if i < 0:
                raise ValueError(f"parse error on line 1, column {pos + 1}: {_ERR_QUOTE}")
            if half_open:
                out[-1] += data[:i]
            else:
                out.append(data[:i])
            half_open = False
            data = data[i + 1:]
            pos += i + 1
            if data[:1] == b'"':
                out[-1] += b'"'
                data = data[1:]
                pos += 1
                half_open = True
            elif data[:1] == b",":
                data = data[1:]
                pos += 1
                break
            elif not data:
                return [b.decode("utf-8", "replace") for b in out]
            else:
                raise ValueError(f"parse error on line 1, column {pos}: {_ERR_QUOTE}")
    return [b.decode("utf-8", "replace") for b in out]
