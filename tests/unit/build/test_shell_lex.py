"""ShellLex: Docker's word lexer (quote removal, $VAR expansion, word splitting), table-driven."""

from __future__ import annotations

import pytest

from dockyard.build.errors import DockerfileError
from dockyard.build.shell_lex import ShellLex

ENV = {
    "HOME": "/root",
    "SHELL": "ash",
    "EMPTY": "",
    "GREETING": "안녕",
    "TWO": "a  b",
    "PAD": "  x y  ",
    "PATHV": "/usr/local/bin",
    "FILE": "archive.tar.gz",
    "REPEAT": "abcabc",
}

# (word, expected result); None: the word is an error
WORDS = [
    # plain text, quotes, escapes
    ("plain", "plain"),
    ("two words", "two words"),
    ("it's", None),
    ("it\\'s", "it's"),
    ("say'hi'there", "sayhithere"),
    ('say"hi"there', "sayhithere"),
    ("'single $HOME'", "single $HOME"),
    ("'back\\slash'", "back\\slash"),
    ("'ends with\\'", "ends with\\"),
    ('"double $HOME"', "double /root"),
    ('"keeps \\t and \\n"', "keeps \\t and \\n"),
    ('"escaped \\" quote"', 'escaped " quote'),
    ('"escaped \\$HOME"', "escaped $HOME"),
    ('"escaped \\\\ backslash"', "escaped \\ backslash"),
    ('"no end', None),
    ('"escape at end\\"', None),
    ("'no end", None),
    ("a\\tb", "atb"),
    ("trailing\\", "trailing"),
    ("double\\\\", "double\\"),
    ("\\\\'x", None),
    ('"it\'s"', "it's"),
    ("'\"quoted\"'", '"quoted"'),
    # $VAR
    ("$HOME", "/root"),
    ("${HOME}", "/root"),
    ("pre${HOME}post", "pre/rootpost"),
    ("$HOME/bin", "/root/bin"),
    ("$HOMEX", ""),
    ("$UNSET", ""),
    ("${UNSET}", ""),
    ("x${UNSET}y", "xy"),
    ("\\$HOME", "$HOME"),
    ("\\\\$HOME", "\\/root"),
    ("$", "$"),
    ("a$", "a$"),
    ("$.x", "$.x"),
    ("$-", ""),
    ("$9z", "z"),
    ("$12z", "z"),
    ("${12}z", "z"),
    ("$GREETING!", "안녕!"),
    ("$안녕", ""),
    ("${}", None),
    ("${:}", None),
    ("${{HOME}", None),
    ("${HOME", None),
    ("${.}", None),
    ("${HOME}}", "/root}"),
    ("\\${}", "${}"),
    # defaults and alternatives
    ("${UNSET:-dflt}", "dflt"),
    ("${EMPTY:-dflt}", "dflt"),
    ("${HOME:-dflt}", "/root"),
    ("${UNSET-dflt}", "dflt"),
    ("${EMPTY-dflt}", ""),
    ("${UNSET:-$HOME}", "/root"),
    ("${UNSET:-${ALSO:-deep}}", "deep"),
    ("${UNSET:-a b}", "a b"),
    ("${UNSET:-{x}", "{x"),
    ("${UNSET:-\\}}", "}"),
    ("${UNSET:-\\$HOME}", "$HOME"),
    ("${UNSET:-", None),
    ("${HOME:+alt}", "alt"),
    ("${EMPTY:+alt}", ""),
    ("${EMPTY+alt}", "alt"),
    ("${UNSET+alt}", ""),
    ("${HOME:+${SHELL}}", "ash"),
    ("${HOME?}", "/root"),
    ("${EMPTY?}", ""),
    ("${HOME:?}", "/root"),
    ("${UNSET?}", None),
    ("${EMPTY:?}", None),
    ("${HOME:=x}", None),
    ("${HOME:x}", None),
    ("${1:-one}", "one"),
    ("${@:-at}", "at"),
    # pattern operations
    ("${FILE#*.}", "tar.gz"),
    ("${FILE##*.}", "gz"),
    ("${FILE%.*}", "archive.tar"),
    ("${FILE%%.*}", "archive"),
    ("${FILE#nomatch}", "archive.tar.gz"),
    ("${FILE%?z}", "archive.tar."),
    ("${PATHV##*/}", "bin"),
    ("${PATHV%/*}", "/usr/local"),
    ("${REPEAT/b/B}", "aBcabc"),
    ("${REPEAT//b/B}", "aBcaBc"),
    ("${REPEAT/x/B}", "abcabc"),
    ("${REPEAT//?/-}", "------"),
    ("${REPEAT//*/-}", "-"),
    ("${PATHV//\\//:}", ":usr:local:bin"),
    ("${UNSET//a/b}", ""),
    ("${FILE#\\q}", None),
    ("${HOME:#x}", None),
    ("${REPEAT/b", None),
    ("${REPEAT/b/c", None),
]


@pytest.mark.parametrize(("word", "expected"), WORDS)
def test_process_word(word: str, expected: str | None) -> None:
    lex = ShellLex()
    if expected is None:
        with pytest.raises(DockerfileError):
            lex.process_word(word, ENV)
    else:
        assert lex.process_word(word, ENV) == expected


