"""The /etc/hostname, /etc/hosts and /etc/resolv.conf a container gets, written in its directory."""

from __future__ import annotations

import re
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


def resolv_conf(host_network: bool, host_file: Path = Path("/etc/resolv.conf")) -> str:
    try:
        text = host_file.read_text()
    except OSError:
        text = ""
    if host_network:
        return text
    # A loopback resolver on the host is unreachable from the container's own netns.
    lines = [ln for ln in text.splitlines()
             if not re.match(r"^\s*nameserver\s+(127\.|::1\b)", ln)]
    if not any(ln.strip().startswith("nameserver") for ln in lines):
        lines += [f"nameserver {ip}" for ip in _FALLBACK_DNS]
    return "\n".join(lines) + "\n"


def write_etc_files(container_dir: Path, hostname: str, domainname: str, *, host_network: bool,
                    ip: str = "", extra_hosts: list[str] | None = None) -> dict[str, str]:
    """Write the three files; return container path → host path for bind mounts."""
    container_dir.mkdir(parents=True, exist_ok=True)
    fqdn = f"{hostname}.{domainname}" if domainname else hostname
    hosts = _HOSTS_BASE
    for entry in extra_hosts or []:
        name, _, addr = entry.partition(":")
        hosts += f"{addr}\t{name}\n"
    if ip:
        hosts += f"{ip}\t{fqdn} {hostname}\n" if fqdn != hostname else f"{ip}\t{hostname}\n"
    files = {
        "/etc/hostname": (container_dir / "hostname", f"{hostname}\n"),
        "/etc/hosts": (container_dir / "hosts", hosts),
        "/etc/resolv.conf": (container_dir / "resolv.conf", resolv_conf(host_network)),
    }
    for path, content in files.values():
        path.write_text(content)
    return {target: str(path) for target, (path, _) in files.items()}
