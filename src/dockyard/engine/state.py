"""A container's status as data: the enum, what each status allows, and the record of it.

Transitions are written in one place (ContainerService); the guards here only
answer "may this happen now?". Status is observed (from the shim), never assumed.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass

__all__ = ["Status", "ContainerState", "ZERO_TIME"]

ZERO_TIME = "0001-01-01T00:00:00Z"


class Status(enum.StrEnum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    REMOVING = "removing"
    EXITED = "exited"
    DEAD = "dead"

    def can_start(self) -> bool:
        return self in (Status.CREATED, Status.EXITED)

    def can_stop(self) -> bool:
        return self in (Status.RUNNING, Status.PAUSED, Status.RESTARTING)

    def can_attach(self) -> bool:
        """An attach to a container not running yet (or any more) waits for its next start, as in moby."""
        return self in (Status.CREATED, Status.RUNNING, Status.EXITED)

    def can_remove_without_force(self) -> bool:
        return self in (Status.CREATED, Status.EXITED, Status.DEAD)

    @property
    def is_running(self) -> bool:
        return self in (Status.RUNNING, Status.PAUSED, Status.RESTARTING)


@dataclass
class ContainerState:
    status: Status = Status.CREATED
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    oom_killed: bool = False
    started_at: str = ZERO_TIME
    finished_at: str = ZERO_TIME

    def to_json(self) -> dict:
        d = asdict(self)
        d["status"] = self.status.value
        return d

    @classmethod
    def from_json(cls, d: dict) -> ContainerState:
        d = dict(d)
        d["status"] = Status(d.get("status", "created"))
        return cls(**d)
