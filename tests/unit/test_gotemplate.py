"""The Go text/template subset: outputs as Go (and docker's template funcs) produce them."""

from __future__ import annotations

import pytest

from dockyard.cli.gotemplate import HEADER_FUNCS, MISSING, TemplateError, go_quote, go_sprintf, go_str, render

DATA = {
    "Id": "abc123",
    "Name": "/web",
    "Config": {
        "Labels": {"com.example.a": "1", "b": "x y"},
        "Env": ["A=1", "B=2"],
        "Cmd": None,
        "Entrypoint": ["sh", "-c"],
        "Tty": False,
    },
    "State": {"Status": "running", "Running": True, "ExitCode": 0, "Pid": 4242},
    "Mounts": [{"Source": "/a", "Destination": "/b"}, {"Source": "/c", "Destination": "/d"}],
    "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "10.0.0.2"}}},
    "Float": 1e6,
    "Half": 0.5,
}


@pytest.mark.parametrize(
    ("src", "out"),
    [
        ("{{.State.Status}}", "running"),
        ("{{.Config.Labels}}", "map[b:x y com.example.a:1]"),
        ('{{index .Config.Labels "com.example.a"}}', "1"),
        ('{{index .Config.Labels "nope"}}', ""),
        ("{{.Config.Env}}", "[A=1 B=2]"),
        ("{{.Config.Cmd}}", "<nil>"),
        ("{{.Nope}}", "<no value>"),
        ("{{.State.Running}}", "true"),
        ("{{.Config.Tty}}", "false"),
        ("{{.State.Pid}}", "4242"),
        ("{{.Float}} {{.Half}}", "1e+06 0.5"),
        ("{{json .Config.Entrypoint}}", '["sh","-c"]'),
        ("{{json .Config.Labels}}", '{"com.example.a":"1","b":"x y"}'),
        ("{{json .State.Running}}", "true"),
        ('{{join .Config.Env ","}}', "A=1,B=2"),
        ("{{upper .State.Status}}", "RUNNING"),
        ('{{lower "ABC"}}', "abc"),
        ('{{title "hello world"}}', "Hello World"),
        ('{{split "a:b:c" ":"}}', "[a b c]"),
        ("{{range .Config.Env}}[{{.}}]{{end}}", "[A=1][B=2]"),
        ("{{range $i, $e := .Config.Env}}{{$i}}={{$e}};{{end}}", "0=A=1;1=B=2;"),
        ("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", "b=x y;com.example.a=1;"),
        ("{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}", "/a:/b /c:/d "),
        ("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "10.0.0.2"),
        ("{{range .Nope}}x{{else}}none{{end}}", "none"),
        ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
        ('{{if eq .State.Status "exited"}}E{{else if eq .State.Status "running"}}R{{else}}?{{end}}', "R"),
        ("{{if and .State.Running (eq .State.ExitCode 0)}}ok{{end}}", "ok"),
        ("{{if or .Config.Tty .Config.Cmd}}y{{else}}n{{end}}", "n"),
        ("{{if not .Config.Tty}}no tty{{end}}", "no tty"),
        ("{{with .State}}{{.Status}}{{end}}", "running"),
        ("{{with .Config.Cmd}}x{{else}}no cmd{{end}}", "no cmd"),
        ('{{printf "%s:%d" .Name .State.Pid}}', "/web:4242"),
        ('{{printf "%-6s|%5d|%q|%v|%t" "ab" 42 "q" .Config.Env true}}', 'ab    |   42|"q"|[A=1 B=2]|true'),
        ('{{.Name | printf "%q"}}', '"/web"'),
        ("{{$n := .Name}}{{$n}}", "/web"),
        ("{{$n := 1}}{{$n = 2}}{{$n}}", "2"),
        ("{{(index .Mounts 1).Source}}", "/c"),
        ("{{len .Mounts}}", "2"),
        ("{{slice .Name 1 3}}", "we"),
        ("a  {{- .Name -}}  b", "a/webb"),
        ("a\n{{- /* comment */ -}}\nb", "ab"),
        ("{{/* nothing */}}", ""),
        ("{{println 1 2}}", "1 2\n"),
        ('{{print 1 2 "a" 3}}', "1 2a3"),
        ('{{define "t"}}<{{.}}>{{end}}{{template "t" .Name}}', "</web>"),
        ("{{range 3}}{{.}}{{end}}", "012"),
        ("{{range .Config.Env}}{{if eq . \"B=2\"}}{{break}}{{end}}{{.}}{{end}}", "A=1"),
        ("{{range .Config.Env}}{{if eq . \"A=1\"}}{{continue}}{{end}}{{.}}{{end}}", "B=2"),
        ("{{$.Name}}{{range .Mounts}}{{$.Id}}{{end}}", "/webabc123abc123"),
        ('{{"a\\tb"}}', "a\tb"),
        ("{{`raw\\n`}}", "raw\\n"),
        ("{{'a'}}", "97"),
        ("{{eq 1 1 2}}", "true"),
        ("{{lt 1 2}} {{ge 2 3}}", "true false"),
        ("{{pad .Id 1 2}}|", " abc123  |"),
        ("{{truncate .Id 3}}", "abc"),
        ("{{html \"<a>\"}}", "&lt;a&gt;"),
    ],
)
def test_render(src, out):
    assert render(src, DATA) == out


@pytest.mark.parametrize(
    "src",
    ["{{.Name", "{{if .X}}", "{{end}}", "{{foo .X}}", "{{else}}", '{{"unterminated}}', "{{range}}{{end}}"],
)
def test_parse_errors(src):
    with pytest.raises(TemplateError):
        render(src, DATA)


def test_nil_pointer_chain_is_an_error():
    with pytest.raises(TemplateError, match="nil pointer"):
        render("{{.Config.Cmd.X}}", DATA)


def test_methods_with_arguments_on_objects():
    class Ctx:
        def ID(self):  # noqa: N802
            return "abc"

        def Label(self, name):  # noqa: N802
            return {"k": "v"}.get(name, "")

    assert render('{{.ID}} {{.Label "k"}}|{{.Label "z"}}', Ctx()) == "abc v|"
    with pytest.raises(TemplateError, match="can't evaluate field Nope"):
        render("{{.Nope}}", Ctx())


def test_header_funcs_pass_names_through():
    assert render("{{json .X}} {{upper .X}} {{truncate .X 1}}", {"X": "NAMES"}, HEADER_FUNCS) == "NAMES NAMES NAMES"


def test_go_str_values():
    assert go_str({"b": 1, "a": [1, "x"], "c": {"d": None}}) == "map[a:[1 x] b:1 c:map[d:<nil>]]"
    assert go_str(MISSING) == "<no value>"
    assert go_str(1234567.0) == "1.234567e+06"
    assert go_str(123456.0) == "123456"
    assert go_str(0.0001) == "0.0001"
    assert go_str(0.00001) == "1e-05"
    assert go_str(3.0) == "3"


def test_sprintf_edge_cases():
    assert go_sprintf("%d%%", 5) == "5%"
    assert go_sprintf("%s") == "%!s(MISSING)"
    assert go_sprintf("%x", "hi") == "6869"
    assert go_sprintf("%5.2f", 3.14159) == " 3.14"


def test_quote():
    assert go_quote('a"b\\c\n') == '"a\\"b\\\\c\\n"'
    assert go_quote("sh -c 'echo hi'…") == "\"sh -c 'echo hi'…\""
