"""A Go text/template subset, enough for what docker users write in `--format`.

Supported: text and `{{ }}` actions with `{{-`/`-}}` trimming and `{{/* comments */}}`;
field chains on dicts and objects (`.A.B`, `$.X`, `$v.Y`, `(pipe).Z`), methods with
arguments (`.Label "k"`), pipelines (`a | b`), variables (`$x := ...`, `$x = ...`),
`if`/`else if`/`else`, `range` (lists, dicts sorted by key, ints; `$i, $e :=`; `else`;
`break`/`continue`), `with`/`else with`, `define`/`template`/`block`; constants (strings,
raw strings, chars, numbers, true/false/nil).  Functions: Go's builtins (and, or, not,
len, index, slice, print, printf, println, eq, ne, lt, le, gt, ge, html, js, urlquery,
call) and docker's (json, split, join, title, lower, upper, pad, truncate).

Values print as Go's fmt does: maps as `map[k:v]` (keys sorted), lists as `[a b]`, bools
`true`, nil `<nil>`, a missing map key `<no value>`, floats in Go's %v form.
"""

from .execute import Template, get_field, parse, render
from .funcs import BASIC_FUNCS, HEADER_FUNCS
from .values import MISSING, TemplateError, go_quote, go_sprintf, go_str

__all__ = [
    "MISSING",
    "Template",
    "TemplateError",
    "parse",
    "render",
    "get_field",
    "go_str",
    "go_quote",
    "go_sprintf",
    "BASIC_FUNCS",
    "HEADER_FUNCS",
]
