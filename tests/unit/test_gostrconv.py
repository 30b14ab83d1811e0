"""gostrconv.parse_bool: Go's spellings, Go's error; the daemon's --icc flag reads it."""

from __future__ import annotations

import pytest

from dockyard.daemon import parse_args
from dockyard.gostrconv import parse_bool


@pytest.mark.parametrize("text", ["1", "t", "T", "TRUE", "true", "True"])
def test_true_spellings(text):
    assert parse_bool(text) is True


@pytest.mark.parametrize("text", ["0", "f", "F", "FALSE", "false", "False"])
def test_false_spellings(text):
    assert parse_bool(text) is False


@pytest.mark.parametrize("text", ["", "yes", "tRUE", " true"])
def test_anything_else_is_gos_error(text):
    with pytest.raises(ValueError, match=f'^strconv.ParseBool: parsing "{text}": invalid syntax$'):
        parse_bool(text)


def test_daemon_icc_flag():
    assert parse_args([]).icc is True
    assert parse_args(["--icc=false"]).icc is False
    with pytest.raises(SystemExit):
        parse_args(["--icc=nope"])
