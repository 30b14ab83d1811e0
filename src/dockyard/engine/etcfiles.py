"""The /etc/hostname, /etc/hosts and /etc/resolv.conf a container gets, written in its directory."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

__all__ = ["write_etc_files"]

_HOSTS_BASE = """127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
"""
_FALLBACK_DNS = ("8.8.8.8", "8.8.4.4")


def resolv_conf(host_network: bool, host_file: Path = Path("/etc/resolv.conf"), *, embedded_dns: bool = False,
                dns: list[str] | None = None, dns_search: list[str] | None = None,
                dns_options: list[str] | None = None) -> str:
    """The container's resolv.conf, as Docker derives it from the host's and the --dns flags.

    On user networks the nameserver is the embedded DNS (127.0.0.11), which forwards
    what it does not know to the host's resolvers from the daemon's namespace.
    """
    try:
        text = host_file.read_text()
    except OSError:
        text = ""
    if host_network and not (dns or dns_search or dns_options):
        return text
    lines = text.splitlines()
    servers = [ln.split()[1] for ln in lines if re.match(r"^\s*nameserver\s+\S", ln)]
    search = next((ln.split()[1:] for ln in reversed(lines) if re.match(r"^\s*(search|domain)\s", ln)), [])
    options = next((ln.split()[1:] for ln in reversed(lines) if re.match(r"^\s*options\s", ln)), [])
    if dns:
        servers = list(dns)
    if dns_search:
        search = [] if dns_search == ["."] else list(dns_search)
    if dns_options:
        options = list(dict.fromkeys([*options, *dns_options]))
    if embedded_dns:
        servers = ["127.0.0.11"]
        options = [o for o in options if not o.startswith("ndots:")] + (
            [] if any(o.startswith("ndots:") for o in dns_options or []) else ["ndots:0"])
    elif not host_network:
        # A loopback resolver on the host is unreachable from the container's own netns.
        servers = [s for s in servers if not re.match(r"^(127\.|::1$)", s)] or list(_FALLBACK_DNS)
    out = [f"nameserver {s}" for s in servers]
    if search:
        out.append("search " + " ".join(search))
    if options:
        out.append("options " + " ".join(options))
    return "\n".join(out) + "\n"


def write_etc_files(container_dir: Path, hostname: str, domainname: str, *, host_network: bool,
                    ip: str = "", extra_hosts: list[str] | None = None, link_hosts: Sequence[str] = (),
                    embedded_dns: bool = False,
                    dns: list[str] | None = None, dns_search: list[str] | None = None,
                    dns_options: list[str] | None = None) -> dict[str, str]:
    """Write the three files; return container path → host path for bind mounts."""
    container_dir.mkdir(parents=True, exist_ok=True)
    fqdn = f"{hostname}.{domainname}" if domainname else hostname
    hosts = _HOSTS_BASE
    for entry in extra_hosts or []:
        name, _, addr = entry.partition(":")
        hosts += f"{addr}\t{name}\n"
    if ip:
        hosts += f"{ip}\t{fqdn} {hostname}\n" if fqdn != hostname else f"{ip}\t{hostname}\n"
    hosts += "".join(f"{line}\n" for line in link_hosts)   # legacy links come last, as in Docker
    files = {
        "/etc/hostname": (container_dir / "hostname", f"{hostname}\n"),
        "/etc/hosts": (container_dir / "hosts", hosts),
        "/etc/resolv.conf": (container_dir / "resolv.conf", resolv_conf(
            host_network, embedded_dns=embedded_dns, dns=dns, dns_search=dns_search, dns_options=dns_options)),
    }
    for path, content in files.values():
        path.write_text(content)
    return {target: str(path) for target, (path, _) in files.items()}
