"""Running a parsed template over data."""

from __future__ import annotations

from .funcs import BASIC_FUNCS, _truth
from .syntax import _Parser
from .values import MISSING, TemplateError, _Break, _Continue, _sort_key, go_str

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


# ---------------------------------------------------------------------------------------
# Execution


class Template:
    """A parsed template; `execute(data)` returns the text."""

    def __init__(self, src: str, funcs: dict[str, Callable[..., Any]] | None = None) -> None:
        self.src = src
        self.funcs = dict(BASIC_FUNCS if funcs is None else funcs)
        p = _Parser(src)
        self.root = p.parse()
        self.defines = p.defines
        self._check_funcs(self.root)
        for body in self.defines.values():
            self._check_funcs(body)

    def _check_funcs(self, nodes: list) -> None:
        """Go rejects unknown functions at parse time: `function "foo" not defined`."""
        def pipe(p: tuple | None) -> None:
            if p is None:
                return
            for cmd in p[2]:
                for arg in cmd:
                    operand(arg)

        def operand(a: tuple) -> None:
            if a[0] == "ident" and a[1] not in self.funcs:
                raise TemplateError(f'template: :1: function "{a[1]}" not defined')
            if a[0] == "pipe":
                pipe(a[1])
            if a[0] == "chain":
                operand(a[1])

        for n in nodes:
            if n[0] == "action":
                pipe(n[1])
            elif n[0] in ("if", "with", "range"):
                pipe(n[1])
                self._check_funcs(n[2])
                self._check_funcs(n[3])
            elif n[0] == "template":
                pipe(n[2])

    def execute(self, data: Any, funcs: dict[str, Callable[..., Any]] | None = None) -> str:
        out: list[str] = []
        ex = _Exec(self, funcs or self.funcs, out)
        ex.walk(self.root, data, [("$", data)])
        return "".join(out)