ERRORS = [
    ("${UNSET?}", 'failed to process "${UNSET?}": UNSET: is not allowed to be unset'),
    ("${EMPTY:?}", 'failed to process "${EMPTY:?}": EMPTY: is not allowed to be empty'),
    ("${UNSET:?set it $SHELL}", 'failed to process "${UNSET:?set it $SHELL}": UNSET: set it ash'),
    ("${EMPTY:?say so}", 'failed to process "${EMPTY:?say so}": EMPTY: say so'),
    (
        "'abc",
        'failed to process "\'abc": unexpected end of statement while looking for matching single-quote',
    ),
    (
        '"abc',
        'failed to process "\\"abc": unexpected end of statement while looking for matching double-quote',
    ),
    ("${}", 'failed to process "${}": syntax error: bad substitution'),
    ("${HOME", 'failed to process "${HOME": unsupported modifier (\ufffd) in substitution'),
    ("${HOME:-x", "failed to process \"${HOME:-x\": syntax error: missing '}'"),
    ("${HOME=x}", 'failed to process "${HOME=x}": unsupported modifier (=) in substitution'),
    ("${HOME:#x}", 'failed to process "${HOME:#x}": unsupported modifier (:#) in substitution'),
    ("${HOME/x", "failed to process \"${HOME/x\": syntax error: missing '/' in ${}"),
    (
        "${FILE#a\\b}",
        "failed to process \"${FILE#a\\\\b}\": invalid pattern (a\\b) in substitution: invalid escape '\\b'",
    ),
    ("tab\t${}", 'failed to process "tab\\t${}": syntax error: bad substitution'),
]


@pytest.mark.parametrize(("word", "message"), ERRORS)
def test_error_messages(word: str, message: str) -> None:
    with pytest.raises(DockerfileError) as caught:
        ShellLex().process_word(word, ENV)
    assert str(caught.value) == message
    assert caught.value.line == 0


# (word, expected words)
SPLITS = [
    ("a b  c", ["a", "b", "c"]),
    ("  lead and trail  ", ["lead", "and", "trail"]),
    ("$TWO", ["a", "b"]),
    ('"$TWO"', ["a  b"]),
    ("x$TWO", ["xa", "b"]),
    ("x${PAD}y", ["x", "x", "y", "y"]),
    ('x"${PAD}"y', ["x  x y  y"]),
    ("one\\ word", ["one word"]),
    ('quote\\" split', ['quote"', "split"]),
    ("'a b' c", ["a b", "c"]),
    ("a '' b", ["a", "b"]),
    ("''", []),
    ("", []),
    ("${UNSET}", []),
    ("tab\tsep", ["tab", "sep"]),
    ("a<<  EOF b", ["a<<  EOF", "b"]),
    ("${UNSET:-x y}", ["x", "y"]),
]


@pytest.mark.parametrize(("word", "expected"), SPLITS)
def test_process_words(word: str, expected: list[str]) -> None:
    assert ShellLex().process_words(word, ENV) == expected


def test_process_word_keeps_spaces_that_process_words_splits() -> None:
    lex = ShellLex()
    assert lex.process_word("a  $TWO", ENV) == "a  a  b"
    assert lex.process_words("a  $TWO", ENV) == ["a", "a", "b"]


def test_backtick_escape() -> None:
    lex = ShellLex("`")
    assert lex.process_word("c:\\dir\\file", ENV) == "c:\\dir\\file"
    assert lex.process_word("`$HOME", ENV) == "$HOME"
    assert lex.process_word('"a`"b"', ENV) == 'a"b'
    assert lex.process_word("it`'s", ENV) == "it's"
    assert lex.process_words("one` word two", ENV) == ["one word", "two"]


def test_matched_and_unmatched_names() -> None:
    result = ShellLex().process("${HOME} $UNSET ${EMPTY:-x} ${OTHER+y}", ENV)
    assert result.result == "/root  x "
    assert result.matched == {"HOME", "EMPTY"}
    assert result.unmatched == {"UNSET", "OTHER"}


def test_skip_unset_env_keeps_references() -> None:
    lex = ShellLex(skip_unset_env=True)
    assert (
        lex.process_word("$HOME $NOPE ${NOPE} ${NOPE:-d} ${NOPE#x} ${NOPE/a/b}", ENV)
        == "/root $NOPE ${NOPE} ${NOPE:-d} ${NOPE#x} ${NOPE/a/b}"
    )


def test_raw_quotes_and_escapes() -> None:
    lex = ShellLex(raw_quotes=True, raw_escapes=True)
    assert lex.process_word("'a b' \"c\\\"d\" e\\ f", ENV) == "'a b' \"c\\\"d\" e\\ f"
    assert lex.process_words("'a b' c", ENV) == ["'a b'", "c"]


def test_skip_process_quotes() -> None:
    lex = ShellLex(skip_process_quotes=True)
    assert lex.process_word("'$HOME' \"$SHELL\"", ENV) == "'/root' \"ash\""


def test_env_is_any_mapping() -> None:
    class Lookup(dict[str, str]):
        pass

    assert ShellLex().process_word("$A-$B", Lookup(A="1")) == "1-"
