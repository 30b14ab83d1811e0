"""Engine-API JSON of exec: the create and start bodies in, the inspect document out."""

from __future__ import annotations

from typing import Any

from dockyard import errors
from dockyard.engine.exec import ExecConfig, ExecSession

__all__ = ["exec_config", "exec_start_options", "exec_inspect"]


def _strings(body: dict[str, Any], key: str) -> tuple[str, ...]:
    value = body.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.InvalidArgument(f"invalid JSON: {key} must be a list of strings")
    return tuple(value)


def _console_size(value: Any) -> tuple[int, int] | None:
    """[height, width] → a pair, None when absent or zero."""
    if value is None:
        return None
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)):
        raise errors.InvalidArgument("invalid JSON: ConsoleSize must be [height, width]")
    return (value[0], value[1]) if value[0] and value[1] else None


def _flag(body: dict[str, Any], key: str) -> bool:
    return bool(body.get(key) or False)


def exec_config(body: Any) -> ExecConfig:
    """POST /containers/{id}/exec body → ExecConfig (400 for a malformed one, or no Cmd)."""
    if not isinstance(body, dict):
        raise errors.InvalidArgument("invalid JSON: the body must be an object")
    cmd = _strings(body, "Cmd")
    if not cmd:
        raise errors.InvalidArgument("No exec command specified")
    for key in ("User", "WorkingDir", "DetachKeys"):
        if not isinstance(body.get(key) or "", str):
            raise errors.InvalidArgument(f"invalid JSON: {key} must be a string")
    return ExecConfig(
        cmd=cmd, env=_strings(body, "Env"), user=body.get("User") or "", workdir=body.get("WorkingDir") or "",
        tty=_flag(body, "Tty"), privileged=_flag(body, "Privileged"),
        attach_stdin=_flag(body, "AttachStdin"), attach_stdout=_flag(body, "AttachStdout"),
        attach_stderr=_flag(body, "AttachStderr"), detach_keys=body.get("DetachKeys") or "",
        console_size=_console_size(body.get("ConsoleSize")))


def exec_start_options(body: Any) -> tuple[bool, tuple[int, int] | None]:
    """POST /exec/{id}/start body → (detach, console size)."""
    if not isinstance(body, dict):
        raise errors.InvalidArgument("invalid JSON: the body must be an object")
    return _flag(body, "Detach"), _console_size(body.get("ConsoleSize"))


def exec_inspect(s: ExecSession) -> dict[str, Any]:
    cfg = s.config
    process: dict[str, Any] = {"tty": cfg.tty, "entrypoint": cfg.cmd[0], "arguments": list(cfg.cmd[1:]),
                               "privileged": cfg.privileged}
    if cfg.user:
        process["user"] = cfg.user
    return {
        "ID": s.id, "Running": s.running, "ExitCode": s.exit_code, "ProcessConfig": process,
        "OpenStdin": cfg.attach_stdin, "OpenStderr": cfg.attach_stderr, "OpenStdout": cfg.attach_stdout,
        "CanRemove": False, "ContainerID": s.container_id, "DetachKeys": cfg.detach_keys, "Pid": s.pid,
    }
