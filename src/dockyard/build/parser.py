"""Dockerfile text → a list of instruction nodes, as buildkit's `frontend/dockerfile/parser`.

Handles, in buildkit's order and with its quirks: a UTF-8 byte-order mark, parser
directives at the top (`# syntax=`, `# escape=`, `# check=`), comments and blank lines,
line continuations with the escape token (comment lines and empty lines inside a
continuation are dropped, the latter with a warning), the exec (JSON) form, leading
`--flags`, and heredocs (`RUN <<EOF`, `<<-EOF`, quoted names, several per line).

Error texts are Docker's. For a Dockerfile the classic builder (`POST /build`) reports
syntax errors as "failed to parse Dockerfile: <reason>"; `parse(..., name=None)` gives the
bare reason, as for ONBUILD triggers. Pure: text in, frozen data out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from dockyard.build.errors import DockerfileError
from dockyard.build.golang import go_lower, trim_left_space, trim_space
from dockyard.build.line_parsers import LineError, Parsed, parse_line
from dockyard.build.shell_lex import ShellLex

__all__ = ["Heredoc", "Node", "ParseResult", "DockerfileError", "parse", "parse_heredoc",
           "chomp_heredoc", "MAX_LINE"]

MAX_LINE = 65535                     # bufio.Scanner's limit, as buildkit reports it
_HEREDOC_KEYWORDS = ("add", "copy", "run")
_RE_HEREDOC = re.compile(r"(\d*)<<(-?)[\t\n\f\r ]*+([^<]*)\Z")   # possessive: linear, same groups
_RE_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)
# buildkit: ^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$ (Go's \s has no \v); the value is cut below,
# as a lazy (.+?)\s*$ is quadratic in a backtracking engine
_RE_DIRECTIVE = re.compile(r"#[\t\n\f\r ]*+([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*+=(.*)\Z")
_GO_SPACE = "\t\n\f\r "
_DIRECTIVES = ("syntax", "escape", "check")


@dataclass(frozen=True)
class Heredoc:
    name: str
    content: str          # the body as written, every line with its newline
    expand: bool          # False when the name was quoted (<<"EOF"): no variable expansion
    chomp: bool           # <<-EOF: leading tabs are stripped (see chomp_heredoc)
    fd: int = 0           # 3<<EOF


@dataclass(frozen=True)
class Node:
    """One instruction as written."""
    keyword: str                   # lower-case: "run"
    args: tuple[str, ...]          # split as buildkit splits this kind (ENV/LABEL: name, value, "=" or "")
    flags: tuple[str, ...]         # ("--from=builder",)
    json_form: bool
    original: str                  # as Docker prints it after "Step N/M : " (continuations joined)
    start_line: int
    end_line: int
    heredocs: tuple[Heredoc, ...] = ()
    command: str = ""              # the keyword as written ("Run"), for messages
    source: str = ""               # the joined line untrimmed (buildkit's Node.Original)
    child: Node | None = None      # ONBUILD's trigger instruction


@dataclass(frozen=True)
class ParseResult:
    nodes: tuple[Node, ...]
    directives: Mapping[str, str]
    escape: str
    warnings: tuple[str, ...]


def chomp_heredoc(content: str) -> str:
    """What `<<-` does to a body: leading tabs removed from every line."""
    return _RE_LEADING_TABS.sub("", content)


# ---------------------------------------------------------------- scanning

class _Lines:
    """bufio.Scanner over lines (each with its newline), stopping at an over-long line."""

    def __init__(self, text: str) -> None:
        pieces = text.split("\n")
        self._lines = [p + "\n" for p in pieces[:-1]]
        if pieces[-1]:
            self._lines.append(pieces[-1])
        self._next = 0
        self.too_long = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self.too_long or self._next >= len(self._lines):
            raise StopIteration
        line = self._lines[self._next]
        body = line[:-1] if line.endswith("\n") else line
        if len(body) > MAX_LINE // 4 and len(body.encode("utf-8", "surrogatepass")) > MAX_LINE:
            self.too_long = True
            raise StopIteration
        self._next += 1
        return line


class _Directives:
    """Parser directives: only in the leading run of `# key=value` comment lines."""

    def __init__(self) -> None:
        self.done = False
        self.seen: dict[str, str] = {}
        self.escape = "\\"
        self._continuation = _continuation_regex("\\")

    def check(self, line: str) -> bool:
        """Whether `line` is a directive; sets the escape token; raises _SyntaxError when invalid."""
        if self.done:
            return False
        m = _RE_DIRECTIVE.match(line)
        value = _directive_value(m.group(2)) if m else ""
        if not m or not value or m.group(1).lower() not in _DIRECTIVES:
            self.done = True
            return False
        key = m.group(1).lower()
        if key in self.seen:
            raise _SyntaxError(f"only one {key} parser directive can be used")
        self.seen[key] = value
        if key == "escape":
            if value not in ("`", "\\"):
                raise _SyntaxError(f"invalid escape token '{value}' does not match ` or \\")
            self.escape = value
            self._continuation = _continuation_regex(value)
        return True

    def trim_continuation(self, line: str) -> tuple[str, bool]:
        """(line without a trailing escape token, whether the logical line ends here)."""
        m = self._continuation.search(line)
        if m:
            return line[:m.start()] + (m.group(1) or ""), False
        return line, True


def _directive_value(rest: str) -> str:
    value = rest.strip(_GO_SPACE)
    if not value and rest:
        return rest[-1]  # `=\s*(.+?)\s*$` on blanks only: the lazy group still takes the last one
    return value


class _SyntaxError(Exception):
    pass


def _continuation_regex(escape: str) -> re.Pattern[str]:
    e = re.escape(escape)
    return re.compile(rf"([^{e}]){e}[ \t]*+\Z|^{e}[ \t]*+\Z")


def _trim_newline(line: str) -> str:
    return line.rstrip("\r\n")


def _is_comment(line: str) -> bool:
    return trim_left_space(line).startswith("#")


def _is_empty_continuation(line: str) -> bool:
    return trim_left_space(_trim_newline(line)) == ""


# ---------------------------------------------------------------- heredocs

def parse_heredoc(word: str) -> Heredoc | None:
    """The heredoc a word like `<<EOF`, `<<-"EOF"` or `3<<EOF` starts (content empty), else None."""
    m = _RE_HEREDOC.match(word)
    if not m or not m.group(3):
        return None
    rest = m.group(3)
    lex = ShellLex("\\", skip_unset_env=True)
    words = lex.process_words(rest, {})
    if len(words) != 1:
        return None
    raw = ShellLex("\\", skip_unset_env=True, raw_quotes=True).process_words(rest, {})
    if len(raw) != 1:
        raise DockerfileError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    # Quotes anywhere in the name (they vanish in one lexing and not the other) stop expansion.
    quotes = words[0].count("'") + words[0].count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    fd = int(m.group(1)) if m.group(1) else 0
    return Heredoc(name=words[0], content="", expand=quotes == raw_quotes, chomp=m.group(2) == "-", fd=fd)


def _heredocs_in_line(line: str) -> list[Heredoc]:
    lex = ShellLex("\\", raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    try:
        words = lex.process_words(line, {})
    except DockerfileError:
        words = []
    docs = []
    for word in words:
        doc = parse_heredoc(word)
        if doc is not None:
            docs.append(doc)
    return docs


def _can_contain_heredoc(parsed: Parsed) -> bool:
    target = parsed.child if go_lower(parsed.command) == "onbuild" and parsed.child else parsed
    return go_lower(target.command) in _HEREDOC_KEYWORDS and not target.json_form


# ---------------------------------------------------------------- the parser

def parse(text: str | bytes, *, name: str | None = "Dockerfile") -> ParseResult:
    """Parse a Dockerfile. `name` only words errors ("failed to parse <name>: ..."); None: bare."""
    if not text:
        _empty(name)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = text.removeprefix("\ufeff")
    try:
        return _parse(text)
    except _Located as err:
        message = err.reason if name is None else f"failed to parse {name}: {err.reason}"
        raise DockerfileError(message, err.line, reason=err.reason) from None


def _empty(name: str | None) -> None:
    message = f"the Dockerfile ({name or 'Dockerfile'}) cannot be empty"
    raise DockerfileError(message, 0)


class _Located(Exception):
    def __init__(self, reason: str, line: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


def _parse(text: str) -> ParseResult:
    d = _Directives()
    lines = _Lines(text)
    nodes: list[Node] = []
    warnings: list[str] = []
    current = 0
    for raw in lines:
        token = trim_left_space(_trim_newline(raw))
        try:
            d.check(token)
        except _SyntaxError as err:
            raise _Located(str(err), current + 1) from None
        current += 1
        start = current
        first = "" if _is_comment(token) else token
        first, end_of_line = d.trim_continuation(first)
        if end_of_line and not first:
            continue
        buf = [first]
        empty_continuation = False
        while not end_of_line:
            nxt = next(lines, None)
            if nxt is None:
                break
            piece = _trim_newline(nxt)
            try:
                d.check(piece)
            except _SyntaxError as err:
                raise _Located(str(err), current + 1) from None
            current += 1
            if _is_comment(nxt):
                continue
            if _is_empty_continuation(piece):
                empty_continuation = True
                continue
            piece, end_of_line = d.trim_continuation(piece)
            buf.append(piece)
        line = "".join(buf)
        if empty_continuation:
            warnings.append("Empty continuation line found in: " + line)
        try:
            parsed = parse_line(line, d.escape)
        except (LineError, DockerfileError) as err:
            raise _Located(str(err), start) from None
        heredocs: list[Heredoc] = []
        if _can_contain_heredoc(parsed) and "<<" in line:
            try:
                found = _heredocs_in_line(line)
            except DockerfileError as err:
                raise _Located(str(err), start) from None
            for doc in found:
                body: list[str] = []
                terminated = False
                for content_line in lines:
                    current += 1
                    candidate = _trim_newline(content_line)
                    if doc.chomp:
                        candidate = candidate.lstrip("\t")
                    if candidate == doc.name:
                        terminated = True
                        break
                    body.append(content_line)
                if not terminated:
                    raise _Located("unterminated heredoc", start)
                heredocs.append(Heredoc(doc.name, "".join(body), doc.expand, doc.chomp, doc.fd))
        nodes.append(_node(parsed, start, current, tuple(heredocs)))
    if not nodes:
        raise _Located("file with no instructions", current)
    if lines.too_long:
        raise _Located(f"dockerfile line greater than max allowed size of {MAX_LINE}", current)
    return ParseResult(nodes=tuple(nodes), directives=MappingProxyType(dict(d.seen)), escape=d.escape,
                       warnings=tuple(warnings))


def _node(parsed: Parsed, start: int, end: int, heredocs: tuple[Heredoc, ...] = ()) -> Node:
    child = _node(parsed.child, start, end) if parsed.child is not None else None
    return Node(keyword=go_lower(parsed.command), args=tuple(parsed.args), flags=tuple(parsed.flags),
                json_form=parsed.json_form, original=trim_space(parsed.original), start_line=start,
                end_line=end, heredocs=heredocs, command=parsed.command, source=parsed.original, child=child)
