"""What to do, decided without touching the daemon: dependency order and what changed."""

from __future__ import annotations

from dockyard.compose.errors import ComposeError
from dockyard.compose.naming import CONFIG_HASH

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.compose.model import Project

__all__ = ["start_order", "with_dependencies", "container_action"]


def with_dependencies(project: Project, names: list[str]) -> list[str]:
    """The named services plus everything they depend on (all services when none are named)."""
    if not names:
        return list(project.services)
    for n in names:
        if n not in project.services:
            raise ComposeError(f"no such service: {n}")
    seen: list[str] = []
    stack = list(names)
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.append(n)
        stack.extend(project.services[n].get("depends_on", {}))
    return seen


def start_order(project: Project, names: list[str] | None = None) -> list[str]:
    """Services ordered so that each comes after what it depends on (file order otherwise).

    A cycle is refused in compose's words.  `down` and `stop` walk the reverse.
    """
    wanted = set(names if names is not None else project.services)
    order: list[str] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(n: str, path: list[str]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            cycle = path[path.index(n):] + [n]
            raise ComposeError("dependency cycle detected: " + " -> ".join(cycle))
        state[n] = 1
        for dep in project.services[n].get("depends_on", {}):
            if dep in project.services:
                visit(dep, [*path, n])
        state[n] = 2
        if n in wanted:
            order.append(n)

    for n in project.services:
        visit(n, [])
    return order


def container_action(container: dict[str, Any], wanted_hash: str, force: bool = False) -> str:
    """"recreate" when the config changed (or forced), "start" when stopped, else "running"."""
    labels = container.get("Labels") or {}
    if force or labels.get(CONFIG_HASH) != wanted_hash:
        return "recreate"
    return "running" if container.get("State") == "running" else "start"
