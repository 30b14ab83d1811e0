"""`--format` for list commands, as docker's cli/command/formatter does it.

"" / "table" → the command's default table; "table TEMPLATE" → a header row (the same
template run over the column names) plus rows, aligned by tabwriter(10, 1, 3); "json" →
one JSON object per row; anything else → the template once per row, each followed by a
newline.  Literal `\\t` and `\\n` in the format become tab and newline first.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Row", "HeaderContext", "format_rows", "preformat", "is_table"]


class Row:
    """Base of per-row template contexts: methods named like docker's placeholders."""

    HEADERS: dict[str, str] = {}
    go_type = "*formatter.Context"

    def to_json(self) -> dict[str, Any]:
        out = {}
        for name in sorted(self.HEADERS):
            fn = getattr(self, name, None)
            if callable(fn):
                try:
                    out[name] = fn()
                except TypeError:
                    continue
        return out


class HeaderContext:
    """What the header row's template runs over: every placeholder gives its column name."""

    go_type = "formatter.SubHeaderContext"

    def __init__(self, headers: dict[str, str]) -> None:
        self._headers = headers

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._headers:
            return self._headers[name]
        from dockyard.cli.gotemplate import MISSING

        return MISSING

    def Label(self, name: str) -> str:  # noqa: N802 - Go method name
        """SubHeaderContext.Label: the key's last dotted part, "-" and "_" as spaces, case kept."""
        return name.split(".")[-1].replace("-", " ").replace("_", " ")


def is_table(fmt: str) -> bool:
    return fmt.startswith("table")


def preformat(fmt: str) -> str:
    """Strip "table", trim spaces, turn literal \\t and \\n into tab and newline."""
    if is_table(fmt):
        fmt = fmt[len("table"):]
    fmt = fmt.strip(" ")
    return fmt.replace("\\t", "\t").replace("\\n", "\n")


def format_rows(fmt: str, rows: list[Row], headers: dict[str, str], default_table: str) -> str:
    """The whole output for `rows` under `fmt` (raises StatusError on a bad template)."""
    from dockyard.cli.command import StatusError
    from dockyard.cli.gotemplate import HEADER_FUNCS, Template, TemplateError

    if fmt in ("", "table"):
        fmt = default_table
    elif fmt == "json":
        fmt = "{{json .}}"
    table = is_table(fmt)
    src = preformat(fmt)
    try:
        tmpl = Template(src)
    except TemplateError as e:
        raise StatusError(f"template parsing error: {e}", 1) from None
    out: list[str] = []
    try:
        for row in rows:
            out.append(tmpl.execute(row))
            out.append("\n")
        if table:
            header = tmpl.execute(HeaderContext(headers), HEADER_FUNCS)
            from dockyard.cli.formatting import tabwrite

            return tabwrite(header + "\n" + "".join(out))
    except TemplateError as e:
        raise StatusError(f"template parsing error: {e}", 1) from None
    return "".join(out)
