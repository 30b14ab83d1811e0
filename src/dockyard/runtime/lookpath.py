"""Finding the program to exec, worded like Go's exec.LookPath (which Docker maps to 126/127),
and the user's home directory for $HOME — both read inside the container's root."""

from __future__ import annotations

import os
import stat

from dockyard.runtime.sync import go_strerror

__all__ = ["ExecLookupError", "look_path", "home_for"]


class ExecLookupError(Exception):
    """args[0] cannot be executed; worded like Go's exec.LookPath, which Docker maps to 126/127."""


def _find_executable(path: str) -> None:
    try:
        st = os.stat(path)
    except OSError as e:
        raise ExecLookupError(f"stat {path}: {go_strerror(e.errno or 2)}") from None
    if stat.S_ISDIR(st.st_mode) or not st.st_mode & 0o111:
        raise ExecLookupError("permission denied")


def look_path(name: str, path_env: str) -> str:
    """Go's exec.LookPath (1.19): absolute/relative names are checked, bare names searched in PATH."""
    if "/" in name:
        try:
            _find_executable(name)
        except ExecLookupError as e:
            raise ExecLookupError(f'exec: "{name}": {e}') from None
        return name
    for d in path_env.split(":") if path_env else []:
        candidate = os.path.join(d or ".", name)
        try:
            _find_executable(candidate)
            return candidate
        except ExecLookupError:
            continue
    raise ExecLookupError(f'exec: "{name}": executable file not found in $PATH')


def home_for(uid: int) -> str:
    try:
        with open("/etc/passwd") as f:
            for line in f:
                parts = line.rstrip("\n").split(":")
                if len(parts) >= 6 and parts[2] == str(uid):
                    return parts[5] or "/"
    except OSError:
        pass
    return "/"
