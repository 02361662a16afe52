"""Finds every syslog line the suite's code can write, and reads doc/syslog.md.

The suite logs through the `log` crate (crates/service/src/log.rs sends each record to
syslog): `log::error!` / `warn!` / `info!` / `debug!` / `trace!`, and through the
wrappers in WRAPPERS (`service::worker::fatal(program, code, msg)` logs msg at err
and exits). Sources are every `.rs` file of the workspace except target/, tests/,
bench/, fuzz/, and `#[cfg(test)]` items.

A call's format is its string literal, decoded as rustc does. Two formats are the same
line when they agree after normalising: every placeholder (`{}`, `{user}`, `{:?}`)
becomes `{}`, runs of white space become one space. A message that is not a literal
(`fatal(.., &e)`, `log::warn!("{d}")`) is "dynamic": its catalogue entry is written
`{e}`, `{d}` and matches by program as well.

Used by tests/test_syslog_catalogue.py and scripts/syslog-catalogue.
"""

import os
import re
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATALOGUE = os.path.join(ROOT, "doc", "syslog.md")
SKIP_DIRS = {"target", "tests", "bench", "fuzz", ".git", "dev-instance"}
LEVELS = {"error": "err", "warn": "warning", "info": "info", "debug": "debug", "trace": "debug"}
# Functions that log one of their arguments: name -> (syslog priority, argument index).
WRAPPERS = {"fatal": ("err", 2)}
# Where a wrapper logs its argument: not a line of its own (the callers' are).
WRAPPER_BODIES = {("crates/service/src/worker.rs", "{msg}")}


@dataclass
class Line:
    file: str  # relative to ROOT
    line: int
    program: str
    priority: str
    format: str  # as written in the code, decoded
    dynamic: bool
    func: str = ""  # the function it is in

    def key(self):
        return key(self.program, self.priority, self.format, self.dynamic)


def normalise(fmt):
    out, i = [], 0
    while i < len(fmt):
        two = fmt[i:i + 2]
        if two in ("{{", "}}"):
            out.append(two[0])
            i += 2
        elif fmt[i] == "{":
            j = fmt.find("}", i)
            j = len(fmt) - 1 if j < 0 else j
            out.append("{}")
            i = j + 1
        else:
            out.append(fmt[i])
            i += 1
    return re.sub(r"\s+", " ", "".join(out)).strip()


def key(program, priority, fmt, dynamic):
    if dynamic:
        return ("dynamic", program, priority, re.sub(r"\s+", "", fmt))
    return ("line", priority, normalise(fmt))


def program_of(rel):
    parts = rel.split("/")
    if parts[0] == "crates":
        return "crates/" + parts[1]
    if parts[0] == "tools" and len(parts) > 3 and parts[2] == "bin":
        return parts[3][:-3]
    return parts[0]


def mask(src):
    """The source with comments and string/char literal contents blanked (same length,
    newlines kept), and the literals found: {start offset: (end offset, decoded)}."""
    out = list(src)
    lits = {}
    i, n = 0, len(src)

    def blank(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif re.match(r'(b?r#*")', src[i:i + 40]) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            m = re.match(r'b?r(#*)"', src[i:])
            hashes = m.group(1)
            start = i + m.end()
            end = src.find('"' + hashes, start)
            end = n if end < 0 else end
            lits[i] = (end + 1 + len(hashes), src[start:end])
            blank(i + m.end(), end)
            i = end + 1 + len(hashes)
        elif c == '"' or (c == "b" and src.startswith('b"', i) and (i == 0 or not src[i - 1].isalnum())):
            start = i + (2 if c == "b" else 1)
            j = start
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            lits[i] = (j + 1, decode(src[start:j]))
            blank(start, j)
            i = j + 1
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", src[i:i + 12])
            if m:
                blank(i + 1, i + m.end() - 1)
                i += m.end()
            else:
                i += 1  # a lifetime
        else:
            i += 1
    return "".join(out), lits


def decode(body):
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1] if i + 1 < len(body) else ""
        if e == "\n":  # continuation: the newline and the next line's indent go
            i += 2
            while i < len(body) and body[i] in " \t\n\r":
                i += 1
            continue
        simple = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}
        if e in simple:
            out.append(simple[e])
            i += 2
        elif e == "x":
            out.append(chr(int(body[i + 2:i + 4], 16)))
            i += 4
        elif e == "u":
            j = body.find("}", i)
            out.append(chr(int(body[i + 3:j], 16)))
            i = j + 1
        else:
            out.append(e)
            i += 2
    return "".join(out)


def matching(masked, open_at):
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = [pairs[masked[open_at]]]
    i = open_at + 1
    while i < len(masked) and stack:
        ch = masked[i]
        if ch in pairs:
            stack.append(pairs[ch])
        elif ch in ")]}":
            stack.pop()
        i += 1
    return i - 1


