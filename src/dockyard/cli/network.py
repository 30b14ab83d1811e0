"""`network create|ls|inspect|rm|prune|connect|disconnect`, as docker 28.2's CLI does them.

Requests, output and exit codes follow the docker CLI (see api-trace/21,25,26 and
cli/command/network in docker/cli): `rm` inspects each network before deleting it (to ask
before removing a swarm ingress network), prints each removed name, reports each failure
on its own line and ends with "exit status 1"; `ls` sorts by name in natural order.
"""

from __future__ import annotations

from dockyard.cli.command import BIN, Cli, Command, StatusError, daemon_error
from dockyard.cli.inspect import INSPECT_FORMAT_HELP
from dockyard.cli.ps import FORMAT_HELP

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dockyard.cli.flags import Parsed

__all__ = ["NETWORK_CREATE", "NETWORK_LS", "NETWORK_INSPECT", "NETWORK_RM", "NETWORK_PRUNE",
           "NETWORK_CONNECT", "NETWORK_DISCONNECT"]

_INGRESS_WARNING = (
    "WARNING! Before removing the routing-mesh network, make sure all the nodes in your swarm run the same "
    "docker engine version. Otherwise, removal may not be effective and functionality of newly create ingress "
    "networks will be impaired.\nAre you sure you want to continue?")
_PRUNE_WARNING = ("WARNING! This will remove all custom networks not used by at least one container.\n"
                  "Are you sure you want to continue?")


def _checked(cli: Cli, cmd: Command, build: Callable[[], Any]) -> Any:
    """Run `build`; a bad flag value reads as pflag's parse error (usage, status 125)."""
    from dockyard.cli.netconfig import FlagValueError

    try:
        return build()
    except FlagValueError as e:
        raise StatusError(f"{e}\n\nUsage:  {cmd.usage_line(cli.path)}\n\n"
                          f"Run '{BIN} {cli.path} --help' for more information", 125) from None


def _path(name: str) -> str:
    from dockyard.client.api import quote

    return f"/networks/{quote(name)}"


