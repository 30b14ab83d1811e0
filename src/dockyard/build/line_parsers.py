"""How each Dockerfile instruction's text is split into arguments (buildkit's line parsers).

`split_command` separates the keyword, the leading `--flags` and the rest; `dispatch`
then splits the rest the way buildkit does for that keyword: JSON arrays for the exec
form, whitespace-separated words, `name=value` pairs (quotes kept for the lexer to
remove later), the whole rest as one string, or a sub-instruction for ONBUILD.
Errors raised here are `_ParseError`s; the parser gives them their location.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from dockyard.build.golang import go_lower, go_quote, is_space, is_space_byte, trim_left_space, trim_space

__all__ = ["Parsed", "LineError", "parse_line", "parse_words", "split_command", "dispatch_args", "KNOWN"]

RE_WHITESPACE = re.compile(r"[\t\v\f\r ]+")


class LineError(Exception):
    """A syntax error in one instruction's text (the parser attaches the line)."""


@dataclass
class Parsed:
    """One instruction split up: buildkit's Node before line numbers are attached."""
    command: str                      # keyword as written
    flags: list[str]
    args: list[str]                   # buildkit's nodeArgs(): what instructions see
    json_form: bool = False
    original: str = ""
    child: Parsed | None = None       # ONBUILD's trigger


def split_command(line: str, escape: str) -> tuple[str, list[str], str]:
    """(keyword, flags, rest): the first word, then leading --flags, then the trimmed rest."""
    parts = RE_WHITESPACE.split(trim_space(line), maxsplit=1)
    rest, flags = "", list[str]()
    if len(parts) == 2:
        rest, flags = _extract_flags(parts[1], escape)
    return parts[0], flags, trim_space(rest)


def _extract_flags(line: str, escape: str) -> tuple[str, list[str]]:
    # buildkit walks the bytes (not characters) here, so non-ASCII flag text comes out as
    # Latin-1 mojibake and the bytes 0x85/0xA0 count as spaces; kept for fidelity.
    data = line.encode("utf-8", "surrogatepass")
    esc = ord(escape)
    words: list[str] = []
    in_spaces, in_word, in_quote = 0, 1, 2
    phase = in_spaces
    buf: list[str] = []
    quote = 0
    blank_ok = False
    n = len(data)
    pos = 0
    ch = 0
    while pos <= n:
        if pos != n:
            ch = data[pos]
        if phase == in_spaces:
            if pos == n:
                break
            if is_space_byte(ch):
                pos += 1
                continue
            if ch != 0x2D or pos + 1 == n or data[pos + 1] != 0x2D:
                return _decode(data[pos:]), words
            phase = in_word
        if phase in (in_word, in_quote) and pos == n:
            word = "".join(buf)
            if word != "--" and (blank_ok or word):
                words.append(word)
            break
        if phase == in_word:
            if is_space_byte(ch):
                word = "".join(buf)
                phase = in_spaces
                if word == "--":
                    return _decode(data[pos:]), words
                if blank_ok or word:
                    words.append(word)
                buf = []
                blank_ok = False
                pos += 1
                continue
            if ch in (0x27, 0x22):
                quote = ch
                blank_ok = True
                phase = in_quote
                pos += 1
                continue
            if ch == esc:
                if pos + 1 == n:
                    pos += 1
                    continue
                pos += 1
                ch = data[pos]
            buf.append(chr(ch))
            pos += 1
            continue
        # in_quote
        if ch == quote:
            phase = in_word
            pos += 1
            continue
        if ch == esc:
            if pos + 1 == n:
                phase = in_word
                pos += 1
                continue
            pos += 1
            ch = data[pos]
        buf.append(chr(ch))
        pos += 1
    return "", words


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


# ---------------------------------------------------------------- the per-keyword splitters

def parse_words(rest: str, escape: str) -> list[str]:
    """Space-separated words, quotes and escapes kept (the lexer removes them later)."""
    words: list[str] = []
    in_spaces, in_word, in_quote = 0, 1, 2
    phase = in_spaces
    quote = ""
    blank_ok = False
    buf: list[str] = []
    n = len(rest)
    pos = 0
    ch = ""
    while pos <= n:
        if pos != n:
            ch = rest[pos]
        if phase == in_spaces:
            if pos == n:
                break
            if is_space(ch):
                pos += 1
                continue
            phase = in_word
        if phase in (in_word, in_quote) and pos == n:
            if blank_ok or buf:
                words.append("".join(buf))
            break
        if phase == in_word:
            if is_space(ch):
                phase = in_spaces
                if blank_ok or buf:
                    words.append("".join(buf))
                buf = []
                blank_ok = False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = in_quote
            if ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue
                # an escape outside quotes keeps itself and the next character, even a quote
                buf.append(ch)
                pos += 1
                ch = rest[pos]
            buf.append(ch)
            pos += 1
            continue
        # in_quote
        if ch == quote:
            phase = in_word
        if ch == escape and quote != "'":
            if pos + 1 == n:
                phase = in_word
                pos += 1
                continue
            pos += 1
            buf.append(ch)
            ch = rest[pos]
        buf.append(ch)
        pos += 1
    return words