def split_args(masked, a, b):
    """Top-level comma-separated argument spans of masked[a:b]."""
    spans, depth, start = [], 0, a
    for i in range(a, b):
        ch = masked[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            spans.append((start, i))
            start = i + 1
    if masked[start:b].strip():
        spans.append((start, b))
    return spans


def test_spans(masked):
    """Spans of `#[cfg(test)]` items (a module or a function)."""
    spans = []
    for m in re.finditer(r"#\[cfg\(test\)\]", masked):
        i = m.end()
        brace, semi = masked.find("{", i), masked.find(";", i)
        if brace >= 0 and (semi < 0 or brace < semi):
            spans.append((m.start(), matching(masked, brace)))
        elif semi >= 0:
            spans.append((m.start(), semi))
    return spans


def first_literal(masked, lits, a, b):
    """The decoded literal an argument span starts with (also inside `&format!(`), or None."""
    text = masked[a:b]
    stripped = text.lstrip()
    off = a + len(text) - len(stripped)
    m = re.match(r"&?\s*(?:format!\s*\()?\s*", masked[off:b])
    pos = off + m.end()
    if pos in lits:
        return lits[pos][1]
    return None


CALL = re.compile(r"\b(?:log::)?(error|warn|info|debug|trace)!\s*([(\[{])")
WRAPPER_CALL = re.compile(r"(?<!fn )\b(" + "|".join(WRAPPERS) + r")\s*\(")


def scan_file(rel, src):
    masked, lits = mask(src)
    skip = test_spans(masked)
    program = program_of(rel)
    found = []

    def line_of(pos):
        return src.count("\n", 0, pos) + 1

    def skipped(pos):
        return any(a <= pos <= b for a, b in skip)

    fns = [(m.start(), m.group(1)) for m in re.finditer(r"\bfn\s+(\w+)", masked)]

    def func_of(pos):
        names = [name for at, name in fns if at < pos]
        return names[-1] if names else ""

    for m in CALL.finditer(masked):
        if skipped(m.start()):
            continue
        close = matching(masked, m.end() - 1)
        args = split_args(masked, m.end(), close)
        if args and re.match(r"\s*target\s*:", masked[args[0][0]:args[0][1]]):
            args = args[1:]
        if not args:
            continue
        fmt = first_literal(masked, lits, *args[0])
        dynamic = fmt is None or normalise(fmt).replace("{}", "").strip() == ""
        if fmt is None:
            fmt = "{" + src[args[0][0]:args[0][1]].strip() + "}"
        if (rel, fmt) in WRAPPER_BODIES:
            continue
        found.append(Line(rel, line_of(m.start()), program, LEVELS[m.group(1)], fmt, dynamic, func_of(m.start())))
    for m in WRAPPER_CALL.finditer(masked):
        if skipped(m.start()):
            continue
        priority, index = WRAPPERS[m.group(1)]
        close = matching(masked, m.end() - 1)
        args = split_args(masked, m.end(), close)
        if len(args) <= index:
            continue
        a, b = args[index]
        fmt = first_literal(masked, lits, a, b)
        dynamic = fmt is None or normalise(fmt).replace("{}", "").strip() == ""
        if fmt is None:
            expr = re.sub(r"\s+", "", src[a:b]).lstrip("&")
            expr = re.sub(r"\.to_string\(\)$", "", expr)
            fmt = "{" + expr + "}"
        found.append(Line(rel, line_of(m.start()), program, priority, fmt, dynamic, func_of(m.start())))
    return found


def scan(root=ROOT):
    lines = []
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS and not x.startswith("."))
        for f in sorted(files):
            if f.endswith(".rs"):
                path = os.path.join(d, f)
                with open(path, encoding="utf-8") as fh:
                    lines.extend(scan_file(os.path.relpath(path, root), fh.read()))
    return lines


@dataclass
class Entry:
    line: int  # in the catalogue
    program: str
    priority: str
    format: str
    dynamic: bool

    def key(self):
        return key(self.program, self.priority, self.format, self.dynamic)


def cells(row):
    parts = re.split(r"(?<!\\)\|", row.strip())[1:-1]
    return [p.strip().replace("\\|", "|") for p in parts]


def code(cell):
    m = re.fullmatch(r"(`+)\s?(.*?)\s?\1", cell)
    return m.group(2) if m else None


def read_catalogue(path=CATALOGUE):
    """Entries of every table row whose third cell is a code span:
    | program | priority | `format` | when | Cyrus 3.6 line |.
    A format whose placeholders are all it has (`{e}`) is dynamic."""
    entries = []
    with open(path, encoding="utf-8") as f:
        for n, row in enumerate(f, 1):
            if not row.startswith("|"):
                continue
            c = cells(row)
            if len(c) < 5 or code(c[2]) is None:
                continue
            fmt = code(c[2])
            dynamic = normalise(fmt).replace("{}", "").strip() == ""
            entries.append(Entry(n, c[0], c[1], fmt, dynamic))
    return entries


def md_code(text):
    text = text.replace("|", "\\|")
    if "`" in text:
        return "`` " + text + " ``"
    return "`" + text + "`"


def row(line, when="", cyrus=""):
    when = when or (f"`{line.func}` in {line.file}" if line.func else line.file)
    return f"| {line.program} | {line.priority} | {md_code(line.format)} | {when} | {cyrus} |"
