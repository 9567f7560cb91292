#!/usr/bin/env python3
"""Converts Helm's strvals test tables to tests/fixtures/helm-strvals/cases.json.

Usage: scripts/helm-strvals-cases.py HELM_CHECKOUT COMMIT > tests/fixtures/helm-strvals/cases.json

Reads pkg/strvals/parser_test.go and pkg/strvals/literal_parser_test.go
(and MaxIndex / MaxNestedNameLevel from parser.go) of a helm/helm checkout
at COMMIT, and writes every case of every test as JSON: the parse
function, the input text(s), the tree it parses into (for the *Into
functions), and the expected tree or error. It reads the Go composite
literals of the tables; the few tests written as plain statements
(TestParseIntoString, TestParseFile, TestParseIntoFile, TestToYAML) and
TestSetIndex (which calls the internal setIndex: its cases become ParseInto
cases of `list[i]=v` on `{list: initial}`) are converted by hand below, from
the values in the file, so a change upstream fails the conversion.
"""

import json
import re
import sys

# --- a tokenizer and reader for the Go literals the tables use ---------------

TOKEN = re.compile(
    r"""
    (?P<ws>\s+|//[^\n]*)
  | (?P<raw>`[^`]*`)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<int>-?\d+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<punct>[{}\[\]():,+])
  | (?P<other>.)
    """,
    re.X,
)

GO_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}


def go_string(tok):
    if tok.startswith("`"):
        return tok[1:-1]
    out, i, body = [], 0, tok[1:-1]
    while i < len(body):
        c = body[i]
        if c == "\\":
            nxt = body[i + 1]
            if nxt not in GO_ESCAPES:
                raise ValueError(f"unhandled Go escape \\{nxt} in {tok}")
            out.append(GO_ESCAPES[nxt])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def tokenize(text):
    toks, pos = [], 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"cannot tokenize at: {text[pos:pos + 40]!r}")
        pos = m.end()
        if m.lastgroup != "ws":
            toks.append((m.lastgroup, m.group()))
    return toks


class Reader:
    def __init__(self, toks, consts):
        self.toks, self.i, self.consts = toks, 0, consts

    def peek(self, k=0):
        return self.toks[self.i + k] if self.i + k < len(self.toks) else (None, None)

    def next(self):
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, value):
        kind, tok = self.next()
        if tok != value:
            raise ValueError(f"expected {value!r}, got {tok!r}")

    def type_expr(self):
        """A type: []T, map[string]T, or a name; returned as a tuple."""
        kind, tok = self.peek()
        if tok == "[":
            self.expect("[")
            self.expect("]")
            return ("slice", self.type_expr())
        if tok == "map":
            self.next()
            self.expect("[")
            self.expect("string")
            self.expect("]")
            return ("map", self.type_expr())
        if tok == "struct":
            raise ValueError("struct types are read by table()")
        self.next()
        return ("name", tok)

    def composite(self, typ):
        self.expect("{")
        if typ[0] == "slice":
            items = []
            while self.peek()[1] != "}":
                items.append(self.element(typ[1]))
                if self.peek()[1] == ",":
                    self.next()
            self.expect("}")
            return items
        if typ[0] == "map":
            entries = {}
            while self.peek()[1] != "}":
                key = self.value(("name", "string"))
                self.expect(":")
                entries[key] = self.element(typ[1])
                if self.peek()[1] == ",":
                    self.next()
            self.expect("}")
            return entries
        raise ValueError(f"no composite literal of {typ}")

    def element(self, typ):
        # An element of a composite may leave out its type: {...}.
        if self.peek()[1] == "{":
            return self.composite(typ)
        return self.value(typ)

    def value(self, typ=None):
        """An expression: a literal, a composite, or a sum of them."""
        left = self.term()
        while self.peek()[1] == "+":
            self.next()
            right = self.term()
            left = left + right
        return left

    def term(self):
        kind, tok = self.peek()
        if kind in ("str", "raw"):
            self.next()
            return go_string(tok)
        if kind == "int":
            self.next()
            return int(tok)
        if tok in ("[", "map"):
            typ = self.type_expr()
            return self.composite(typ)
        if kind == "ident":
            self.next()
            if tok == "nil":
                return None
            if tok in ("true", "false"):
                return tok == "true"
            if tok == "fmt.Sprintf":
                self.expect("(")
                args = [self.value()]
                while self.peek()[1] == ",":
                    self.next()
                    args.append(self.value())
                self.expect(")")
                return args[0].replace("%d", "{}").format(*args[1:])
            if self.peek()[1] == "(":
                self.expect("(")
                self.expect(")")
                tok += "()"
            if tok in self.consts:
                return self.consts[tok]
            raise ValueError(f"unknown identifier {tok}")
        raise ValueError(f"unexpected {tok!r}")

    def table(self):
        """`[]struct { fields } { cases }`: each case as a dict."""
        self.expect("[")
        self.expect("]")
        self.expect("struct")
        self.expect("{")
        fields = []
        while self.peek()[1] != "}":
            names = [self.next()[1]]
            while self.peek()[1] == ",":
                self.next()
                names.append(self.next()[1])
            typ = self.type_expr()
            fields.extend((n, typ) for n in names)
        self.expect("}")
        self.expect("{")
        cases = []
        while self.peek()[1] != "}":
            self.expect("{")
            case, position = {}, 0
            while self.peek()[1] != "}":
                if self.peek()[0] == "ident" and self.peek(1)[1] == ":":
                    name = self.next()[1]
                    self.next()
                    typ = dict(fields)[name]
                else:
                    name, typ = fields[position]
                    position += 1
                case[name] = self.element(typ)
                if self.peek()[1] == ",":
                    self.next()
            self.expect("}")
            cases.append(case)
            if self.peek()[1] == ",":
                self.next()
        self.expect("}")
        return cases


