"""Docker's shell-word lexer: quote removal and `$VAR` expansion in Dockerfile words.

Behaves as buildkit's `frontend/dockerfile/shell` Lex: single quotes are literal,
double quotes allow `$` expansion and escape only `"`, `$` and the escape token, the
escape token (`\\` or `` ` ``) escapes any character outside quotes, unset variables
expand to nothing, and `${VAR:-x}`, `${VAR-x}`, `${VAR:+x}`, `${VAR+x}`, `${VAR:?msg}`,
`${VAR?msg}`, `${VAR#pat}`, `${VAR##pat}`, `${VAR%pat}`, `${VAR%%pat}`, `${VAR/pat/r}`
and `${VAR//pat/r}` are supported. Errors are `DockerfileError`s worded as buildkit's
("failed to process \"${A:?}\": A: is not allowed to be unset").

The options RawQuotes, RawEscapes, SkipUnsetEnv and SkipProcessQuotes are buildkit's
own, used by the parser to find heredoc names and by builders to expand heredoc bodies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dockyard.build.errors import DockerfileError
from dockyard.build.golang import go_quote, is_digit, is_letter, is_space
from dockyard.build.shell_pattern import PatternError, replace_all, replace_first, trim_prefix, trim_suffix

__all__ = ["ShellLex", "ProcessResult", "DockerfileError"]

_EOF = ""
_SPECIAL_PARAMS = frozenset("@*#?-$!0")
_HEREDOC_SPACE = frozenset("\t\r ")


class _LexError(Exception):
    """An error inside one word; `process` wraps it as buildkit does."""


@dataclass
class ProcessResult:
    result: str
    words: list[str]
    matched: set[str] = field(default_factory=set)
    unmatched: set[str] = field(default_factory=set)


class _Words:
    """Whitespace word splitting of the expanded text (buildkit's wordsStruct)."""

    def __init__(self) -> None:
        self.buf = ""
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if is_space(ch):
            if self.in_word and self.buf:
                self.words.append(self.buf)
                self.buf = ""
                self.in_word = False
        else:
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.buf += ch
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw_string(self, text: str) -> None:
        self.buf += text
        self.in_word = True

    def get_words(self) -> list[str]:
        if self.buf:
            self.words.append(self.buf)
            self.buf = ""
            self.in_word = False
        return self.words


class ShellLex:
    def __init__(self, escape: str = "\\", *, raw_quotes: bool = False, raw_escapes: bool = False,
                 skip_unset_env: bool = False, skip_process_quotes: bool = False) -> None:
        if len(escape) != 1:
            raise ValueError("escape must be one character")
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset_env = skip_unset_env
        self.skip_process_quotes = skip_process_quotes

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        """The word with quotes removed and variables expanded; spaces inside are kept."""
        return self.process(word, env).result

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """As process_word, then split on white space outside quotes."""
        return self.process(word, env).words

    def process(self, word: str, env: Mapping[str, str]) -> ProcessResult:
        """Both forms at once, with the variable names found set and unset (for unused-arg warnings)."""
        run = _Run(self, word, env)
        try:
            result, words = run.process_stop_on(_EOF, self.raw_escapes)
        except _LexError as err:
            raise DockerfileError(f"failed to process {go_quote(word)}: {err}") from None
        return ProcessResult(result, words, run.matched, run.unmatched)


class _Run:
    """One pass over one word (buildkit's shellWord)."""

    def __init__(self, lex: ShellLex, text: str, env: Mapping[str, str]) -> None:
        self.lex = lex
        self.text = text
        self.pos = 0
        self.env = env
        self.raw_escapes = lex.raw_escapes
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()

    # -- scanner
    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else _EOF

    def next(self) -> str:
        if self.pos >= len(self.text):
            return _EOF
        ch = self.text[self.pos]
        self.pos += 1
        return ch

    def get_env(self, name: str) -> tuple[str, bool]:
        value = self.env.get(name)
        if value is None:
            self.unmatched.add(name)
            return "", False
        self.matched.add(name)
        return value, True

    # -- grammar
    def process_stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        try:
            return self._process_stop_on(stop)
        finally:
            self.raw_escapes = saved

    def _process_stop_on(self, stop: str) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        quotes = not self.lex.skip_process_quotes
        escape = self.lex.escape
        while self.peek() != _EOF:
            ch = self.peek()
            if stop != _EOF and ch == stop:
                self.next()
                return "".join(result), words.get_words()
            if ch == "$":
                tmp = self.process_dollar()
                result.append(tmp)
                words.add_string(tmp)
            elif ch == "<":
                tmp = self.process_possible_heredoc()
                result.append(tmp)
                words.add_raw_string(tmp)
            elif quotes and ch == "'":
                tmp = self.process_single_quote()
                result.append(tmp)
                words.add_raw_string(tmp)
            elif quotes and ch == '"':
                tmp = self.process_double_quote()
                result.append(tmp)
                words.add_raw_string(tmp)
            else:
                ch = self.next()
                if ch == escape:
                    if self.raw_escapes:
                        words.add_raw_char(ch)
                        result.append(ch)
                    ch = self.next()
                    if ch == _EOF:
                        break
                    words.add_raw_char(ch)
                else:
                    words.add_char(ch)
                result.append(ch)
        if stop != _EOF:
            raise _LexError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.get_words()

    def quote_mark(self, out: list[str]) -> None:
        # the opening or closing quote: dropped, or kept with raw_quotes
        ch = self.next()
        if self.lex.raw_quotes:
            out.append(ch)

    def process_single_quote(self) -> str:
        # Everything up to the next ' is literal; a ' cannot be escaped inside.
        out: list[str] = []
        self.quote_mark(out)
        while True:
            if self.peek() == _EOF:
                raise _LexError("unexpected end of statement while looking for matching single-quote")
            if self.peek() == "'":
                self.quote_mark(out)
                return "".join(out)
            out.append(self.next())

    def process_double_quote(self) -> str:
        # `$` expands; the escape token escapes only `"`, `$` and itself, and stays otherwise.
        out: list[str] = []
        escape = self.lex.escape
        self.quote_mark(out)
        while True:
            nxt = self.peek()
            if nxt == _EOF:
                raise _LexError("unexpected end of statement while looking for matching double-quote")
            if nxt == '"':
                self.quote_mark(out)
                return "".join(out)
            if nxt == "$":
                out.append(self.process_dollar())
                continue
            ch = self.next()
            if ch == escape:
                if self.raw_escapes:
                    out.append(ch)
                following = self.peek()
                if following == _EOF:
                    continue
                if following in ('"', "$", escape):
                    ch = self.next()
            out.append(ch)

    def process_dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.process_name()
            if not name:
                return "$"
            value, found = self.get_env(name)
            if not found and self.lex.skip_unset_env:
                return "$" + name
            return value
        self.next()
        nxt = self.peek()
        if nxt == _EOF:
            raise _LexError("syntax error: missing '}'")
        if nxt in ("{", "}", ":"):
            raise _LexError("syntax error: bad substitution")
        name = self.process_name()
        ch = self.next()
        chs = ch or "\ufffd"  # Go prints the EOF rune as U+FFFD
        if ch == "}":
            value, found = self.get_env(name)
            if not found and self.lex.skip_unset_env:
                return "${" + name + "}"
            return value
        if ch in (":", "+", "-", "?", "#", "%"):
            return self._modifier(name, ch, chs)
        if ch == "/":
            return self._replace(name)
        raise _LexError(f"unsupported modifier ({chs}) in substitution")

    def word_until(self, stop: str, raw_escapes: bool, missing: str) -> str:
        # the word inside ${...} up to `stop`; running out of text is reported as `missing`
        try:
            return self.process_stop_on(stop, raw_escapes)[0]
        except _LexError:
            if self.peek() == _EOF:
                raise _LexError(missing) from None
            raise

    def _modifier(self, name: str, ch: str, chs: str) -> str:
        null_is_unset = False
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            chs += ch or "\ufffd"
        raw = ch in ("#", "%")
        if null_is_unset and raw:
            raise _LexError(f"unsupported modifier ({chs}) in substitution")
        word = self.word_until("}", raw, "syntax error: missing '}'")
        value, is_set = self.get_env(name)
        if self.lex.skip_unset_env and not is_set:
            return "${" + name + chs + word + "}"
        empty = not is_set or (null_is_unset and value == "")
        if ch == "-":
            return word if empty else value
        if ch == "+":
            return "" if empty else word
        if ch == "?":
            if not is_set:
                raise _LexError(f"{name}: {word or 'is not allowed to be unset'}")
            if null_is_unset and value == "":
                raise _LexError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if ch in ("%", "#"):
            greedy = word[:1] == ch
            if greedy:
                word = word[1:]
            try:
                return trim_suffix(word, value, greedy) if ch == "%" else trim_prefix(word, value, greedy)
            except PatternError as err:
                raise _LexError(str(err)) from None
        raise _LexError(f"unsupported modifier ({chs}) in substitution")

    def _replace(self, name: str) -> str:
        every = self.peek() == "/"
        if every:
            self.next()
        pattern = self.word_until("/", True, "syntax error: missing '/' in ${}")
        replacement = self.word_until("}", True, "syntax error: missing '}'")
        value, is_set = self.get_env(name)
        if self.lex.skip_unset_env and not is_set:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        try:
            if every:
                return replace_all(pattern, value, replacement)
            return replace_first(pattern, value, replacement)
        except PatternError as err:
            raise _LexError(str(err)) from None

    def process_name(self) -> str:
        # A name: letters, digits, _; or a run of digits; or one special parameter.
        out: list[str] = []
        while self.peek() != _EOF:
            ch = self.peek()
            if not out and is_digit(ch):
                while self.peek() != _EOF and is_digit(self.peek()):
                    out.append(self.next())
                return "".join(out)
            if not out and ch in _SPECIAL_PARAMS:
                return self.next()
            if not is_letter(ch) and not is_digit(ch) and ch != "_":
                break
            out.append(self.next())
        return "".join(out)

    def process_possible_heredoc(self) -> str:
        self.next()
        if self.peek() != "<":
            return "<"
        self.next()
        space: list[str] = []
        while self.peek() in _HEREDOC_SPACE and self.peek() != _EOF:
            space.append(self.next())
        return "<<" + "".join(space)