def _create(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.netconfig import create_body

    body = _checked(cli, NETWORK_CREATE, lambda: create_body(o.args[0], o, cli.client.api_version))
    resp = cli.client.post_json("/networks/create", json=body) or {}
    cli.print(resp.get("Id", ""))
    return 0


def _ls(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.format import format_rows
    from dockyard.cli.netconfig import parse_filters, sorted_filters
    from dockyard.cli.netformat import DEFAULT_TABLE, NetworkRow, list_format, sort_networks
    from dockyard.client.api import encode_filters

    filters = _checked(cli, NETWORK_LS, lambda: parse_filters(o.list("filter"), "-f, --filter"))
    networks = cli.client.get_json("/networks", {"filters": encode_filters(sorted_filters(filters))}) or []
    rows = [NetworkRow(n, trunc=not o.bool("no-trunc")) for n in sort_networks(networks)]
    fmt = list_format(o.str("format"), o.bool("quiet"))
    cli.out.write(format_rows(fmt, rows, NetworkRow.HEADERS, DEFAULT_TABLE))
    return 0


def _inspect(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.inspect import inspect_refs
    from dockyard.cli.netconfig import check_id

    params = {"verbose": "true"} if o.bool("verbose") else None

    def fetch(name: str) -> Any:
        return cli.client.get_json(_path(check_id("network", name)), params)

    return inspect_refs(cli, o.args, o.str("format"), fetch)


def _rm(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.images import confirm
    from dockyard.cli.netconfig import check_id
    from dockyard.client.transport import ConnectError
    from dockyard.errors import DockyardError, NotFound

    failed = False
    for name in o.args:
        try:
            ident = check_id("network", name)
        except ValueError as e:
            cli.eprint(str(e))
            failed = True
            continue
        try:
            ingress = bool((cli.client.get_json(_path(ident)) or {}).get("Ingress"))
        except (DockyardError, ConnectError):
            ingress = False  # the delete below reports what is wrong
        if ingress and not confirm(cli, _INGRESS_WARNING):
            continue
        try:
            cli.client.delete(_path(ident))
        except (DockyardError, ConnectError) as e:
            if o.bool("force") and isinstance(e, NotFound):
                continue
            cli.eprint(daemon_error(e))
            failed = True
            continue
        cli.print(name)
    if failed:
        raise StatusError("exit status 1", 1)
    return 0


def _prune(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.images import confirm
    from dockyard.cli.netconfig import parse_filters, sorted_filters
    from dockyard.client.api import encode_filters

    filters = _checked(cli, NETWORK_PRUNE, lambda: parse_filters(o.list("filter"), "--filter"))
    if not o.bool("force") and not confirm(cli, _PRUNE_WARNING):
        return 0  # docker's "cancelled": nothing printed, status 0
    report = cli.client.post_json("/networks/prune", {"filters": encode_filters(sorted_filters(filters))}) or {}
    deleted = report.get("NetworksDeleted") or []
    if deleted:
        cli.print("Deleted Networks:\n" + "".join(f"{n}\n" for n in deleted))
    return 0


def _connect(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.netconfig import connect_request

    network, body = _checked(cli, NETWORK_CONNECT, lambda: connect_request(o.args[0], o.args[1], o))
    cli.client.post_json(f"{_path(network)}/connect", json=body)
    return 0


def _disconnect(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.netconfig import disconnect_request

    network, body = disconnect_request(o.args[0], o.args[1], o.bool("force"))
    cli.client.post_json(f"{_path(network)}/disconnect", json=body)
    return 0


NETWORK_CREATE = Command(
    "[OPTIONS] NETWORK", "Create a network", _create,
    flags=(
        ("", "attachable", "bool", "Enable manual container attachment"),
        ("", "aux-address", "map", "Auxiliary IPv4 or IPv6 addresses used by Network driver (default map[])"),
        ("", "config-from", "string", "The network from which to copy the configuration"),
        ("", "config-only", "bool", "Create a configuration only network"),
        ("d", "driver", "string", 'Driver to manage the Network (default "bridge")'),
        ("", "gateway", "strings", "IPv4 or IPv6 Gateway for the master subnet"),
        ("", "ingress", "bool", "Create swarm routing-mesh network"),
        ("", "internal", "bool", "Restrict external access to the network"),
        ("", "ip-range", "strings", "Allocate container ip from a sub-range"),
        ("", "ipam-driver", "string", 'IP Address Management Driver (default "default")'),
        ("", "ipam-opt", "map", "Set IPAM driver specific options (default map[])"),
        ("", "ipv4", "bool", "Enable or disable IPv4 address assignment (default true)"),
        ("", "ipv6", "bool", "Enable or disable IPv6 address assignment"),
        ("", "label", "list", "Set metadata on a network"),
        ("o", "opt", "map", "Set driver specific options (default map[])"),
        ("", "scope", "string", "Control the network's scope"),
        ("", "subnet", "strings", "Subnet in CIDR format that represents a network segment"),
    ),
    args=("exact", 1),
)

NETWORK_LS = Command(
    "[OPTIONS]", "List networks", _ls,
    flags=(
        ("f", "filter", "filter", 'Provide filter values (e.g. "driver=bridge")'),
        ("", "format", "string", FORMAT_HELP),
        ("", "no-trunc", "bool", "Do not truncate the output"),
        ("q", "quiet", "bool", "Only display network IDs"),
    ),
    aliases=("network ls", "network list"), args=("none",),
)

NETWORK_INSPECT = Command(
    "[OPTIONS] NETWORK [NETWORK...]", "Display detailed information on one or more networks", _inspect,
    flags=(
        ("f", "format", "string", INSPECT_FORMAT_HELP),
        ("v", "verbose", "bool", "Verbose output for diagnostics"),
    ),
    args=("min", 1),
)

NETWORK_RM = Command(
    "NETWORK [NETWORK...]", "Remove one or more networks", _rm,
    flags=(("f", "force", "bool", "Do not error if the network does not exist"),),
    aliases=("network rm", "network remove"), args=("min", 1),
)

NETWORK_PRUNE = Command(
    "[OPTIONS]", "Remove all unused networks", _prune,
    flags=(
        ("", "filter", "filter", 'Provide filter values (e.g. "until=<timestamp>")'),
        ("f", "force", "bool", "Do not prompt for confirmation"),
    ),
    args=("none",),
)

NETWORK_CONNECT = Command(
    "[OPTIONS] NETWORK CONTAINER", "Connect a container to a network", _connect,
    flags=(
        ("", "alias", "strings", "Add network-scoped alias for the container"),
        ("", "driver-opt", "strings", "driver options for the network"),
        ("", "gw-priority", "int", "Highest gw-priority provides the default gateway. Accepts positive and "
                                   "negative values."),
        ("", "ip", "string", 'IPv4 address (e.g., "172.30.100.104")'),
        ("", "ip6", "string", 'IPv6 address (e.g., "2001:db8::33")'),
        ("", "link", "list", "Add link to another container"),
        ("", "link-local-ip", "strings", "Add a link-local address for the container"),
    ),
    args=("exact", 2),
)

NETWORK_DISCONNECT = Command(
    "[OPTIONS] NETWORK CONTAINER", "Disconnect a container from a network", _disconnect,
    flags=(("f", "force", "bool", "Force the container to disconnect from a network"),),
    args=("exact", 2),
)