def function_body(src, name):
    start = src.index(f"func {name}(")
    nxt = src.find("\nfunc ", start + 1)
    return src[start : nxt if nxt != -1 else len(src)]


def table_in(body, var, consts):
    start = body.index(f"{var} := ") + len(f"{var} := ")
    reader = Reader(tokenize(body[start:]), consts)
    return reader.table()


def go_assign(body, var, consts):
    """The value of `var := <literal>` or `var = <literal>` in body."""
    m = re.search(rf"\b{var}\s*:?=\s*", body)
    reader = Reader(tokenize(body[m.end() :]), consts)
    return reader.value()


def nested_key(max_level):
    # TestParse*NestedLevels builds name1.name2. ... name{max+2}.
    parts = []
    for i in range(1, max_level + 3):
        parts.append(f"name{i}" + ("." if i <= max_level + 1 else ""))
    return "".join(parts)


def main():
    root, commit = sys.argv[1], sys.argv[2]
    read = lambda p: open(f"{root}/{p}", encoding="utf-8").read()
    parser_go = read("pkg/strvals/parser.go")
    tests_go = read("pkg/strvals/parser_test.go")
    literal_go = read("pkg/strvals/literal_parser_test.go")
    max_index = int(re.search(r"var MaxIndex = (\d+)", parser_go).group(1))
    max_level = int(re.search(r"var MaxNestedNameLevel = (\d+)", parser_go).group(1))
    consts = {
        "MaxIndex": max_index,
        "MaxNestedNameLevel": max_level,
        "keyMultipleNestedLevels.String()": nested_key(max_level),
    }
    cases = []

    def add(test, function, inputs, expect=None, error=False, dest=None, files=None, message=None):
        case = {"test": test, "function": function, "inputs": inputs}
        if dest is not None:
            case["dest"] = dest
        if files is not None:
            case["files"] = files
        if error:
            case["error"] = message or True
        else:
            case["expect"] = expect
        cases.append(case)

    # TestSetIndex calls setIndex(initial, add, val): as ParseInto of list[add]=val.
    body = function_body(tests_go, "TestSetIndex")
    for t in table_in(body, "tests", consts):
        add(
            "TestSetIndex/" + t["name"],
            "ParseInto",
            [f"list[{t['add']}]={t['val']}"],
            dest={"list": t["initial"]},
            expect={"list": t["expect"]},
            error=t["err"],
        )

    body = function_body(tests_go, "TestParseSet")
    for t in table_in(body, "tests", consts):
        add("TestParseSet", "Parse", [t["str"]], t.get("expect"), t.get("err", False))
    for t in table_in(body, "testsString", consts):
        add("TestParseSet", "ParseString", [t["str"]], t.get("expect"), t.get("err", False))

    for test, function, src in [
        ("TestParseInto", "ParseInto", tests_go),
        ("TestParseLiteralInto", "ParseLiteralInto", literal_go),
    ]:
        body = function_body(src, test)
        for t in table_in(body, "tests", consts):
            inputs = [t["input"]] + ([t["input2"]] if t.get("input2") else [])
            add(test, function, inputs, t["expect"], t.get("err", False), dest=t["got"] or {})

    body = function_body(tests_go, "TestParseIntoString")
    add(
        "TestParseIntoString",
        "ParseIntoString",
        [go_assign(body, "input", consts)],
        go_assign(body, "expect", consts),
        dest=go_assign(body, "got", consts),
    )

    # Run only as far as sluice has the flag: sluice has no --set-json.
    body = function_body(tests_go, "TestParseJSON")
    for t in table_in(body, "tests", consts):
        add("TestParseJSON", "ParseJSON", [t["input"]], t["expect"], t.get("err", False), dest=t["got"] or {})

    for test, function in [("TestParseFile", "ParseFile"), ("TestParseIntoFile", "ParseIntoFile")]:
        body = function_body(tests_go, test)
        # The test's reader maps the one path it expects to one text.
        path = re.search(r'if v != "([^"]*)"', body).group(1)
        text = re.search(r'return "([^"]+)", nil', body).group(1)
        add(
            test,
            function,
            [go_assign(body, "input", consts)],
            go_assign(body, "expect", consts),
            dest={} if function == "ParseIntoFile" else None,
            files={path: text},
        )

    body = function_body(tests_go, "TestToYAML")
    source = re.search(r'ToYAML\("([^"]*)"\)', body).group(1)
    key, value = go_assign(body, "expect", consts).split(": ", 1)
    add("TestToYAML", "Parse", [source], {key: value})

    for test, function, src in [
        ("TestParseSetNestedLevels", "Parse", tests_go),
        ("TestParseLiteralNestedLevels", "ParseLiteral", literal_go),
    ]:
        body = function_body(src, test)
        for t in table_in(body, "tests", consts):
            add(test, function, [t["str"]], t.get("expect"), t.get("err", False), message=t.get("errStr") or None)

    body = function_body(literal_go, "TestParseLiteral")
    for t in table_in(body, "cases", consts):
        add("TestParseLiteral", "ParseLiteral", [t["str"]], t.get("expect"), t.get("err", False))

    doc = {
        "upstream": {
            "repository": "https://github.com/helm/helm",
            "commit": commit,
            "files": ["pkg/strvals/parser_test.go", "pkg/strvals/literal_parser_test.go"],
            "license": "Apache-2.0",
            "copyright": "Copyright The Helm Authors",
        },
        "generated_by": "scripts/helm-strvals-cases.py",
        "cases": cases,
    }
    json.dump(doc, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
