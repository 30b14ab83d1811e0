"""Image references as the CLI needs them: normalise for the API, shorten for people.

`busybox` → `docker.io/library/busybox` + tag `latest`; shown back as `busybox:latest`.
(The daemon has the full parser in store/references.py; the CLI may only import client.)
"""

from __future__ import annotations

__all__ = ["split_reference", "familiar_name", "familiar_string", "with_default_tag"]

DEFAULT_DOMAIN = "docker.io"


def split_reference(ref: str) -> tuple[str, str, str]:
    """(normalised repository name, tag, digest) — tag "" when a digest is given or none."""
    name, digest = ref, ""
    if "@" in ref:
        name, _, digest = ref.partition("@")
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    first, sep, rest = name.partition("/")
    if not sep:
        name = f"{DEFAULT_DOMAIN}/library/{name}"
    elif not ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        name = f"{DEFAULT_DOMAIN}/{name}"
    elif first == "index.docker.io":
        name = f"{DEFAULT_DOMAIN}/{rest}"
        if "/" not in rest:
            name = f"{DEFAULT_DOMAIN}/library/{rest}"
    if name.startswith(f"{DEFAULT_DOMAIN}/") and name.count("/") == 1:
        name = f"{DEFAULT_DOMAIN}/library/" + name.split("/", 1)[1]
    return name, tag, digest


def with_default_tag(ref: str) -> tuple[str, str, str]:
    """split_reference with "latest" filled in when neither tag nor digest is given."""
    name, tag, digest = split_reference(ref)
    if not tag and not digest:
        tag = "latest"
    return name, tag, digest


def familiar_name(name: str) -> str:
    """docker.io/library/busybox → busybox; docker.io/me/app → me/app."""
    if name.startswith(f"{DEFAULT_DOMAIN}/library/") and name.count("/") == 2:
        return name[len(f"{DEFAULT_DOMAIN}/library/"):]
    if name.startswith(f"{DEFAULT_DOMAIN}/"):
        return name[len(f"{DEFAULT_DOMAIN}/"):]
    return name


def familiar_string(ref: str, default_tag: bool = True) -> str:
    """"busybox" → "busybox:latest" (as in "Unable to find image 'busybox:latest' locally")."""
    name, tag, digest = with_default_tag(ref) if default_tag else split_reference(ref)
    out = familiar_name(name)
    if tag:
        out += ":" + tag
    if digest:
        out += "@" + digest
    return out
