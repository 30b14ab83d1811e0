"""Wildcard patterns of ${VAR#pat} / ${VAR%pat} / ${VAR/pat/repl}: Go's regexp results, linear time."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.build.shell_pattern import (
    PatternError,
    replace_all,
    replace_first,
    reverse_pattern,
    trim_prefix,
    trim_suffix,
)


@pytest.mark.parametrize(
    ("pattern", "value", "longest", "expected"),
    [
        ("*/", "/usr/local/bin", False, "usr/local/bin"),
        ("*/", "/usr/local/bin", True, "bin"),
        ("?", "abc", False, "bc"),
        ("", "abc", True, "abc"),
        ("*", "abc", False, "abc"),
        ("*", "abc", True, ""),
        ("a*c", "abcabc", False, "abc"),
        ("a*c", "abcabc", True, ""),
        ("x", "abc", True, "abc"),
        ("\\*", "*star", False, "star"),
        ("\\?", "?q", False, "q"),
        ("\\\\", "\\back", False, "back"),
        ("*", "line1\nline2", True, "\nline2"),  # like Go's `.`, a star stops at a newline
        ("?", "\nx", False, "\nx"),
    ],
)
def test_trim_prefix(pattern: str, value: str, longest: bool, expected: str) -> None:
    assert trim_prefix(pattern, value, longest) == expected


@pytest.mark.parametrize(
    ("pattern", "value", "longest", "expected"),
    [
        (".*", "archive.tar.gz", False, "archive.tar"),
        (".*", "archive.tar.gz", True, "archive"),
        ("/*", "/usr/local/bin", False, "/usr/local"),
        ("a\\*", "xa*", False, "x"),
    ],
)
def test_trim_suffix(pattern: str, value: str, longest: bool, expected: str) -> None:
    assert trim_suffix(pattern, value, longest) == expected


def test_reverse_pattern_keeps_escapes() -> None:
    assert reverse_pattern("a\\*c") == "c\\*a"
    assert reverse_pattern("ab\\") == "\\ba"


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("b", "abcabc", "a-cabc"),
        ("b*", "abcabc", "a-"),
        ("?", "", ""),
        ("", "ab", "-ab"),
        ("x", "abc", "abc"),
    ],
)
def test_replace_first(pattern: str, value: str, expected: str) -> None:
    assert replace_first(pattern, value, "-") == expected


@pytest.mark.parametrize(
    ("pattern", "value", "template", "expected"),
    [
        ("b", "abcabc", "-", "a-ca-c"),
        ("", "abc", "-", "-a-b-c-"),
        ("*", "abc", "-", "-"),  # Go: no second, empty match right after the first
        ("?", "ab", "<$0>", "<a><b>"),
        ("?", "ab", "<${0}>", "<a><b>"),
        ("?", "ab", "$1|", "||"),  # a group the pattern does not have is empty
        ("?", "ab", "$$", "$$"),
        ("?", "ab", "$", "$$"),  # a malformed reference stays as text
        ("?", "ab", "${0", "${0${0"),
    ],
)
def test_replace_all(pattern: str, value: str, template: str, expected: str) -> None:
    assert replace_all(pattern, value, template) == expected


@pytest.mark.parametrize("pattern", ["\\x", "a\\", "\\}x\\q"])
def test_invalid_escapes(pattern: str) -> None:
    with pytest.raises(PatternError) as caught:
        trim_prefix(pattern, "abc", False)
    assert str(caught.value).startswith(f"invalid pattern ({pattern}) in substitution: invalid escape '\\")


def test_escaped_brace_and_slash_are_literal() -> None:
    assert replace_all("\\/", "/a/b", ":") == ":a:b"
    assert trim_prefix("\\}", "}x", False) == "x"


def test_adversarial_patterns_finish() -> None:
    # a backtracking regex engine needs hours for these; Go's RE2 and this NFA are linear
    value = "a" * 5000
    assert replace_all("*a*a*a*a*a*b", value, "-") == value
    assert trim_prefix("*a*a*a*a*c", value, True) == value
    assert trim_suffix("a*a*a*a*a*b", value, False) == value
    assert replace_first("a*a*a*a*a", value, "-") == "-"


def _as_regex(pattern: str, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """What buildkit compiles the pattern to (Python's `re` has the same leftmost-first results)."""
    out = ["^"] if anchored else []
    i = 0
    while i < len(pattern):
        tok = pattern[i]
        i += 1
        if tok == "*":
            out.append(".*" if greedy else ".*?")
        elif tok == "?":
            out.append(".")
        elif tok == "\\":
            i += 1
            out.append(re.escape(pattern[i - 1]))
        else:
            out.append(re.escape(tok))
    return re.compile("".join(out))


patterns = st.lists(st.sampled_from(["a", "b", "*", "?", "\\*", "\\?", "\\\\", "\n"]), max_size=6).map(
    "".join
)
values = st.text(alphabet="ab*?\\\n", max_size=10)


@settings(max_examples=500, deadline=None)
@given(patterns, values, st.booleans())
def test_same_results_as_go_regexp(pattern: str, value: str, longest: bool) -> None:
    m = _as_regex(pattern, longest, True).search(value)
    assert trim_prefix(pattern, value, longest) == (value[m.end() :] if m else value)
    m = _as_regex(pattern, True, False).search(value)
    assert replace_first(pattern, value, "R") == (value[: m.start()] + "R" + value[m.end() :] if m else value)
