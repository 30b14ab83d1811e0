"""What a bootstrapped Debian image takes over from the host so package registries stay reachable.

Where the host reaches PyPI or an https mirror only through a TLS-inspecting proxy,
it trusts that proxy's CA through `/usr/local/share/ca-certificates/*.crt` (the place
`update-ca-certificates` reads), and `/etc/pip.conf` may point pip at the bundle made
from it. The image gets the same CA files (once the `ca-certificates` package is in,
its bundle includes them) and the pip.conf settings that make sense inside the image:
a setting naming a host path the image does not have (`find-links = /opt/wheels`,
`file:///...` indexes) is left out.
"""

from __future__ import annotations

import configparser
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.engine import aptsources
from dockyard.engine.aptsources import AptSource

__all__ = ["HostSettings", "local_ca_files", "image_pip_conf", "LOCAL_CA_DIR"]

LOCAL_CA_DIR = Path("/usr/local/share/ca-certificates")


@dataclass(frozen=True)
class HostSettings:
    """Everything read from the host for a Debian bootstrap: part of the cache key."""
    sources: tuple[AptSource, ...]
    codename: str
    ca_files: tuple[tuple[str, bytes], ...] = ()     # (path below LOCAL_CA_DIR, contents)
    pip_conf: str = ""                               # the host's /etc/pip.conf, as it is
    proxy_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, etc: Path = Path("/etc"), ca_dir: Path = LOCAL_CA_DIR) -> HostSettings:
        sources = aptsources.read_host_sources(etc / "apt")
        try:
            os_release = (etc / "os-release").read_text()
        except OSError:
            os_release = ""
        try:
            pip_conf = (etc / "pip.conf").read_text()
        except OSError:
            pip_conf = ""
        proxy = {k: v for k, v in os.environ.items()
                 if k.lower() in ("http_proxy", "https_proxy", "no_proxy")}
        return cls(tuple(sources), aptsources.host_codename(os_release, sources), local_ca_files(ca_dir),
                   pip_conf, proxy)

    def fingerprint(self) -> dict[str, object]:
        """The parts that end up in an image, for its cache key."""
        import hashlib
        return {"sources": [[list(s.types), list(s.uris), list(s.suites), list(s.components), s.enabled]
                            for s in self.sources],
                "codename": self.codename,
                "ca": [[p, hashlib.sha256(b).hexdigest()] for p, b in self.ca_files],
                "pip": self.pip_conf}


def local_ca_files(ca_dir: Path = LOCAL_CA_DIR) -> tuple[tuple[str, bytes], ...]:
    if not ca_dir.is_dir():
        return ()
    out = []
    for path in sorted(ca_dir.rglob("*.crt")):
        if path.is_file() and not path.is_symlink():
            out.append((str(path.relative_to(ca_dir)), path.read_bytes()))
    return tuple(out)


def _host_only(value: str, exists: Callable[[str], bool]) -> bool:
    for word in value.split():
        path = word[len("file://"):] if word.startswith("file://") else word
        if path.startswith("/") and not exists(path):
            return True
    return False


def image_pip_conf(text: str, exists: Callable[[str], bool]) -> str:
    """The pip.conf for an image: the host's settings less those naming paths it lacks ("" if none)."""
    parser = configparser.RawConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return ""
    out = configparser.RawConfigParser(interpolation=None)
    for section in parser.sections():
        for key, value in parser.items(section):
            if value.strip() and not _host_only(value, exists):
                if not out.has_section(section):
                    out.add_section(section)
                out.set(section, key, value)
    if not out.sections():
        return ""
    buf = io.StringIO()
    out.write(buf)
    return buf.getvalue().rstrip() + "\n"
