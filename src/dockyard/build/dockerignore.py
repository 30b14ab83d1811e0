""".dockerignore: reading the file and matching paths, as moby/patternmatcher and its ignorefile do.

A pattern is cleaned like a Go path and compiled the way patternmatcher compiles it:
exact names, `prefix**`, `**suffix`, or a regular expression where `*` and `?` stop at
`/`, `**` crosses directories and `[...]` / `\\x` pass through to the regexp. A path is
excluded when the last pattern that matches it (or one of its parent directories) is not
an `!exception`. Quirks are kept on purpose, because the docker CLI decides with them
which files it sends:

* `matches` is MatchesOrParentMatches (what the daemon and most callers use);
* `matches_single_parent` is the deprecated Matches, still what the CLI uses to decide
  whether the Dockerfile and .dockerignore must be force-included;
* `matches_with_parents` is MatchesUsingParentResults, what the CLI's context walk uses
  (see `walk_context`), with its directory pruning.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum

from dockyard.build import gopath
from dockyard.build.fswalk import walk
from dockyard.build.goregex import compile_go_regex
from dockyard.errors import InvalidArgument

__all__ = [
    "read_patterns",
    "Pattern",
    "PatternMatcher",
    "MatchInfo",
    "walk_context",
    "ContextItem",
    "go_trim_space",
    "trim_build_files",
]

_BOM = "\ufeff"
_MAX_LINE = 64 * 1024  # bufio.Scanner's default token limit
# unicode.IsSpace: what Go's strings.TrimSpace removes
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_REGEX_ESCAPE = set(".+()|{}$")


def go_trim_space(s: str) -> str:
    return s.strip(_GO_SPACE)


def read_patterns(text: str | bytes) -> list[str]:
    """The patterns of a .dockerignore file (ignorefile.ReadAll)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # a final newline does not start another line
    out: list[str] = []
    for n, line in enumerate(lines):
        if line.endswith("\r"):
            line = line[:-1]
        if len(line.encode("utf-8", "surrogateescape")) > _MAX_LINE:
            raise InvalidArgument("error reading .dockerignore: bufio.Scanner: token too long")
        if n == 0 and line.startswith(_BOM):
            line = line[1:]
        if line.startswith("#"):
            continue
        pattern = go_trim_space(line)
        if not pattern:
            continue
        invert = pattern[0] == "!"
        if invert:
            pattern = go_trim_space(pattern[1:])
        if pattern:
            pattern = gopath.clean(pattern)
            if len(pattern) > 1 and pattern[0] == "/":
                pattern = pattern[1:]
        out.append("!" + pattern if invert else pattern)
    return out


class _Kind(Enum):
    UNKNOWN = 0
    EXACT = 1
    PREFIX = 2
    SUFFIX = 3
    REGEXP = 4


@dataclass
class Pattern:
    """One cleaned pattern; compiled on first use, as patternmatcher does."""

    cleaned: str
    exclusion: bool = False
    _kind: _Kind = _Kind.UNKNOWN
    _regexp: re.Pattern[str] | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return self.cleaned

    def match(self, path: str) -> bool:
        if self._kind is _Kind.UNKNOWN:
            self._compile()
        if self._kind is _Kind.EXACT:
            return path == self.cleaned
        if self._kind is _Kind.PREFIX:
            return path.startswith(self.cleaned[:-2])
        if self._kind is _Kind.SUFFIX:
            suffix = self.cleaned[2:]
            if path.endswith(suffix):
                return True
            return suffix[0] == "/" and path == suffix[1:]  # "**/foo" matches "foo"
        assert self._regexp is not None
        return self._regexp.match(path) is not None

    def _compile(self) -> None:
        regex = "^"
        kind = _Kind.EXACT
        p = self.cleaned
        pos, n, i = 0, len(p), 0
        while pos < n:
            ch = p[pos]
            pos += 1
            if ch == "*":
                if pos < n and p[pos] == "*":
                    pos += 1
                    if pos < n and p[pos] == "/":
                        pos += 1  # "**/" is "**"
                    if pos >= n:
                        # trailing "**" matches everything below, like .gitignore
                        if kind is _Kind.EXACT:
                            kind = _Kind.PREFIX
                        else:
                            regex += ".*"
                            kind = _Kind.REGEXP
                    else:
                        regex += "(.*/)?"
                        kind = _Kind.REGEXP
                    if i == 0:
                        kind = _Kind.SUFFIX
                else:
                    regex += "[^/]*"
                    kind = _Kind.REGEXP
            elif ch == "?":
                regex += "[^/]"
                kind = _Kind.REGEXP
            elif ch in _REGEX_ESCAPE:
                regex += "\\" + ch
            elif ch == "\\":
                if pos < n:
                    regex += "\\" + p[pos]
                    pos += 1
                    kind = _Kind.REGEXP
                else:
                    regex += "\\"
            elif ch in "[]":
                regex += ch
                kind = _Kind.REGEXP
            else:
                regex += ch
            i += 1
        if kind is _Kind.REGEXP:
            try:
                self._regexp = compile_go_regex(regex + "$")
            except gopath.BadPattern:
                raise InvalidArgument("syntax error in pattern") from None
        self._kind = kind


@dataclass(frozen=True)
class MatchInfo:
    """Per-pattern results for a directory, handed to its children (patternmatcher.MatchInfo)."""

    parent_matched: tuple[bool, ...] = ()


