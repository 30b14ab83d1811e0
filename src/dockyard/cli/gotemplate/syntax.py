"""Lexing and parsing templates into tuple nodes ("kind", ...)."""

from __future__ import annotations

from .values import TemplateError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# ---------------------------------------------------------------------------------------
# Lexing

_KEYWORDS = frozenset({"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"})
_SPACE = " \t\r\n"


def _is_ident_char(c: str) -> bool:
    return c.isalnum() or c == "_"


class _Tok:
    __slots__ = ("kind", "val", "space", "pos")

    def __init__(self, kind: str, val: Any, space: bool, pos: int) -> None:
        self.kind = kind  # field var dot ident const lparen rparen pipe comma decl assign
        self.val = val
        self.space = space  # preceded by whitespace
        self.pos = pos

    def __repr__(self) -> str:
        return f"{self.kind}:{self.val!r}"


def _unquote_go(s: str, pos: int) -> str:
    out = []
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        i += 1
        if i >= n:
            raise TemplateError(f"unterminated quoted string at {pos}")
        e = s[i]
        i += 1
        simple = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a", "b": "\b",
                  "f": "\f", "v": "\v"}
        if e in simple:
            out.append(simple[e])
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            hexs = s[i:i + width]
            i += width
            try:
                cp = int(hexs, 16)
            except ValueError:
                raise TemplateError(f"invalid syntax in string: {s!r}") from None
            out.append(chr(cp))
        elif e in "01234567":
            octs = s[i - 1:i + 2]
            i += 2
            out.append(chr(int(octs, 8)))
        else:
            raise TemplateError(f"invalid syntax in string: {s!r}")
    return "".join(out)


def _parse_number(text: str) -> Any:
    t = text.replace("_", "")
    try:
        if t.lower().startswith(("0x", "-0x", "+0x", "0o", "0b")):
            return int(t, 0)
        if any(c in t for c in ".eE") and not t.lower().startswith("0x"):
            return float(t)
        if len(t.lstrip("+-")) > 1 and t.lstrip("+-").startswith("0"):
            return int(t, 8)
        return int(t)
    except ValueError:
        raise TemplateError(f"bad number syntax: {text!r}") from None


def _lex_action(src: str, i: int, line: int) -> tuple[list[_Tok], int, bool]:
    """Tokens of one action starting after "{{" (and any "- "); returns (tokens, end index, trim right)."""
    toks: list[_Tok] = []
    n = len(src)
    space = True
    while True:
        if i >= n:
            raise TemplateError(f"template: :{line}: unclosed action")
        c = src[i]
        if c in _SPACE:
            # " -}}" trims; "}}" after spaces ends
            j = i
            while j < n and src[j] in _SPACE:
                j += 1
            if src.startswith("-}}", j) and j > i:
                return toks, j + 3, True
            i = j
            space = True
            continue
        if src.startswith("}}", i):
            return toks, i + 2, False
        start = i
        if c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                if src[j] == "\\":
                    j += 1
                if j < n and src[j] == "\n":
                    raise TemplateError(f"template: :{line}: unterminated quoted string")
                j += 1
            if j >= n:
                raise TemplateError(f"template: :{line}: unterminated quoted string")
            toks.append(_Tok("const", _unquote_go(src[i + 1:j], i), space, start))
            i = j + 1
        elif c == "`":
            j = src.find("`", i + 1)
            if j < 0:
                raise TemplateError(f"template: :{line}: unterminated raw quoted string")
            toks.append(_Tok("const", src[i + 1:j], space, start))
            i = j + 1
        elif c == "'":
            j = i + 1
            while j < n and src[j] != "'":
                if src[j] == "\\":
                    j += 1
                j += 1
            ch = _unquote_go(src[i + 1:j], i)
            if len(ch) != 1:
                raise TemplateError(f"template: :{line}: malformed character constant")
            toks.append(_Tok("const", ord(ch), space, start))
            i = j + 1
        elif c == "(":
            toks.append(_Tok("lparen", "(", space, start))
            i += 1
        elif c == ")":
            toks.append(_Tok("rparen", ")", space, start))
            i += 1
        elif c == "|":
            toks.append(_Tok("pipe", "|", space, start))
            i += 1
        elif c == ",":
            toks.append(_Tok("comma", ",", space, start))
            i += 1
        elif c == ":" and src.startswith(":=", i):
            toks.append(_Tok("decl", ":=", space, start))
            i += 2
        elif c == "=":
            toks.append(_Tok("assign", "=", space, start))
            i += 1
        elif c == "." and (i + 1 >= n or not _is_ident_char(src[i + 1])):
            if i + 1 < n and src[i + 1].isdigit():
                pass
            toks.append(_Tok("dot", ".", space, start))
            i += 1
        elif c == ".":
            names = []
            while i < n and src[i] == "." and i + 1 < n and _is_ident_char(src[i + 1]):
                j = i + 1
                while j < n and _is_ident_char(src[j]):
                    j += 1
                names.append(src[i + 1:j])
                i = j
            toks.append(_Tok("field", names, space, start))
        elif c == "$":
            j = i + 1
            while j < n and _is_ident_char(src[j]):
                j += 1
            toks.append(_Tok("var", src[i:j], space, start))
            i = j
        elif c.isdigit() or (c in "+-" and i + 1 < n and src[i + 1].isdigit()):
            j = i + 1
            while j < n and (src[j].isalnum() or src[j] in "._" or (src[j] in "+-" and src[j - 1] in "eEpP")):
                j += 1
            toks.append(_Tok("const", _parse_number(src[i:j]), space, start))
            i = j
        elif c.isalpha() or c == "_":
            j = i
            while j < n and _is_ident_char(src[j]):
                j += 1
            word = src[i:j]
            if word == "true":
                toks.append(_Tok("const", True, space, start))
            elif word == "false":
                toks.append(_Tok("const", False, space, start))
            elif word == "nil":
                toks.append(_Tok("nil", None, space, start))
            else:
                toks.append(_Tok("ident", word, space, start))
            i = j
        else:
            raise TemplateError(f"template: :{line}: unexpected {c!r} in command")
        space = False
        # a field chain may follow a term directly: (x).Field, $v.Field
        if i < n and src[i] == "." and i + 1 < n and _is_ident_char(src[i + 1]) and toks[-1].kind in ("rparen", "var"):
            names = []
            while i < n and src[i] == "." and i + 1 < n and _is_ident_char(src[i + 1]):
                j = i + 1
                while j < n and _is_ident_char(src[j]):
                    j += 1
                names.append(src[i + 1:j])
                i = j
            toks.append(_Tok("chain", names, False, i))


