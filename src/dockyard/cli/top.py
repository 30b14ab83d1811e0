"""`top` / `container top`: `GET /containers/{id}/top?ps_args=...`, printed through tabwriter(20, 1, 3)."""

from __future__ import annotations

from dockyard.cli.command import Cli, Command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.flags import Parsed

__all__ = ["TOP", "render_top"]


def render_top(titles: list[str], processes: list[list[str]]) -> str:
    from dockyard.cli.formatting import tabwrite

    lines = ["\t".join(titles)] + ["\t".join(p) for p in processes]
    return tabwrite("\n".join(lines) + "\n", minwidth=20, tabwidth=1, padding=3)


def _top(cli: Cli, o: Parsed) -> int:
    from dockyard.client.api import quote

    name, ps_args = o.args[0], " ".join(o.args[1:])
    result = cli.client.get_json(f"/containers/{quote(name)}/top", {"ps_args": ps_args or None}) or {}
    cli.out.write(render_top(result.get("Titles") or [], result.get("Processes") or []))
    return 0


TOP = Command("CONTAINER [ps OPTIONS]", "Display the running processes of a container", _top,
              aliases=("container top", "top"), args=("min", 1), interspersed=False)
