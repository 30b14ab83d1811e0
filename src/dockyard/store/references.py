"""Docker image references: parsing, normalisation and the familiar (short) form. Pure.

The grammar and error strings follow github.com/distribution/reference, which
the docker CLI and daemon both use, so users see the same messages:

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [domain "/"] path-component ["/" path-component]*
    domain     := host [":" port]          (a first component with "." or ":", or "localhost")
    tag        := [\\w][\\w.-]{0,127}

`busybox` normalises to `docker.io/library/busybox`; `TagNameOnly` adds `:latest`
when there is neither tag nor digest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from dockyard.errors import InvalidArgument
from dockyard.oci.digest import parse_digest

__all__ = [
    "Reference",
    "DEFAULT_DOMAIN",
    "parse",
    "parse_normalized",
    "parse_any",
    "normalize",
    "familiar",
    "repo_tag_reference",
    "familiar_match",
    "is_full_id",
    "is_id_prefix",
    "ERR_INVALID_FORMAT",
]

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

ERR_INVALID_FORMAT = "invalid reference format"
ERR_NAME_EMPTY = "repository name must have at least one component"
ERR_UPPERCASE = "repository name must be lowercase"
ERR_TOO_LONG = f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
ERR_TAG_FORMAT = "invalid tag format"

# Go's RE2 `\w` is ASCII-only; spell it out so Python's Unicode `\w` does not widen it.
_W = "[0-9A-Za-z_]"
_ALNUM = "[a-z0-9]+"
_SEPARATOR = "(?:[._]|__|[-]+)"
_DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_HOST = f"(?:{_DOMAIN_COMPONENT}(?:\\.{_DOMAIN_COMPONENT})*|{_IPV6})"
_DOMAIN_AND_PORT = f"{_HOST}(?::[0-9]+)?"
_PATH_COMPONENT = f"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_REMOTE_NAME = f"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_NAME = f"(?:{_DOMAIN_AND_PORT}/)?{_REMOTE_NAME}"
_TAG = f"{_W}[0-9A-Za-z_.-]{{0,127}}"
_DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_REFERENCE_RE = re.compile(f"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?")
_NAME_RE = re.compile(f"(?:({_DOMAIN_AND_PORT})/)?({_REMOTE_NAME})")
_TAG_RE = re.compile(_TAG)
_IDENTIFIER_RE = re.compile("[a-f0-9]{64}")
_ID_PREFIX_RE = re.compile("(?:sha256:)?[a-f0-9]{1,64}")


@dataclass(frozen=True)
class Reference:
    """A parsed reference. `domain` is "" only for references parsed without normalisation."""
    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        """Full repository name: `docker.io/library/busybox`."""
        return f"{self.domain}/{self.path}" if self.domain else self.path

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += ":" + self.tag
        if self.digest:
            out += "@" + self.digest
        return out

    @property
    def familiar_name(self) -> str:
        """`busybox`, `user/app`, `localhost:5000/a/b`."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        path = self.path
        if path.startswith(OFFICIAL_PREFIX) and "/" not in path[len(OFFICIAL_PREFIX):]:
            path = path[len(OFFICIAL_PREFIX):]
        return path

    @property
    def familiar(self) -> str:
        """The short form Docker shows: `busybox:latest`, `localhost:5000/a/b@sha256:...`."""
        out = self.familiar_name
        if self.tag:
            out += ":" + self.tag
        if self.digest:
            out += "@" + self.digest
        return out

    def with_tag(self, tag: str) -> Reference:
        if not _TAG_RE.fullmatch(tag):
            raise InvalidArgument(ERR_TAG_FORMAT)
        return replace(self, tag=tag, digest="")

    def with_default_tag(self) -> Reference:
        """TagNameOnly: add `latest` if there is neither tag nor digest."""
        if not self.tag and not self.digest:
            return replace(self, tag=DEFAULT_TAG)
        return self

    def docker_ref(self) -> Reference:
        """ParseDockerRef: a tag+digest reference keeps only its digest; else TagNameOnly."""
        if self.digest:
            return replace(self, tag="")
        return self.with_default_tag()


