"""How a runtime's create failure reaches the user: Docker's wording and exit codes.

The docker CLI picks its exit code from the message text: 127 for "executable
file not found" / "no such file or directory", 126 for "permission denied",
else 125. The daemon records the same code in State.ExitCode.
"""

from __future__ import annotations

from dockyard import errors

__all__ = ["exit_code_for", "start_message", "start_error"]


def exit_code_for(runtime_message: str) -> int:
    text = runtime_message.lower()
    if "executable file not found" in text or "no such file or directory" in text:
        return 127
    if "permission denied" in text:
        return 126
    return 128


def start_message(runtime_message: str) -> str:
    return ("failed to create task for container: failed to create shim task: OCI runtime create failed: "
            f"{runtime_message}: unknown")


def start_error(runtime_message: str) -> errors.DockyardError:
    message = start_message(runtime_message)
    if exit_code_for(runtime_message) in (126, 127):
        return errors.InvalidArgument(message)
    return errors.SystemError_(message)