class PatternMatcher:
    """moby/patternmatcher.PatternMatcher. Raises InvalidArgument on a bad pattern."""

    def __init__(self, patterns: list[str]) -> None:
        self.patterns: list[Pattern] = []
        self._exclusions = False
        for raw in patterns:
            p = go_trim_space(raw)
            if not p:
                continue
            p = gopath.clean(p)
            exclusion = p[0] == "!"
            if exclusion:
                if len(p) == 1:
                    raise InvalidArgument('illegal exclusion pattern: "!"')
                p = p[1:]
                self._exclusions = True
            try:
                gopath.match(p, ".")  # syntax check, as patternmatcher does
            except gopath.BadPattern:
                raise InvalidArgument("syntax error in pattern") from None
            self.patterns.append(Pattern(p, exclusion))

    def exclusions(self) -> bool:
        """True if any pattern is an `!exception` (then excluded dirs may still hold included files)."""
        return self._exclusions

    def matches(self, path: str) -> bool:
        """Is `path` (slash-separated, relative) excluded? Parent dirs count (MatchesOrParentMatches)."""
        path = gopath.clean(path)
        if path == ".":
            return False  # never exclude the whole context
        parents = _parent_dirs(path)
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue  # an inclusion cannot change a match, nor an exception a non-match
            hit = pattern.match(path)
            if not hit:
                hit = any(pattern.match("/".join(parents[: k + 1])) for k in range(len(parents)))
            if hit:
                matched = not pattern.exclusion
        return matched

    def matches_single_parent(self, path: str) -> bool:
        """The deprecated Matches: only the parent prefix as deep as the pattern is tried."""
        path = gopath.clean(path)
        if path == ".":
            return False
        parents = _parent_dirs(path)
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            hit = pattern.match(path)
            depth = len(pattern.cleaned.split("/"))
            if not hit and parents and depth <= len(parents):
                hit = pattern.match("/".join(parents[:depth]))
            if hit:
                matched = not pattern.exclusion
        return matched

    def matches_with_parents(self, path: str, parent: MatchInfo) -> tuple[bool, MatchInfo]:
        """MatchesUsingParentResults: `parent` is the MatchInfo of the parent dir (empty at top)."""
        if parent.parent_matched and len(parent.parent_matched) != len(self.patterns):
            raise ValueError("wrong number of values in parentMatched")
        matched = False
        results: list[bool] = []
        for k, pattern in enumerate(self.patterns):
            hit = bool(parent.parent_matched) and parent.parent_matched[k]
            if not hit:
                if pattern.exclusion != matched:
                    results.append(False)
                    continue
                hit = pattern.match(path)
                if not hit and not parent.parent_matched:
                    parents = _parent_dirs(path)
                    hit = any(pattern.match("/".join(parents[: j + 1])) for j in range(len(parents)))
            results.append(hit)
            if hit:
                matched = not pattern.exclusion
        return matched, MatchInfo(tuple(results))

    def may_include_below(self, dir_path: str) -> bool:
        """Could an `!exception` re-include something under the excluded dir `dir_path`?

        The docker CLI's test for not pruning an excluded directory: an exception
        pattern that starts with the directory's path (wildcards are not expanded).
        """
        prefix = dir_path + "/"
        return any(p.exclusion and (p.cleaned + "/").startswith(prefix) for p in self.patterns)


def _parent_dirs(path: str) -> list[str]:
    """filepath.Dir split into components; [] for a top-level name."""
    parent = path.rsplit("/", 1)[0] if "/" in path else "."
    return [] if parent == "." else parent.split("/")


@dataclass(frozen=True)
class ContextItem:
    rel: str                 # slash-separated path relative to the context root
    path: str                # host path
    st: os.stat_result       # lstat
    excluded: bool           # not sent; an excluded directory may still be entered (see `entered`)
    entered: bool            # a directory whose entries were walked


def walk_context(root: str, matcher: PatternMatcher) -> Iterator[ContextItem]:
    """Walk `root` as the docker CLI does when it tars the context (archive.TarWithOptions).

    Yields every entry, parents before children in Go's order, with its verdict. An
    excluded directory is entered only if an exception pattern starts with its path, and
    is not sent itself even then (only its re-included children are).
    """
    infos: dict[str, MatchInfo] = {}  # per directory, for its entries
    entering: dict[str, bool] = {}
    for rel, path, st in walk(root, enter=lambda rel, _st: entering.pop(rel)):
        parent = infos.get(rel.rpartition("/")[0], MatchInfo()) if "/" in rel else MatchInfo()
        excluded, info = matcher.matches_with_parents(rel, parent)
        enter = stat.S_ISDIR(st.st_mode) and (
            not excluded or (matcher.exclusions() and matcher.may_include_below(rel))
        )
        if enter:
            infos[rel] = info
        if stat.S_ISDIR(st.st_mode):
            entering[rel] = enter
        yield ContextItem(rel, path, st, excluded, enter)


def trim_build_files(patterns: list[str], dockerfile: str, *, dockerfile_from_stdin: bool = False) -> list[str]:
    """The docker CLI's TrimBuildFilesFromExcludes: force-include .dockerignore and the Dockerfile.

    The daemon needs both in the context; it drops them again after reading them if the
    patterns exclude them. Uses the deprecated single-parent match, as the CLI does.
    """
    matcher = PatternMatcher(patterns)
    out = list(patterns)
    if matcher.matches_single_parent(".dockerignore"):
        out.append("!.dockerignore")
        matcher = PatternMatcher(out)
    if not dockerfile_from_stdin and matcher.matches_single_parent(dockerfile):
        out.append("!" + dockerfile)
    return out