def parse(s: str) -> Reference:
    """Parse without normalising (distribution/reference.Parse)."""
    m = _REFERENCE_RE.fullmatch(s)
    if m is None:
        if s == "":
            raise InvalidArgument(ERR_NAME_EMPTY)
        if _REFERENCE_RE.fullmatch(s.lower()) is not None:
            raise InvalidArgument(ERR_UPPERCASE)
        raise InvalidArgument(ERR_INVALID_FORMAT)
    name, tag, digest = m.group(1), m.group(2) or "", m.group(3) or ""
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidArgument(ERR_TOO_LONG)
    nm = _NAME_RE.fullmatch(name)
    assert nm is not None  # the reference regex already matched this name
    domain, path = nm.group(1) or "", nm.group(2)
    if digest:
        digest = str(parse_digest(digest))
    return Reference(domain, path, tag, digest)


def _split_docker_domain(name: str) -> tuple[str, str]:
    first, slash, rest = name.partition("/")
    if not slash or ("." not in first and ":" not in first and first != "localhost" and first.lower() == first):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = first, rest
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_PREFIX + remainder
    return domain, remainder


def parse_normalized(s: str) -> Reference:
    """ParseNormalizedNamed: `busybox` -> docker.io/library/busybox (no default tag)."""
    if _IDENTIFIER_RE.fullmatch(s):
        raise InvalidArgument(f"invalid repository name ({s}), cannot specify 64-byte hexadecimal strings")
    domain, remainder = _split_docker_domain(s)
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:
        raise InvalidArgument(f"{ERR_INVALID_FORMAT}: repository name ({remote}) must be lowercase")
    return parse(f"{domain}/{remainder}")


def parse_any(s: str) -> Reference | str:
    """ParseAnyReference: a bare 64-hex id or a valid digest gives the digest string, else a reference."""
    if _IDENTIFIER_RE.fullmatch(s):
        return "sha256:" + s
    try:
        return str(parse_digest(s))
    except InvalidArgument:
        pass
    return parse_normalized(s)


def normalize(s: str) -> str:
    """`busybox` -> `docker.io/library/busybox:latest`; idempotent."""
    return str(parse_normalized(s).with_default_tag())


def familiar(s: str) -> str:
    """`docker.io/library/busybox:latest` -> `busybox:latest` (no default tag added)."""
    return parse_normalized(s).familiar


def repo_tag_reference(repo: str, tag: str | None) -> Reference:
    """The reference `docker tag`/`import`/`commit` create from (repo, tag), as the daemon checks it."""
    ref = parse_normalized(repo)
    if ref.digest:
        raise InvalidArgument("cannot import digest reference")
    ref = ref.with_tag(tag) if tag else ref.with_default_tag()
    if ref.familiar_name == "sha256":
        raise InvalidArgument("refusing to create an ambiguous tag using digest algorithm as name")
    return ref


def is_full_id(s: str) -> bool:
    """A full image id: 64 hex digits, with or without `sha256:`."""
    return bool(_IDENTIFIER_RE.fullmatch(s.removeprefix("sha256:")))


def is_id_prefix(s: str) -> bool:
    """Could `s` be (a prefix of) an image id: 1-64 lowercase hex digits, `sha256:` optional."""
    return bool(_ID_PREFIX_RE.fullmatch(s))


# ---------------------------------------------------------------- Go's path.Match

def _translate_pattern(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\":
            i += 1
            if i >= n:
                raise InvalidArgument("syntax error in pattern")
            out.append(re.escape(pattern[i]))
        elif c == "[":
            i += 1
            negate = i < n and pattern[i] == "^"
            if negate:
                i += 1
            parts: list[str] = []
            first = True
            while True:
                if i >= n:
                    raise InvalidArgument("syntax error in pattern")
                if pattern[i] == "]" and not first:
                    break
                first = False
                lo, i = _class_char(pattern, i)
                if i < n and pattern[i] == "-":
                    hi, i = _class_char(pattern, i + 1)
                    if hi < lo:
                        raise InvalidArgument("syntax error in pattern")
                    parts.append(f"{re.escape(lo)}-{re.escape(hi)}")
                else:
                    parts.append(re.escape(lo))
            # Go's classes (unlike `*` and `?`) may match "/".
            out.append(("[^" if negate else "[") + "".join(parts) + "]")
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    if i >= len(pattern) or pattern[i] in "-]":
        raise InvalidArgument("syntax error in pattern")
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise InvalidArgument("syntax error in pattern")
    return pattern[i], i + 1


def familiar_match(pattern: str, ref: Reference) -> bool:
    """reference.FamiliarMatch: match the familiar string, then the familiar name (`docker images --filter reference=`)."""
    rx = re.compile(_translate_pattern(pattern), re.DOTALL)
    return bool(rx.fullmatch(ref.familiar) or rx.fullmatch(ref.familiar_name))
