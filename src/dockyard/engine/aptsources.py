"""The host's apt sources, read to find the Debian mirror and to write the image's own sources.

There is no Docker Hub: a Debian base image is made with debootstrap from the mirror
this machine's apt already uses, and apt inside the image must reach the same places
(the release, its -updates and -security suites). This module is pure text in,
text out: both source formats are parsed (deb822 `*.sources` and one-line
`sources.list`), and the image gets one deb822 file as the official image has,
`/etc/apt/sources.list.d/debian.sources`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import SystemError_

__all__ = ["AptSource", "parse_deb822", "parse_one_line", "read_host_sources", "host_codename",
           "release_suites", "debian_mirror", "image_sources", "DEBIAN_KEYRING"]

DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


@dataclass(frozen=True)
class AptSource:
    types: tuple[str, ...]          # "deb", "deb-src"
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]
    enabled: bool = True


def _fields(paragraph: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    key = ""
    for line in paragraph:
        if line[:1] in (" ", "\t"):
            if key:   # a continuation line (multi-line Signed-By keys, long lists)
                out[key] += "\n" + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        key = name.strip().lower()
        out[key] = value.strip()
    return out


def parse_deb822(text: str) -> list[AptSource]:
    """A `*.sources` file: paragraphs of `Key: value` fields separated by blank lines."""
    paragraphs: list[list[str]] = [[]]
    for raw in text.splitlines():
        if raw.lstrip().startswith("#"):
            continue
        if not raw.strip():
            if paragraphs[-1]:
                paragraphs.append([])
            continue
        paragraphs[-1].append(raw.rstrip())
    out = []
    for p in paragraphs:
        f = _fields(p)
        if not f.get("types") or not f.get("uris") or not f.get("suites"):
            continue
        out.append(AptSource(tuple(f["types"].split()), tuple(f["uris"].split()), tuple(f["suites"].split()),
                             tuple(f.get("components", "").split()),
                             f.get("enabled", "yes").lower() not in ("no", "false", "0")))
    return out


def parse_one_line(text: str) -> list[AptSource]:
    """A `sources.list`: `deb [opt=value ...] URI SUITE [COMPONENT ...]` per line."""
    out = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        line = re.sub(r"\[[^\]]*\]", " ", line, count=1)   # options: arch=, signed-by=, trusted=
        words = line.split()
        if len(words) < 3 or words[0] not in ("deb", "deb-src"):
            continue
        out.append(AptSource((words[0],), (words[1],), (words[2],), tuple(words[3:])))
    return out


def read_host_sources(etc_apt: Path = Path("/etc/apt")) -> list[AptSource]:
    """All sources apt on this machine reads, in apt's order (sources.list, then sources.list.d/ sorted)."""
    out: list[AptSource] = []
    main = etc_apt / "sources.list"
    if main.is_file():
        out += parse_one_line(main.read_text(errors="replace"))
    parts = etc_apt / "sources.list.d"
    if parts.is_dir():
        for f in sorted(parts.iterdir()):
            if f.suffix == ".list" and f.is_file():
                out += parse_one_line(f.read_text(errors="replace"))
            elif f.suffix == ".sources" and f.is_file():
                out += parse_deb822(f.read_text(errors="replace"))
    return out


def host_codename(os_release: str, sources: Iterable[AptSource] = ()) -> str:
    """A Debian host's release (VERSION_CODENAME; failing that, the one bare suite apt uses).
    "" on other systems: an Ubuntu mirror's `jammy` is no Debian release to rename."""
    fields = {}
    for line in os_release.splitlines():
        key, _, value = line.partition("=")
        fields[key.strip()] = value.strip().strip('"\'')
    if fields.get("ID") != "debian":
        return ""
    if fields.get("VERSION_CODENAME"):
        return fields["VERSION_CODENAME"]
    bare = [s for src in sources for s in src.suites if "-" not in s and "/" not in s]
    return bare[0] if bare else ""


def release_suites(source: AptSource, host: str, target: str) -> list[str]:
    """The source's suites that belong to the host's release, renamed for `target`:
    with host `trixie` and target `bookworm`, `trixie-security` → `bookworm-security`.
    Suites of other releases and of third-party repositories are dropped."""
    out = []
    for suite in source.suites:
        for release in dict.fromkeys((target, host)):
            if release and (suite == release or suite.startswith(release + "-")):
                mapped = target + suite[len(release):]
                if mapped not in out:
                    out.append(mapped)
                break
    return out


def _debian_sources(sources: Iterable[AptSource], host: str, target: str) -> list[tuple[str, list[str], list[str]]]:
    """(uri, suites, components) for every enabled binary http(s) source of the release."""
    out = []
    for src in sources:
        if not src.enabled or "deb" not in src.types:
            continue
        suites = release_suites(src, host, target)
        if not suites:
            continue
        for uri in src.uris:
            if uri.startswith(("http://", "https://")):
                out.append((uri.rstrip("/"), suites, list(src.components) or ["main"]))
    return out


def debian_mirror(sources: Iterable[AptSource], host: str, target: str) -> str:
    """The mirror that carries `target` itself (not -updates or -security): debootstrap's MIRROR."""
    for uri, suites, _ in _debian_sources(sources, host, target):
        if target in suites:
            return uri
    raise SystemError_(f"cannot bootstrap Debian {target}: no apt source for it in /etc/apt/sources.list "
                       f"or /etc/apt/sources.list.d/ (an http:// mirror with suite {host or target}); "
                       "start the daemon with --bootstrap-mirror URL")


def image_sources(sources: Iterable[AptSource], host: str, target: str) -> str:
    """The image's `debian.sources`: the host's Debian mirrors, suites renamed for `target`."""
    merged: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for uri, suites, components in _debian_sources(sources, host, target):
        key = (uri, tuple(components))
        merged.setdefault(key, [])
        merged[key] += [s for s in suites if s not in merged[key]]
    if not merged:
        raise SystemError_(f"cannot bootstrap Debian {target}: no Debian apt source found on this machine; "
                           "start the daemon with --bootstrap-mirror URL")
    paragraphs = [f"Types: deb\nURIs: {uri}\nSuites: {' '.join(suites)}\nComponents: {' '.join(components)}\n"
                  f"Signed-By: {DEBIAN_KEYRING}\n" for (uri, components), suites in merged.items()]
    return "\n".join(paragraphs)