# ---------------------------------------------------------------------------------------
# Parsing: nodes are tuples, ("kind", ...)


class _Parser:
    def __init__(self, src: str) -> None:
        self.src = src
        self.defines: dict[str, list] = {}

    def parse(self) -> list:
        items = self._items()
        self.items = items
        self.pos = 0
        body, end = self._list(())
        if end is not None:
            raise TemplateError(f"template: :{end[2]}: unexpected {{{{{end[0]}}}}}")
        return body

    def _items(self) -> list:
        """Split into ("text", s) and ("action", toks, line) items, applying trim markers."""
        src = self.src
        out: list = []
        i = 0
        n = len(src)
        trim_next = False
        while i < n:
            j = src.find("{{", i)
            text = src[i:] if j < 0 else src[i:j]
            if trim_next:
                text = text.lstrip(_SPACE)
            if j < 0:
                if text:
                    out.append(("text", text))
                break
            k = j + 2
            trim_left = src.startswith("-", k) and k + 1 < n and src[k + 1] in _SPACE
            if trim_left:
                text = text.rstrip(_SPACE)
                k += 2
            if text:
                out.append(("text", text))
            line = src.count("\n", 0, j) + 1
            # comment
            m = k
            while m < n and src[m] in _SPACE and trim_left:
                m += 1
            if src.startswith("/*", m):
                end = src.find("*/", m + 2)
                if end < 0:
                    raise TemplateError(f"template: :{line}: unclosed comment")
                e = end + 2
                trim_next = False
                if src.startswith(" -}}", e):
                    trim_next = True
                    e += 4
                elif src.startswith("}}", e):
                    e += 2
                else:
                    raise TemplateError(f"template: :{line}: comment ends before closing delimiter")
                i = e
                continue
            toks, i, trim_next = _lex_action(src, k, line)
            out.append(("action", toks, line))
        return out

    def _list(self, terminators: tuple[str, ...]) -> tuple[list, tuple | None]:
        """Nodes until one of the keyword actions in `terminators` (returned, consumed)."""
        nodes: list = []
        while self.pos < len(self.items):
            item = self.items[self.pos]
            self.pos += 1
            if item[0] == "text":
                nodes.append(item)
                continue
            toks, line = item[1], item[2]
            if not toks:
                raise TemplateError(f"template: :{line}: missing value for command")
            head = toks[0]
            kw = head.val if head.kind == "ident" and head.val in _KEYWORDS else None
            if kw in ("end", "else"):
                if kw not in terminators:
                    raise TemplateError(f"template: :{line}: unexpected {{{{{kw}}}}}")
                return nodes, (kw, toks[1:], line)
            if kw in ("if", "with", "range"):
                nodes.append(self._control(kw, toks[1:], line))
            elif kw in ("break", "continue"):
                nodes.append((kw,))
            elif kw in ("define", "block"):
                if len(toks) < 2 or toks[1].kind != "const" or not isinstance(toks[1].val, str):
                    raise TemplateError(f"template: :{line}: {kw} clause requires a name")
                name = toks[1].val
                body, end = self._list(("end",))
                if end is None:
                    raise TemplateError(f"template: :{line}: unexpected EOF")
                self.defines[name] = body
                if kw == "block":
                    pipe = self._pipeline(toks[2:], line) if len(toks) > 2 else None
                    nodes.append(("template", name, pipe, line))
            elif kw == "template":
                if len(toks) < 2 or toks[1].kind != "const" or not isinstance(toks[1].val, str):
                    raise TemplateError(f"template: :{line}: template clause requires a name")
                pipe = self._pipeline(toks[2:], line) if len(toks) > 2 else None
                nodes.append(("template", toks[1].val, pipe, line))
            else:
                nodes.append(("action", self._pipeline(toks, line), line))
        return nodes, None

    def _control(self, kw: str, toks: list[_Tok], line: int) -> tuple:
        pipe = self._pipeline(toks, line, allow_decl=True, is_range=kw == "range")
        body, end = self._list(("end", "else"))
        if end is None:
            raise TemplateError(f"template: :{line}: unexpected EOF")
        else_body: list = []
        if end[0] == "else":
            rest = end[1]
            if rest and rest[0].kind == "ident" and rest[0].val in ("if", "with") and kw != "range":
                # {{else if ...}}: an if nested in the else branch, sharing the {{end}}
                else_body = [self._control(rest[0].val, rest[1:], end[2])]
            else:
                if rest:
                    raise TemplateError(f"template: :{end[2]}: unexpected token in else")
                else_body, end2 = self._list(("end",))
                if end2 is None:
                    raise TemplateError(f"template: :{line}: unexpected EOF")
        return (kw, pipe, body, else_body, line)

    def _pipeline(self, toks: list[_Tok], line: int, allow_decl: bool = True, is_range: bool = False) -> tuple:
        decl: list[str] = []
        assign = False
        # $x := ..., $i, $e := ..., $x = ...
        if toks and toks[0].kind == "var":
            if len(toks) > 1 and toks[1].kind in ("decl", "assign"):
                decl = [toks[0].val]
                assign = toks[1].kind == "assign"
                toks = toks[2:]
            elif is_range and len(toks) > 3 and toks[1].kind == "comma" and toks[2].kind == "var" \
                    and toks[3].kind in ("decl", "assign"):
                decl = [toks[0].val, toks[2].val]
                assign = toks[3].kind == "assign"
                toks = toks[4:]
        cmds: list[list] = []
        cur: list[_Tok] = []
        depth = 0
        for t in toks:
            if t.kind == "lparen":
                depth += 1
            elif t.kind == "rparen":
                depth -= 1
            if t.kind == "pipe" and depth == 0:
                if not cur:
                    raise TemplateError(f"template: :{line}: missing command")
                cmds.append(self._command(cur, line))
                cur = []
            else:
                cur.append(t)
        if cur:
            cmds.append(self._command(cur, line))
        if not cmds:
            raise TemplateError(f"template: :{line}: missing value for command")
        return (decl, assign, cmds)

    def _command(self, toks: list[_Tok], line: int) -> list:
        args: list = []
        i = 0
        while i < len(toks):
            t = toks[i]
            if t.kind == "lparen":
                depth = 1
                j = i + 1
                while j < len(toks) and depth:
                    if toks[j].kind == "lparen":
                        depth += 1
                    elif toks[j].kind == "rparen":
                        depth -= 1
                    j += 1
                if depth:
                    raise TemplateError(f"template: :{line}: unclosed left paren")
                node: tuple = ("pipe", self._pipeline(toks[i + 1:j - 1], line))
                i = j
            elif t.kind == "rparen":
                raise TemplateError(f"template: :{line}: unexpected right paren")
            elif t.kind == "field":
                node = ("field", t.val)
                i += 1
            elif t.kind == "var":
                node = ("var", t.val)
                i += 1
            elif t.kind == "dot":
                node = ("dot",)
                i += 1
            elif t.kind == "const":
                node = ("const", t.val)
                i += 1
            elif t.kind == "nil":
                node = ("nil",)
                i += 1
            elif t.kind == "ident":
                if t.val in _KEYWORDS:
                    raise TemplateError(f"template: :{line}: unexpected <{t.val}> in command")
                node = ("ident", t.val)
                i += 1
            else:
                raise TemplateError(f"template: :{line}: unexpected {t.val!r} in command")
            if i < len(toks) and toks[i].kind == "chain":
                node = ("chain", node, toks[i].val)
                i += 1
            args.append(node)
        return args