class _Exec:
    def __init__(self, tmpl: Template, funcs: dict[str, Callable[..., Any]], out: list[str]) -> None:
        self.tmpl = tmpl
        self.funcs = funcs
        self.out = out
        self.depth = 0

    def walk(self, nodes: list, dot: Any, vars: list[tuple[str, Any]]) -> None:
        mark = len(vars)
        for node in nodes:
            kind = node[0]
            if kind == "text":
                self.out.append(node[1])
            elif kind == "action":
                decl = node[1][0]
                val = self.pipe(node[1], dot, vars)
                if not decl:
                    self.out.append(go_str(val))
            elif kind == "if":
                _, pipe, body, els, _line = node
                if _truth(self.pipe(pipe, dot, vars)):
                    self.walk(body, dot, vars)
                else:
                    self.walk(els, dot, vars)
            elif kind == "with":
                _, pipe, body, els, _line = node
                val = self.pipe(pipe, dot, vars)
                if _truth(val):
                    self.walk(body, val, vars)
                else:
                    self.walk(els, dot, vars)
            elif kind == "range":
                self.range(node, dot, vars)
            elif kind == "break":
                raise _Break
            elif kind == "continue":
                raise _Continue
            elif kind == "template":
                _, name, pipe, line = node
                body = self.tmpl.defines.get(name)
                if body is None:
                    raise TemplateError(f'template: :{line}: no such template "{name}"')
                self.depth += 1
                if self.depth > 100:
                    raise TemplateError("template: exceeded maximum template depth (100000)")
                val = self.pipe(pipe, dot, vars) if pipe else None
                self.walk(body, val, [("$", val)])
                self.depth -= 1
        del vars[mark:]

    def range(self, node: tuple, dot: Any, vars: list[tuple[str, Any]]) -> None:
        _, pipe, body, els, line = node
        decl = pipe[0]
        val = self.pipe((([], False, pipe[2])), dot, vars)
        if val is None or val is MISSING:
            items: list[tuple[Any, Any]] = []
        elif isinstance(val, dict):
            items = [(k, val[k]) for k in sorted(val, key=_sort_key)]
        elif isinstance(val, (list, tuple, str)):
            items = list(enumerate(val if not isinstance(val, str) else []))
            if isinstance(val, str):
                raise TemplateError(f"template: :{line}: range can't iterate over {val}")
        elif isinstance(val, int) and not isinstance(val, bool):
            items = [(i, i) for i in range(val)]
        else:
            raise TemplateError(f"template: :{line}: range can't iterate over {go_str(val)}")
        if not items:
            self.walk(els, dot, vars)
            return
        for k, v in items:
            mark = len(vars)
            if len(decl) == 1:
                vars.append((decl[0], v))
            elif len(decl) == 2:
                vars.append((decl[0], k))
                vars.append((decl[1], v))
            try:
                self.walk(body, v, vars)
            except _Break:
                del vars[mark:]
                break
            except _Continue:
                pass
            del vars[mark:]

    def pipe(self, pipe: tuple, dot: Any, vars: list[tuple[str, Any]]) -> Any:
        decl, assign, cmds = pipe
        val: Any = MISSING
        first = True
        for cmd in cmds:
            val = self.command(cmd, dot, vars, None if first else val, not first)
            first = False
        for name in decl:
            if assign:
                for idx in range(len(vars) - 1, -1, -1):
                    if vars[idx][0] == name:
                        vars[idx] = (name, val)
                        break
                else:
                    raise TemplateError(f"undefined variable: {name}")
            else:
                vars.append((name, val))
        return val

    def command(self, cmd: list, dot: Any, vars: list, piped: Any, has_piped: bool) -> Any:
        head = cmd[0]
        extra = [self.arg(a, dot, vars) for a in cmd[1:]]
        if has_piped:
            extra.append(piped)
        if head[0] == "ident":
            fn = self.funcs[head[1]]
            if head[1] in ("and", "or") and not has_piped:
                # short-circuit like Go 1.18+
                pass
            try:
                return fn(*[None if a is MISSING and head[1] not in ("eq", "ne") else a for a in extra])
            except TemplateError:
                raise
            except TypeError as e:
                raise TemplateError(f"error calling {head[1]}: {e}") from None
            except (ValueError, KeyError, IndexError) as e:
                raise TemplateError(f"error calling {head[1]}: {e}") from None
        if head[0] in ("field", "chain") or (head[0] == "var" and extra):
            return self.operand(head, dot, vars, extra, final_call=True)
        if extra:
            raise TemplateError(f"can't give argument to non-function {self._describe(head)}")
        return self.arg(head, dot, vars)

    def _describe(self, node: tuple) -> str:
        if node[0] == "const":
            return go_str(node[1])
        if node[0] == "dot":
            return "."
        return str(node[1]) if len(node) > 1 else node[0]

    def arg(self, node: tuple, dot: Any, vars: list) -> Any:
        kind = node[0]
        if kind == "const":
            return node[1]
        if kind == "nil":
            return None
        if kind == "dot":
            return dot
        if kind == "ident":
            return self.funcs[node[1]]()
        return self.operand(node, dot, vars, [], final_call=False)

    def lookup_var(self, name: str, vars: list) -> Any:
        for n, v in reversed(vars):
            if n == name:
                return v
        raise TemplateError(f"undefined variable: {name}")

    def operand(self, node: tuple, dot: Any, vars: list, args: list, final_call: bool) -> Any:
        kind = node[0]
        if kind == "field":
            return self.fields(dot, node[1], args)
        if kind == "var":
            base = self.lookup_var(node[1], vars)
            if args:
                raise TemplateError(f"can't give argument to non-function {node[1]}")
            return base
        if kind == "pipe":
            return self.pipe(node[1], dot, vars)
        if kind == "chain":
            base = self.arg(node[1], dot, vars)
            return self.fields(base, node[2], args)
        return self.arg(node, dot, vars)

    def fields(self, obj: Any, names: list[str], args: list) -> Any:
        for i, name in enumerate(names):
            last = i == len(names) - 1
            obj = get_field(obj, name, args if last else [], names[: i + 1])
        return obj


def get_field(obj: Any, name: str, args: list, path: list[str] | None = None) -> Any:
    """`.Name` on a map (missing key → MISSING) or an object (attribute or method)."""
    if isinstance(obj, dict):
        if args:
            raise TemplateError(f"can't give argument to non-function .{name}")
        return obj.get(name, MISSING)
    if obj is None or obj is MISSING:
        where = "." + ".".join(path or [name])
        raise TemplateError(f"template: :1: executing \"\" at <{where}>: nil pointer evaluating interface {{}}.{name}")
    if name[:1].isalpha() and not isinstance(obj, (str, int, float, list, tuple)):
        attr = getattr(obj, name, MISSING)
        if attr is not MISSING:
            if callable(attr):
                try:
                    return attr(*args)
                except TypeError as e:
                    raise TemplateError(f"wrong number of args for {name}: {e}") from None
            if args:
                raise TemplateError(f"can't give argument to non-function .{name}")
            return attr
    tname = getattr(obj, "go_type", None) or {str: "string", int: "int", float: "float64", bool: "bool",
                                               list: "[]interface {}", tuple: "[]interface {}"}.get(
        type(obj), type(obj).__name__)
    raise TemplateError(f"can't evaluate field {name} in type {tname}")


def parse(src: str, funcs: dict[str, Callable[..., Any]] | None = None) -> Template:
    return Template(src, funcs)


def render(src: str, data: Any, funcs: dict[str, Callable[..., Any]] | None = None) -> str:
    return Template(src, funcs).execute(data)