def _name_val(rest: str, key: str, escape: str) -> list[str]:
    # Old form `ENV name value...` when the first word has no "="; else name=value words.
    words = parse_words(rest, escape)
    if not words:
        return []
    if "=" not in words[0]:
        parts = RE_WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise LineError(f"{key} must have two arguments")
        return [parts[0], parts[1], ""]
    args: list[str] = []
    for word in words:
        if "=" not in word:
            raise LineError(f"Syntax error - can't find = in {go_quote(word)}. "
                            "Must be of the form: name=value")
        name, _, value = word.partition("=")
        args += [name, value, "="]
    return args


class _NotJSON(Exception):
    pass


def _no_constant(text: str) -> object:
    raise _NotJSON(text)  # Go's decoder knows no NaN/Infinity


def _go_number(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _NotJSON(text)  # out of float64 range: an error in Go
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def _parse_json(rest: str) -> list[str] | None:
    """The exec form: a JSON array of strings; None when it is not JSON (so: the shell form)."""
    rest = trim_left_space(rest)
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest, parse_constant=_no_constant, parse_float=_go_number, parse_int=_go_number)
    except (ValueError, _NotJSON, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise LineError("when using JSON array syntax, arrays must be comprised of strings only")
    return [_SURROGATE.sub("\ufffd", item) for item in value]  # Go decodes lone surrogates as U+FFFD


def _maybe_json(rest: str) -> tuple[list[str], bool]:
    if rest == "":
        return [], False
    items = _parse_json(rest)
    if items is not None:
        return items, True
    return [rest], False


def _maybe_json_to_list(rest: str) -> tuple[list[str], bool]:
    items = _parse_json(rest)
    if items is not None:
        return items, True
    return _whitespace_delimited(rest), False


def _whitespace_delimited(rest: str) -> list[str]:
    return [] if rest == "" else RE_WHITESPACE.split(rest)


def _health(rest: str) -> tuple[list[str], bool]:
    # The first word is the type (CMD, NONE, ...); the remainder is like CMD's. Bytewise, as buildkit.
    data = rest.encode("utf-8", "surrogatepass")
    sep = 0
    while sep < len(data) and not is_space_byte(data[sep]):
        sep += 1
    nxt = sep
    while nxt < len(data) and is_space_byte(data[nxt]):
        nxt += 1
    if sep == 0:
        return [], False
    cmd, is_json = _maybe_json(_decode(data[nxt:]))
    return [_decode(data[:sep]), *cmd], is_json


KNOWN = ("add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck", "label",
         "maintainer", "onbuild", "run", "shell", "stopsignal", "user", "volume", "workdir")


def dispatch_args(keyword: str, rest: str, escape: str) -> tuple[list[str], bool, Parsed | None]:
    """(args, json_form, ONBUILD child) for `rest`, split as buildkit splits this keyword."""
    if keyword in ("add", "copy", "volume"):
        args, is_json = _maybe_json_to_list(rest)
        return args, is_json, None
    if keyword in ("cmd", "entrypoint", "run", "shell"):
        args, is_json = _maybe_json(rest)
        return args, is_json, None
    if keyword in ("env", "label"):
        return _name_val(rest, keyword.upper(), escape), False, None
    if keyword == "arg":
        return parse_words(rest, escape), False, None
    if keyword in ("expose", "from"):
        return _whitespace_delimited(rest), False, None
    if keyword in ("maintainer", "stopsignal", "user", "workdir"):
        return ([rest] if rest else []), False, None
    if keyword == "healthcheck":
        args, is_json = _health(rest)
        return args, is_json, None
    if keyword == "onbuild":
        if rest == "":
            return [], False, None
        child = parse_line(rest, escape)
        return [child.command, *child.args], False, child
    return [], False, None  # unknown instructions keep no arguments; instructions reports them


def parse_line(line: str, escape: str) -> Parsed:
    """One logical line (continuations joined) into keyword, flags and arguments."""
    command, flags, rest = split_command(line, escape)
    args, is_json, child = dispatch_args(go_lower(command), rest, escape)
    return Parsed(command=command, flags=flags, args=args, json_form=is_json, original=line, child=child)
