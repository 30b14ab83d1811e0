"""`docker top`: the host's `ps`, cut down to the processes in the container's cgroup.

As moby's daemon/top_unix.go: run `ps <ps_args> -q <pids>` (procps' quick pid
selection; fall back to plain `ps <ps_args>` where `-q` is unknown), find the
PID column in the header, keep the rows whose PID is in the cgroup (and the
thread rows, PID "-", that follow a kept row), and split each row into the
header's columns, the last column taking the rest of the line (the command).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from dockyard import errors

__all__ = ["TopResult", "parse_ps_output", "validate_ps_args", "ps_command", "top"]

_PS_ARG = re.compile(r"\s+([^\s]*)=\s*(PID[^\s]*)")
_FIELD_SEPS = "\t\n\f\r "


@dataclass(frozen=True)
class TopResult:
    titles: list[str]
    processes: list[list[str]]


def validate_ps_args(ps_args: str) -> None:
    """Docker refuses renaming the PID column (`-o foo=PID`): it could not find the pids then."""
    for key, value in _PS_ARG.findall(ps_args):
        if key != "pid":
            raise errors.InvalidArgument(f'specifying "{key}={value}" is not allowed')


def _fields(line: str) -> list[str]:
    return [f for f in re.split(r"[\t\n\f\r ]+", line) if f]


def parse_ps_output(output: str, pids: set[int]) -> TopResult:
    lines = output.split("\n")
    titles = _fields(lines[0]) if lines else []
    try:
        pid_index = titles.index("PID")
    except ValueError:
        raise errors.SystemError_("Couldn't find PID field in ps output") from None
    processes: list[list[str]] = []
    kept_previous = False

    def append(fields: list[str]) -> None:
        n = len(titles)
        processes.append(fields[: n - 1] + [" ".join(fields[n - 1:])])

    for line in lines[1:]:
        if not line:
            continue
        fields = _fields(line)
        if pid_index >= len(fields):
            continue
        if fields[pid_index] == "-":  # a thread row (ps -T / -L): belongs to the process above
            if kept_previous:
                append(fields)
            continue
        try:
            pid = int(fields[pid_index])
        except ValueError:
            raise errors.SystemError_(f"Unexpected pid '{fields[pid_index]}': invalid syntax") from None
        kept_previous = pid in pids
        if kept_previous:
            append(fields)
    return TopResult(titles, processes)


def ps_command(ps_args: str, pids: list[int]) -> tuple[list[str], list[str]]:
    """(the command with `-q pid,...`, the fallback without), Docker's space splitting of ps_args."""
    args = ps_args.split(" ")
    quick = ["ps", *args, "-q" + ",".join(str(p) for p in pids)]
    return quick, ["ps", *args]


async def _run(cmd: list[str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


async def top(pids: list[int], ps_args: str = "") -> TopResult:
    """Run ps for these pids (the container's cgroup members)."""
    ps_args = ps_args or "-ef"
    validate_ps_args(ps_args)
    quick, plain = ps_command(ps_args, pids)
    code, out, _err = await _run(quick) if pids else (1, "", "")
    if code != 0:
        code, out, err = await _run(plain)
        if code != 0:
            first = err.split("\n", 1)[0] or f"exit status {code}"
            raise errors.SystemError_(f"ps: {first}")
    return parse_ps_output(out, set(pids))
