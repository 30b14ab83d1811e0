"""Pruning, as docker 28.2 words it: `system prune`, `builder prune`, and the per-kind prunes
(`container`, `image`, `network`) they are made of.

Each `prune_*` asks the daemon and returns (bytes reclaimed, what to print); the commands
print that, then "Total reclaimed space: 1.234MB" (go-units HumanSize, 4 digits).
`system prune` runs containers, networks, [volumes], images, build cache in docker's order.
"""

from __future__ import annotations

from dockyard.cli.command import Cli, Command, StatusError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.flags import Parsed

__all__ = ["prune_containers", "prune_networks", "prune_images", "prune_build_cache", "total_line",
           "SYSTEM_PRUNE", "BUILDER_PRUNE", "system_prune_warning"]


def total_line(reclaimed: int) -> str:
    from dockyard.units import human_size

    return f"Total reclaimed space: {human_size(reclaimed, 4)}"


def _filters(filters: dict[str, list[str]]) -> str | None:
    from dockyard.client.api import encode_filters

    return encode_filters(filters)


def prune_containers(cli: Cli, filters: dict[str, list[str]]) -> tuple[int, str]:
    report = cli.client.post_json("/containers/prune", {"filters": _filters(filters)}) or {}
    deleted = report.get("ContainersDeleted") or []
    if not deleted:
        return 0, ""
    return int(report.get("SpaceReclaimed") or 0), "Deleted Containers:\n" + "".join(f"{d}\n" for d in deleted)


def prune_networks(cli: Cli, filters: dict[str, list[str]]) -> tuple[int, str]:
    report = cli.client.post_json("/networks/prune", {"filters": _filters(filters)}) or {}
    deleted = report.get("NetworksDeleted") or []
    return 0, ("Deleted Networks:\n" + "".join(f"{d}\n" for d in deleted)) if deleted else ""


def prune_images(cli: Cli, all_: bool, filters: dict[str, list[str]]) -> tuple[int, str]:
    asked = {k: list(v) for k, v in filters.items()}
    asked.setdefault("dangling", []).append("false" if all_ else "true")
    report = cli.client.post_json("/images/prune", {"filters": _filters(asked)}) or {}
    deleted = report.get("ImagesDeleted") or []
    if not deleted:
        return 0, ""
    lines = [f"untagged: {d['Untagged']}" if d.get("Untagged") else f"deleted: {d.get('Deleted', '')}"
             for d in deleted]
    return int(report.get("SpaceReclaimed") or 0), "Deleted Images:\n" + "".join(f"{line}\n" for line in lines)


def prune_build_cache(cli: Cli, all_: bool, filters: dict[str, list[str]], keep_storage: int = 0) -> tuple[int, str]:
    params = {"all": all_, "filters": _filters(filters), "keep-storage": keep_storage or None}
    report = cli.client.post_json("/build/prune", params) or {}
    deleted = report.get("CachesDeleted") or []
    output = ("Deleted build cache objects:\n" + "".join(f"{d}\n" for d in deleted)) if deleted else ""
    return int(report.get("SpaceReclaimed") or 0), output


def _emit(cli: Cli, output: str) -> None:
    if output:
        cli.print(output)   # the output ends in "\n": a blank line follows, as docker's Fprintln


def system_prune_warning(all_: bool, volumes: bool, filters: dict[str, list[str]]) -> str:
    warnings = ["all stopped containers", "all networks not used by at least one container"]
    if volumes:
        warnings.append("all anonymous volumes not used by at least one container")
    warnings.append("all images without at least one container associated to them" if all_ else "all dangling images")
    warnings.append("all build cache" if all_ else "unused build cache")
    text = "WARNING! This will remove:" + "".join(f"\n  - {w}" for w in warnings) + "\n"
    shown = sorted(f"{name}={v}" for name in ("label", "label!", "until") for v in filters.get(name, []))
    if shown:
        text += "\n  Items to be pruned will be filtered with:" + "".join(f"\n  - {f}" for f in shown) + "\n"
    return text + "\nAre you sure you want to continue?"


def _system_prune(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.images import confirm
    from dockyard.cli.ps import parse_filters

    filters = parse_filters(o.list("filter"))
    all_, volumes = o.bool("all"), o.bool("volumes")
    if volumes and "until" in filters:
        raise StatusError('ERROR: The "until" filter is not supported with "--volumes"', 1)
    if not o.bool("force") and not confirm(cli, system_prune_warning(all_, volumes, filters)):
        return 0
    total = 0
    steps = [lambda: prune_containers(cli, filters), lambda: prune_networks(cli, filters)]
    if volumes:
        steps.append(lambda: _prune_volumes(cli, filters))
    steps += [lambda: prune_images(cli, all_, filters), lambda: prune_build_cache(cli, all_, filters)]
    for step in steps:
        reclaimed, output = step()
        total += reclaimed
        _emit(cli, output)
    cli.print(total_line(total))
    return 0


def _prune_volumes(cli: Cli, filters: dict[str, list[str]]) -> tuple[int, str]:
    """docker's volume.RunPrune (anonymous volumes only); nothing to remove while a daemon has
    no volumes API (404)."""
    from dockyard.errors import NotFound

    try:
        report = cli.client.post_json("/volumes/prune", {"filters": _filters(filters)}) or {}
    except NotFound:
        return 0, ""
    deleted = report.get("VolumesDeleted") or []
    if not deleted:
        return 0, ""
    return int(report.get("SpaceReclaimed") or 0), "Deleted Volumes:\n" + "".join(f"{d}\n" for d in deleted)


def _builder_prune(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.images import confirm
    from dockyard.cli.ps import parse_filters

    filters = parse_filters(o.list("filter"))
    all_ = o.bool("all")
    warning = ("WARNING! This will remove all build cache. Are you sure you want to continue?" if all_ else
               "WARNING! This will remove all dangling build cache. Are you sure you want to continue?")
    if not o.bool("force") and not confirm(cli, warning):
        return 0
    reclaimed, output = prune_build_cache(cli, all_, filters, int(o.get("keep-storage") or 0))
    _emit(cli, output)
    cli.print(total_line(reclaimed))
    return 0


SYSTEM_PRUNE = Command(
    "[OPTIONS]", "Remove unused data", _system_prune,
    flags=(
        ("a", "all", "bool", "Remove all unused images not just dangling ones"),
        ("", "filter", "filter", 'Provide filter values (e.g. "label=<key>=<value>")'),
        ("f", "force", "bool", "Do not prompt for confirmation"),
        ("", "volumes", "bool", "Prune anonymous volumes"),
    ),
    args=("none",),
)

BUILDER_PRUNE = Command(
    "", "Remove build cache", _builder_prune,
    flags=(
        ("a", "all", "bool", "Remove all unused build cache, not just dangling ones"),
        ("", "filter", "filter", 'Provide filter values (e.g. "until=24h")'),
        ("f", "force", "bool", "Do not prompt for confirmation"),
        ("", "keep-storage", "bytes", "Amount of disk space to keep for cache"),
    ),
    args=("none",),
)
