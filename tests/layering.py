#!/usr/bin/env python3
"""The layering check of src/ (issue 18).

    python3 tests/layering.py             check; exit 1 on any violation
    python3 tests/layering.py --report    print everything, exit 0
    python3 tests/layering.py --self-test the checker's own tests
    python3 tests/layering.py --markdown  the layer table as docs/architecture.md shows it
    python3 tests/layering.py --root DIR  check another checkout (default: this one)

Rules:
  1. src/sip/** names no other top-level module of the crate, test code included:
     the SIP stack knows no user of it.
  2. Every top-level module of src/ has a row in LAYERS below, and its non-test code
     imports only the modules its row allows (the table points down only).
  3. No import cycle between top-level modules (non-test code).
  4. No file has more than 1,000 lines of non-test code; call-flow files (src/call/**)
     at most 700.
Test code that imports what its row does not allow is listed as a warning, not a failure.

Python 3 standard library only, so it runs before (and without) a build and on a tree
that is half-way through a move. See docs/architecture.md, "Layers and the check".
"""

import argparse
import bisect
import os
import re
import sys
import tempfile
import textwrap
import unittest
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

# --- the table -----------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    name: str  # the top-level module (src/NAME/ or src/NAME.rs); "main" is src/main.rs
    level: Optional[int]  # 0 is the top; None: outside the levels (test support)
    owns: str
    may_import: Tuple[str, ...]  # what its non-test code may name; ("*",) is anything
    note: str = ""


# Top-down. A module may import only what its row lists, which is always on a lower
# level or, on the same level, chosen so that no cycle is possible (rule 3 checks the
# table itself too). The reserved rows (web, events, line, store) are for the next
# issues; their places follow shared/design.md.
LAYERS: Tuple[Layer, ...] = (
    Layer(
        "main", 0,
        "the command line and the banner",
        ("gateway", "config", "logging"),
        "loads the config file and hands it to the gateway; --check-config uses the "
        "gateway's compile step",
    ),
    Layer(
        "gateway", 1,
        "smol shells: sockets, timers, signals, the HTTP server; the one place that "
        "compiles the config into runtime parts",
        ("web", "app", "call", "events", "routing", "policy", "media", "sip", "line",
         "store", "config", "logging"),
        "the only layer that does IO for the others; it may reach any lower layer to "
        "run its shells (sip transports, the media loop, later ALSA and serial)",
    ),
    Layer(
        "web", 2,
        "pages and JSON API handlers: a parsed request in, a response out",
        ("app", "events", "store", "config", "logging"),
        "works on the application core's snapshot and commands, edits the config "
        "model and reads history from the store; the HTTP server itself is a gateway shell",
    ),
    Layer(
        "app", 3,
        "the sans-IO application core: admission, inbound auth, dispatch to the "
        "B2BUA and the registration clients",
        ("call", "events", "routing", "policy", "media", "sip", "line", "store",
         "config", "logging"),
        "maps the configuration into sip's own types, so sip needs no config",
    ),
    Layer(
        "call", 4,
        "the B2BUA: a call is SIP legs (a local line is one, in-process) and a media session",
        ("routing", "policy", "media", "sip", "line", "config", "logging"),
        "emits its own events; the application core turns them into the event "
        "model, so call needs no events",
    ),
    Layer(
        "events", 4,
        "the event model, which sinks take which events, the wire formats, the clock's health",
        ("store", "config", "logging"),
        "below the application core, beside call: the core makes events from call records; "
        "the gateway's history writer puts them in the store's outbox and its senders deliver them",
    ),
    Layer(
        "routing", 5,
        "pure routing rules: matchers, targets, header plans, emergency numbers",
        ("sip", "config", "logging"),
        "reads headers through sip's message types",
    ),
    Layer(
        "policy", 5,
        "admission: allowlist, rate limits, drop log and hints",
        ("routing", "sip", "config", "logging"),
        "uses routing's emergency numbers for exemptions; routing never uses policy",
    ),
    Layer(
        "media", 5,
        "RTP, SDP, G.711, DTMF, the relay",
        ("config", "logging"),
        "needs no SIP: SDP bodies come and go as bytes",
    ),
    Layer(
        "line", 5,
        "local lines without SIP: the serial line protocol (codec, framer, link, "
        "simulator), the handset's state machine, the audio endpoint and its ALSA shell, "
        "board files",
        ("media", "config", "logging"),
        "at the level of media (a call's leg may be a line, as it may be SIP); encodes "
        "line audio with media's G.711; media never uses line",
    ),
    Layer(
        "sip", 5,
        "the SIP stack: messages, transports, transactions, auth, DNS, registration",
        (),
        "imports nothing outside sip (rule 1), not even config",
    ),
    Layer(
        "store", 5,
        "the data-directory database: call history, audit list, the event outbox",
        ("config", "logging"),
        "below events and the application core; knows rows, not their producers",
    ),
    Layer(
        "config", 6,
        "the typed Config: data and field checks only",
        (),
        "the bottom: checks that need a parser or a compiler run in the layer that owns it",
    ),
    Layer(
        "logging", 6,
        "log escaping and the log writer",
        (),
        "a utility under everything but sip and config, which do not log network text",
    ),
    Layer(
        "test_support", None,
        "test-only helpers shared by unit tests (`#[cfg(test)]`)",
        ("*",),
        "may build anything (an app-level endpoint to drive call/, say); only test "
        "code may use it",
    ),
)

TEST_SUPPORT = "test_support"
SELF_CONTAINED = "sip"  # rule 1
MAX_LINES = 1000  # rule 4
CALL_FLOW_MODULE = "call"
MAX_CALL_FLOW_LINES = 700

RULE_SIP = "rule 1 (src/sip/** names no other top-level module, test code included)"
RULE_TABLE = "rule 2 (imports follow the layer table)"
RULE_CYCLE = "rule 3 (no import cycle between top-level modules)"
RULE_SIZE = "rule 4 (lines of non-test code per file)"

# --- reading Rust ----------------------------------------------------------------

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_LEX = re.compile(r'//|/\*|"|\'|(?<![A-Za-z0-9_])(?:br|cr|r)(#*)"')


def strip_code(text: str) -> str:
    """The text with comments (doc comments too) and string, char and byte literals
    blanked to spaces. Newlines stay, so offsets and line numbers are unchanged."""
    out = list(text)
    n = len(text)

    def blank(a: int, b: int) -> None:
        for j in range(a, min(b, n)):
            if out[j] != "\n":
                out[j] = " "

    i = 0
    while True:
        m = _LEX.search(text, i)
        if m is None:
            break
        i = m.start()
        tok = m.group(0)
        if tok == "//":
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif tok == "/*":  # block comments nest
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
        elif tok == '"':
            j = i + 1
            while j < n:
                if text[j] == "\\":
                    j += 2
                elif text[j] == '"':
                    j += 1
                    break
                else:
                    j += 1
        elif tok == "'":
            if i + 1 < n and text[i + 1] == "\\":  # '\n', '\'', '\u{1F600}'
                j = i + 3
                while j < n and text[j] != "'" and text[j] != "\n":
                    j += 1
                j += 1
            elif i + 2 < n and text[i + 2] == "'" and text[i + 1] != "\n":  # 'x'
                j = i + 3
            else:  # a lifetime or a loop label
                i += 1
                continue
        else:  # raw string: r"..", r#".."#, br"..", cr".."
            close = '"' + m.group(1)
            j = text.find(close, m.end())
            j = n if j < 0 else j + len(close)
        blank(i, j)
        i = j
    return "".join(out)


def _walk(code: str, start: int):
    """(offset, char, bracket depth) from start on (code is stripped): an opening
    bracket counts in its own depth, a closing one does not."""
    depth = 0
    for j in range(start, len(code)):
        c = code[j]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        yield j, c, depth


def match_close(code: str, open_at: int) -> int:
    """Offset just past the bracket that closes the one at open_at (code is stripped)."""
    for j, c, depth in _walk(code, open_at):
        if depth == 0 and c in ")]}":
            return j + 1
    return len(code)


_TEST_ATTR = re.compile(
    r"#\s*\[\s*(?:test|cfg\s*\(\s*(?:test|all\s*\([^()]*\btest\b[^()]*\))\s*\))\s*\]"
)
_FILE_TEST_ATTR = re.compile(r"#\s*!\s*\[\s*cfg\s*\(\s*test\s*\)\s*\]")
_ATTR_START = re.compile(r"\s*#\s*\[")
_ITEM_KEYWORDS = {"fn", "mod", "impl", "trait", "struct", "enum", "union", "macro_rules",
                  "extern"}
_STATEMENT_KEYWORDS = {"const", "static", "let", "use", "type"}
_QUALIFIERS = {"pub", "unsafe", "async", "default", "crate", "in", "self", "super"}


def _skip_attrs(code: str, p: int) -> int:
    while True:
        m = _ATTR_START.match(code, p)
        if not m:
            return p
        p = match_close(code, m.end() - 1)


def _item_end(code: str, p: int) -> int:
    """Offset just past the item, statement, field or arm that starts at p."""
    words = re.finditer(IDENT, code[p:p + 200])
    kind = "other"
    for w in words:
        if w.group(0) in _QUALIFIERS:
            continue
        if w.group(0) in _ITEM_KEYWORDS:
            kind = "item"
        elif w.group(0) in _STATEMENT_KEYWORDS:
            kind = "statement"
        break
    for j, c, depth in _walk(code, p):
        if depth < 0:  # the end of the enclosing list: a field or an arm ended
            return j
        if depth > 0:
            continue
        if (c == "}" and kind != "statement") or c == ";" or (c == "," and kind == "other"):
            return j + 1
    return len(code)


def test_item_spans(code: str) -> List[Tuple[int, int, int]]:
    """(start, end, item start) of each #[cfg(test)] or #[test] item of a stripped file."""
    spans = []
    for m in _TEST_ATTR.finditer(code):
        if spans and m.start() < spans[-1][1]:
            continue  # inside a test item already
        item = _skip_attrs(code, m.end())
        while item < len(code) and code[item].isspace():
            item += 1
        spans.append((m.start(), _item_end(code, item), item))
    return spans


_INLINE_MOD = re.compile(r"(?<![A-Za-z0-9_])mod\s+(" + IDENT + r")\s*\{")
_MOD_DECL = re.compile(r"(?<![A-Za-z0-9_])mod\s+(" + IDENT + r")\s*;")


_PATH_ATTR_CODE = re.compile(r"#\s*\[\s*path\s*=")
_VIS_MOD = re.compile(r"\s*(?:pub\s*(?:\([^)]*\))?\s*)?mod\s+(" + IDENT + r")\s*;")


def _path_attributes(sf: "SourceFile") -> Dict[int, str]:
    """{offset of the module's name: the path} for each `#[path = "..."] mod name;`."""
    out = {}
    for a in _PATH_ATTR_CODE.finditer(sf.code):
        open_at = sf.code.index("[", a.start())
        close = match_close(sf.code, open_at)
        literal = re.search(r'"([^"]*)"', sf.text[open_at:close])
        decl = _VIS_MOD.match(sf.code, _skip_attrs(sf.code, close))
        if literal and decl:
            out[decl.start(1)] = literal.group(1)
    return out


def inline_modules(code: str) -> List[Tuple[int, int, str]]:
    return [(m.start(), match_close(code, m.end() - 1), m.group(1))
            for m in _INLINE_MOD.finditer(code)]


# --- the tree --------------------------------------------------------------------


@dataclass
class Use:
    file: str  # relative to the root, e.g. src/call/b2bua.rs
    line: int
    source: str  # the importing top-level module
    target: str  # the imported one
    text: str  # as written, e.g. crate::sip::message
    test: bool


@dataclass
class SourceFile:
    rel: str
    module: Optional[str]  # its top-level module; None for lib.rs
    modpath: List[str]
    text: str
    code: str = ""
    test_file: bool = False
    spans: List[Tuple[int, int, int]] = field(default_factory=list)
    lines: int = 0
    code_lines: int = 0
    uses: List[Use] = field(default_factory=list)


@dataclass
class Tree:
    root: str
    files: Dict[str, SourceFile]
    top_modules: Set[str]


def crate_name(root: str) -> str:
    """The name main.rs uses for the library: [lib] name, else [package] name."""
    try:
        with open(os.path.join(root, "Cargo.toml"), encoding="utf-8") as f:
            toml = f.read()
    except OSError:
        return "pbxgate"
    names = {}
    section = ""
    for line in toml.splitlines():
        s = line.strip()
        if s.startswith("["):
            section = s
        m = re.match(r'name\s*=\s*"([^"]+)"', s)
        if m and section in ("[package]", "[lib]") and section not in names:
            names[section] = m.group(1)
    return names.get("[lib]", names.get("[package]", "pbxgate")).replace("-", "_")


def _top_module(rel_src: str) -> Optional[str]:
    parts = rel_src.split("/")
    if parts == ["lib.rs"]:
        return None
    if parts == ["main.rs"] or parts[0] == "bin":
        return "main"
    return parts[0][:-3] if len(parts) == 1 else parts[0]


def _modpath(rel_src: str) -> List[str]:
    parts = rel_src[:-3].split("/")
    if parts in (["lib"], ["main"]) or parts[0] == "bin":
        return []
    if parts[-1] == "mod":
        parts = parts[:-1]
    return parts


def _is_test_name(rel_src: str) -> bool:
    parts = rel_src.split("/")
    base = parts[-1]
    return (base == "tests.rs" or base.endswith("_tests.rs") or "tests" in parts[:-1]
            or parts[0] in (TEST_SUPPORT, TEST_SUPPORT + ".rs"))


def read_tree(root: str) -> Tree:
    src = os.path.join(root, "src")
    if not os.path.isdir(src):
        raise SystemExit(f"layering: no src/ folder under {root}")
    files: Dict[str, SourceFile] = {}
    top: Set[str] = set()
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.endswith(".rs"):
                continue
            path = os.path.join(dirpath, name)
            rel_src = os.path.relpath(path, src).replace(os.sep, "/")
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
            except OSError as e:
                raise SystemExit(f"layering: cannot read {path}: {e.strerror}")
            module = _top_module(rel_src)
            if module is not None and module != "main":
                top.add(module)
            files[rel_src] = SourceFile("src/" + rel_src, module, _modpath(rel_src), text)
    for sf in files.values():
        sf.code = strip_code(sf.text)
        sf.spans = test_item_spans(sf.code)
    _mark_tests_and_paths(files)
    name = crate_name(root)
    for rel_src, sf in files.items():
        _count_lines(sf)
        _find_uses(sf, top, name)
    return Tree(root, {sf.rel: sf for sf in files.values()}, top)


def _mark_tests_and_paths(files: Dict[str, SourceFile]) -> None:
    """Test files: by name (tests.rs, *_tests.rs, a tests/ folder, test_support), by
    #![cfg(test)], or declared by a #[cfg(test)] `mod x;` (with or without #[path]),
    with everything under such a module's folder. #[path] also sets a file's module
    path, which `super::` chains climb."""
    test_dirs: List[str] = []
    for rel_src, sf in files.items():
        if _is_test_name(rel_src) or _FILE_TEST_ATTR.search(sf.code):
            sf.test_file = True
        here = os.path.dirname(rel_src)
        base = rel_src.split("/")[-1]
        mod_rs = base in ("mod.rs", "lib.rs", "main.rs")
        paths = _path_attributes(sf)
        mods = inline_modules(sf.code)
        for m in _MOD_DECL.finditer(sf.code):
            is_test = any(s <= m.start() < e for s, e, _ in sf.spans)
            inline = [name for s, e, name in mods if s < m.start() < e]
            path = paths.get(m.start(1))
            if path is not None:  # relative to the declaring file's folder
                candidates = [os.path.normpath(os.path.join(here, path)).replace(os.sep, "/")]
            else:
                parent = here if mod_rs else os.path.join(here, base[:-3])
                stem = os.path.join(parent, *inline, m.group(1)).replace(os.sep, "/")
                stem = stem.lstrip("/")
                candidates = [stem + ".rs", stem + "/mod.rs"]
            for cand in candidates:
                target = files.get(cand)
                if target is None:
                    continue
                if path is not None:
                    target.modpath = sf.modpath + inline + [m.group(1)]
                if is_test:
                    target.test_file = True
                    folder = cand[:-len("/mod.rs")] if cand.endswith("/mod.rs") else cand[:-3]
                    test_dirs.append(folder + "/")
                break
    for rel_src, sf in files.items():
        if any(rel_src.startswith(d) for d in test_dirs):
            sf.test_file = True


def _count_lines(sf: SourceFile) -> None:
    text = sf.text
    sf.lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
    if sf.test_file:
        sf.code_lines = 0
        return
    excluded: Set[int] = set()
    for start, end, _ in sf.spans:
        first = text.count("\n", 0, start)
        last = text.count("\n", 0, max(start, end - 1))
        excluded.update(range(first, last + 1))
    sf.code_lines = sf.lines - len(excluded)


_CRATE_PATH = re.compile(r"(?<![A-Za-z0-9_])crate\s*::\s*")
_SUPER_CHAIN = re.compile(r"(?<![A-Za-z0-9_])super(?:\s*::\s*super)*\s*::\s*")
_PATH_TAIL = re.compile(IDENT + r"(?:\s*::\s*" + IDENT + r")*")


def _targets(code: str, p: int) -> List[Tuple[str, int, str]]:
    """What the path continuing at p names first: [(ident, offset, tail)], several for
    a `{a::b, c::d}` group (which may span lines)."""
    if p < len(code) and code[p] == "{":
        end = match_close(code, p)
        out, depth, start = [], 0, p + 1
        for j in range(p + 1, end):
            c = code[j]
            if c in "{(":
                depth += 1
            elif c in "})":
                depth -= 1
            if (c == "," and depth == 0) or j == end - 1:
                m = re.compile(r"\s*(" + IDENT + r")").match(code, start)
                if m and m.group(1) not in ("self", "super", "crate"):
                    tail = _PATH_TAIL.match(code, m.start(1))
                    out.append((m.group(1), m.start(1), re.sub(r"\s+", "", tail.group(0))))
                start = j + 1
        return out
    m = _PATH_TAIL.match(code, p)
    if not m:
        return []
    return [(m.group(0).split("::")[0].strip(), p, re.sub(r"\s+", "", m.group(0)))]


def _find_uses(sf: SourceFile, top: Set[str], lib_name: str) -> None:
    if sf.module is None:
        return  # lib.rs declares the modules; it imports nothing
    code = sf.code
    newlines = [i for i, c in enumerate(code) if c == "\n"]

    def line_of(off: int) -> int:
        return bisect.bisect_left(newlines, off) + 1

    def in_test(off: int) -> bool:
        return sf.test_file or any(s <= off < e for s, e, _ in sf.spans)

    def add(prefix: str, p: int) -> None:
        for ident, off, tail in _targets(code, p):
            if ident in top and ident != sf.module:
                sf.uses.append(Use(sf.rel, line_of(off), sf.module, ident,
                                   prefix + tail, in_test(off)))

    if sf.module == "main":
        # main.rs is another crate: it names the library by its crate name
        for m in re.finditer(r"(?<![A-Za-z0-9_])" + re.escape(lib_name) + r"\s*::\s*", code):
            add(lib_name + "::", m.end())
        return
    # `pub(in crate::x)` needs no exception: it can only name an ancestor, which is
    # the file's own top-level module.
    for m in _CRATE_PATH.finditer(code):
        add("crate::", m.end())
    mods = inline_modules(code)
    for m in _SUPER_CHAIN.finditer(code):
        ups = m.group(0).count("super")
        inline = [name for s, e, name in mods if s < m.start() < e]
        path = sf.modpath + inline
        if ups == len(path):  # climbed to the crate root: the next name is a module
            add("super::" * ups, m.end())


# --- the rules -------------------------------------------------------------------


@dataclass
class Finding:
    rule: str
    where: str  # file:line, or a file, or a module
    message: str


@dataclass
class Result:
    errors: Dict[str, List[Finding]]
    warnings: List[Finding]
    files: int
    uses: int


def rows() -> Dict[str, Layer]:
    return {layer.name: layer for layer in LAYERS}


def cycles(edges: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on: Set[str] = set()
    out: List[List[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(out)


def _one_cycle(comp: List[str], edges: Dict[str, Set[str]]) -> List[str]:
    """A shortest cycle through the component's first module, for the message."""
    first = comp[0]
    prev: Dict[str, str] = {}
    queue = [first]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges.get(v, ())):
            if w not in comp:
                continue
            if w == first:
                path = [v]
                while path[-1] != first:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [first]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return comp


def check(tree: Tree) -> Result:
    table = rows()
    errors: Dict[str, List[Finding]] = {RULE_SIP: [], RULE_TABLE: [], RULE_CYCLE: [],
                                        RULE_SIZE: []}
    warnings: List[Finding] = []
    uses = [u for sf in tree.files.values() for u in sf.uses]

    for module in sorted({sf.module for sf in tree.files.values() if sf.module}):
        if module not in table:
            where = next(sf.rel for sf in sorted(tree.files.values(), key=lambda s: s.rel)
                         if sf.module == module)
            errors[RULE_TABLE].append(Finding(
                RULE_TABLE, where,
                f"top-level module '{module}' has no row in the layer table (add a row to "
                f"LAYERS in tests/layering.py, or move it into a module that has one)"))

    for u in sorted(uses, key=lambda u: (u.file, u.line)):
        at = f"{u.file}:{u.line}"
        if u.source == SELF_CONTAINED:
            errors[RULE_SIP].append(Finding(
                RULE_SIP, at, f"sip names {u.target} ({u.text})"))
            continue
        row = table.get(u.source)
        if row is None:
            continue  # reported above, once
        allowed = "*" in row.may_import or u.target in row.may_import
        if allowed:
            continue
        if u.test:
            if u.target != TEST_SUPPORT:
                warnings.append(Finding(
                    "test code", at, f"test code of {u.source} names {u.target} "
                    f"({u.text}), which {u.source}'s row does not allow; use "
                    f"{TEST_SUPPORT}, or move the test to the layer it drives"))
            continue
        may = ", ".join(row.may_import) or "nothing"
        errors[RULE_TABLE].append(Finding(
            RULE_TABLE, at, f"{u.source} names {u.target} ({u.text}); {u.source} may "
            f"import: {may}"))

    edges: Dict[str, Set[str]] = {}
    for u in uses:
        if not u.test:
            edges.setdefault(u.source, set()).add(u.target)
    for comp in cycles(edges):
        # Every use inside the component lies on a cycle; the table has none, so the
        # uses it forbids are the ones to move. The rest are only counted.
        path = " -> ".join(_one_cycle(comp, edges))
        lines = [f"cycle among {', '.join(comp)} (e.g. {path}); the uses against the "
                 f"table that close it:"]
        seen, fine = set(), 0
        for u in sorted(uses, key=lambda u: (u.source, u.target, u.file, u.line)):
            if u.test or u.source not in comp or u.target not in comp:
                continue
            key = (u.file, u.line, u.target, u.text)
            if key in seen:
                continue
            seen.add(key)
            row = table.get(u.source)
            if row is not None and ("*" in row.may_import or u.target in row.may_import):
                fine += 1
                continue
            lines.append(f"    {u.file}:{u.line}: {u.source} -> {u.target} ({u.text})")
        lines.append(f"    (and {fine} uses inside the cycle that the table allows)")
        errors[RULE_CYCLE].append(Finding(RULE_CYCLE, "", "\n".join(lines)))

    for sf in sorted(tree.files.values(), key=lambda s: s.rel):
        if sf.test_file:
            continue
        limit, what = MAX_LINES, "a file"
        if sf.module == CALL_FLOW_MODULE:
            limit, what = MAX_CALL_FLOW_LINES, "a call-flow file (src/call/**)"
        if sf.code_lines > limit:
            errors[RULE_SIZE].append(Finding(
                RULE_SIZE, sf.rel, f"{sf.code_lines} lines of non-test code; {what} may "
                f"have at most {limit}"))
    return Result(errors, warnings, len(tree.files), len(uses))


def table_errors() -> List[str]:
    """The table itself: rows are unique, name only rows, point down, and hold no cycle."""
    table = rows()
    out = []
    if len(table) != len(LAYERS):
        out.append("a module has two rows")
    edges = {}
    for layer in LAYERS:
        for target in layer.may_import:
            if target == "*":
                continue
            if target not in table:
                out.append(f"{layer.name} may import '{target}', which has no row")
            elif target == TEST_SUPPORT:
                out.append(f"{layer.name} may import {TEST_SUPPORT}: only test code may")
            elif (layer.level is not None and table[target].level is not None
                  and table[target].level < layer.level):
                out.append(f"{layer.name} may import {target}, which is above it")
        edges[layer.name] = {t for t in layer.may_import if t != "*"}
    for comp in cycles(edges):
        out.append(f"the table allows a cycle among {', '.join(comp)}")
    return out


def render(result: Result, report_only: bool, out=sys.stdout) -> int:
    total = sum(len(v) for v in result.errors.values())
    print(f"layering: {result.files} files, {result.uses} uses of other top-level modules",
          file=out)
    for rule, findings in result.errors.items():
        if not findings:
            print(f"OK   {rule}", file=out)
            continue
        print(f"FAIL {rule}: {len(findings)}", file=out)
        for f in findings:
            print(f"  {f.where}: {f.message}" if f.where else f"  {f.message}", file=out)
    if result.warnings:
        print(f"WARN test code naming modules above its layer (not a failure): "
              f"{len(result.warnings)}", file=out)
        for f in result.warnings:
            print(f"  {f.where}: {f.message}", file=out)
    if total == 0:
        print("layering: OK", file=out)
        return 0
    tail = " (--report: exit 0)" if report_only else ""
    print(f"layering: {total} violations{tail}", file=out)
    return 0 if report_only else 1


def markdown() -> str:
    lines = ["| Level | Folder | Owns | May import (non-test code) | Why |",
             "| --- | --- | --- | --- | --- |"]
    for layer in LAYERS:
        level = "test" if layer.level is None else str(layer.level)
        folder = "`src/main.rs`" if layer.name == "main" else f"`src/{layer.name}/`"
        may = ("anything" if "*" in layer.may_import
               else ", ".join(f"`{m}`" for m in layer.may_import) or "nothing")
        lines.append(f"| {level} | {folder} | {layer.owns} | {may} | {layer.note} |")
    return "\n".join(lines) + "\n"


# --- the checker's own tests -------------------------------------------------------


class SelfTest(unittest.TestCase):
    def tree(self, files: Dict[str, str]) -> Tree:
        d = tempfile.TemporaryDirectory()
        self.addCleanup(d.cleanup)
        for rel, text in files.items():
            path = os.path.join(d.name, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(textwrap.dedent(text))
        return read_tree(d.name)

    def uses(self, tree: Tree) -> List[Tuple[str, int, str, str, bool]]:
        return sorted((u.file, u.line, u.source, u.target, u.test)
                      for sf in tree.files.values() for u in sf.uses)

    def messages(self, result: Result, rule: str) -> str:
        return "\n".join(f"{f.where}: {f.message}" if f.where else f.message
                         for f in result.errors[rule])

    def test_a_cycle_is_found_with_its_files_and_lines(self):
        t = self.tree({
            "src/lib.rs": "pub mod routing;\npub mod policy;\n",
            "src/routing/mod.rs": "//! routing\nuse crate::policy::Allowlist;\n",
            "src/policy/mod.rs": "\n\nuse crate::routing::EmergencyNumbers;\n",
        })
        r = check(t)
        text = self.messages(r, RULE_CYCLE)
        self.assertEqual(len(r.errors[RULE_CYCLE]), 1, text)
        self.assertIn("cycle among policy, routing", text)
        self.assertIn("src/routing/mod.rs:2: routing -> policy (crate::policy::Allowlist)", text)
        # policy -> routing is what the table allows: counted, not listed
        self.assertNotIn("src/policy/mod.rs", text)
        self.assertIn("(and 1 uses inside the cycle that the table allows)", text)

    def test_no_cycle_when_imports_point_one_way(self):
        t = self.tree({
            "src/routing/mod.rs": "use crate::sip::Message;\n",
            "src/policy/mod.rs": "use crate::routing::EmergencyNumbers;\n",
            "src/sip/mod.rs": "pub struct Message;\n",
        })
        r = check(t)
        self.assertEqual(r.errors[RULE_CYCLE], [])
        self.assertEqual(sum(len(v) for v in r.errors.values()), 0, r.errors)

    def test_an_upward_import_is_found(self):
        t = self.tree({
            "src/config/mod.rs": "pub fn f() { let _ = crate::routing::Router::compile(); }\n",
            "src/routing/mod.rs": "pub struct Router;\n",
        })
        text = self.messages(check(t), RULE_TABLE)
        self.assertIn("src/config/mod.rs:1: config names routing (crate::routing::Router::compile)",
                      text)
        self.assertIn("config may import: nothing", text)

    def test_sip_may_name_no_other_module_not_even_in_tests(self):
        t = self.tree({
            "src/sip/endpoint.rs": "use crate::config::Config;\n",
            "src/sip/tests.rs": "use crate::call::B2bua;\n",
            "src/sip/mod.rs": "use self::endpoint::X;\nuse crate::sip::message::Uri;\n",
            "src/config/mod.rs": "",
            "src/call/mod.rs": "",
        })
        r = check(t)
        text = self.messages(r, RULE_SIP)
        self.assertIn("src/sip/endpoint.rs:1: sip names config", text)
        self.assertIn("src/sip/tests.rs:1: sip names call", text)
        self.assertEqual(len(r.errors[RULE_SIP]), 2, text)  # crate::sip is not another module

    def test_a_multi_line_use_group_is_parsed(self):
        t = self.tree({
            "src/call/mod.rs": """\
                use crate::{
                    config::{CallsConfig, Side},
                    media::sdp::Sdp,
                    self as root,
                };
                use crate::{routing::Router, sip::{message::Uri, transport::Peer}};
                """,
            "src/config/mod.rs": "", "src/media/mod.rs": "", "src/routing/mod.rs": "",
            "src/sip/mod.rs": "",
        })
        self.assertEqual(self.uses(t), [
            ("src/call/mod.rs", 2, "call", "config", False),
            ("src/call/mod.rs", 3, "call", "media", False),
            ("src/call/mod.rs", 6, "call", "routing", False),
            ("src/call/mod.rs", 6, "call", "sip", False),
        ])

    def test_comments_strings_and_chars_are_not_imports(self):
        t = self.tree({
            "src/media/mod.rs": r'''
                //! use crate::sip::message::Uri;
                /// crate::sip::Thing in a doc comment
                /* crate::sip /* nested */ crate::sip */
                const A: &str = "crate::sip::x";
                const B: &str = "a \" crate::sip::y";
                const C: &str = r#"crate::sip::" z"#;
                const D: &[u8] = br"crate::sip";
                const E: char = '"';
                fn f<'a>(x: &'a str) -> &'a str { x } // crate::sip
                const F: &str = "crate::config::ok_to_name_me";
                pub fn g() -> crate::config::Config { todo!() }
                ''',
            "src/sip/mod.rs": "", "src/config/mod.rs": "",
        })
        self.assertEqual(self.uses(t), [("src/media/mod.rs", 12, "media", "config", False)])

    def test_super_chains_that_leave_the_module_count(self):
        t = self.tree({
            "src/random.rs": "use super::sip::message::MAGIC;\nuse super::*;\n",
            "src/call/leg.rs": """\
                use super::dialog::Dialog;
                use super::super::media::Session;
                mod inner {
                    use super::super::Dialog;
                    use super::super::super::routing::Router;
                }
                """,
            "src/call/mod.rs": "mod leg;\n",
            "src/sip/mod.rs": "", "src/media/mod.rs": "", "src/routing/mod.rs": "",
        })
        self.assertEqual(self.uses(t), [
            ("src/call/leg.rs", 2, "call", "media", False),
            ("src/call/leg.rs", 5, "call", "routing", False),
            ("src/random.rs", 1, "random", "sip", False),
        ])

    def test_path_attribute_sets_the_module_path_and_marks_tests(self):
        t = self.tree({
            "src/media/latch.rs": """\
                pub fn f() {}
                #[cfg(test)]
                #[path = "latch_helpers.rs"]
                mod tests;
                """,
            "src/media/latch_helpers.rs": "use super::super::Session;\nuse crate::sip::X;\n",
            "src/media/mod.rs": "mod latch;\n",
            "src/sip/mod.rs": "",
        })
        helpers = t.files["src/media/latch_helpers.rs"]
        self.assertTrue(helpers.test_file)
        self.assertEqual(helpers.modpath, ["media", "latch", "tests"])
        # super::super from media::latch::tests is media, not the crate root
        self.assertEqual(self.uses(t), [("src/media/latch_helpers.rs", 2, "media", "sip", True)])

    def test_cfg_test_blocks_are_not_counted_and_braces_in_literals_are_skipped(self):
        body = "\n".join(f"    let _x{i} = {i};" for i in range(10))
        t = self.tree({
            "src/media/mod.rs": f"""\
pub fn f() {{}}

#[cfg(test)]
mod tests {{
    const S: &str = "}}}}";
    const C: char = '}}';
    // }} in a comment
    /* }} */
    const R: &str = r#"}}"#;
    fn g<'a>(_: &'a str) {{}}
{body}
}}

#[cfg(test)]
pub fn only_for_tests() -> usize {{
    1
}}

#[test]
fn alone() {{}}

pub struct Counted;
""",
        })
        sf = t.files["src/media/mod.rs"]
        self.assertEqual(sf.lines, 31)
        # counted: `pub fn f`, the four blank lines between items, `pub struct Counted`
        self.assertEqual(sf.code_lines, 6)

    def test_cfg_test_on_fields_and_statements(self):
        t = self.tree({
            "src/media/mod.rs": """\
                pub struct S {
                    a: u8,
                    #[cfg(test)]
                    b: u8,
                    c: u8,
                }
                pub fn f() {
                    #[cfg(test)]
                    let x = [1; 3];
                    let y = 2;
                }
                """,
        })
        sf = t.files["src/media/mod.rs"]
        self.assertEqual((sf.lines, sf.code_lines), (11, 7))

    def test_test_files_and_test_items_import_with_a_warning(self):
        t = self.tree({
            "src/call/mod.rs": """\
                #[cfg(test)]
                mod tests;
                #[cfg(test)]
                mod more {
                    use crate::app::Endpoint;
                    use crate::test_support::endpoint;
                }
                """,
            "src/call/tests.rs": "use crate::app::Endpoint;\n",
            "src/call/flow_tests.rs": "use crate::gateway::Gateway;\n",
            "src/call/extra.rs": "#![cfg(test)]\nuse crate::gateway::X;\n",
            "src/app/mod.rs": "", "src/gateway/mod.rs": "",
            "src/test_support/mod.rs": "use crate::app::Endpoint;\n",
        })
        r = check(t)
        self.assertEqual(r.errors[RULE_TABLE], [])
        self.assertEqual(r.errors[RULE_CYCLE], [])  # test edges make no cycle
        warned = sorted(f.where for f in r.warnings)
        self.assertEqual(warned, ["src/call/extra.rs:2", "src/call/flow_tests.rs:1",
                                  "src/call/mod.rs:5", "src/call/tests.rs:1"])
        # a folder declared by #[cfg(test)] mod is test code: not by name here
        t2 = self.tree({
            "src/call/mod.rs": "#[cfg(test)]\nmod fixtures;\n",
            "src/call/fixtures/mod.rs": "use crate::app::X;\nmod deep;\n",
            "src/call/fixtures/deep.rs": "use crate::app::Y;\n",
            "src/app/mod.rs": "",
        })
        self.assertTrue(all(u[4] for u in self.uses(t2)), self.uses(t2))
        self.assertEqual(check(t2).errors[RULE_TABLE], [])

    def test_non_test_code_may_not_use_test_support(self):
        t = self.tree({"src/call/mod.rs": "use crate::test_support::x;\n",
                       "src/test_support/mod.rs": ""})
        self.assertIn("call names test_support", self.messages(check(t), RULE_TABLE))

    def test_a_module_without_a_row_fails(self):
        t = self.tree({"src/random.rs": "pub fn f() {}\n", "src/sip/mod.rs": ""})
        self.assertIn("'random' has no row", self.messages(check(t), RULE_TABLE))

    def test_main_names_the_library_by_its_crate_name(self):
        t = self.tree({
            "Cargo.toml": '[package]\nname = "pbx-gate"\n\n[dependencies]\nname = "x"\n',
            "src/main.rs": "use pbx_gate::gateway::Gateway;\nuse pbx_gate::{app::A, config::C};\n",
            "src/gateway/mod.rs": "", "src/app/mod.rs": "", "src/config/mod.rs": "",
        })
        self.assertEqual(self.uses(t), [
            ("src/main.rs", 1, "main", "gateway", False),
            ("src/main.rs", 2, "main", "app", False),
            ("src/main.rs", 2, "main", "config", False),
        ])
        self.assertIn("main names app", self.messages(check(t), RULE_TABLE))

    def test_visibility_paths_name_only_ancestors(self):
        t = self.tree({"src/sip/a.rs": "pub(in crate::sip) fn f() {}\npub(crate) fn g() {}\n",
                       "src/sip/mod.rs": "mod a;\n"})
        self.assertEqual(self.uses(t), [])

    def test_line_limits(self):
        def lines(n: int) -> str:
            return "".join(f"pub const C{i}: u8 = 0;\n" for i in range(n))
        t = self.tree({
            "src/call/b2bua.rs": lines(701),
            "src/call/leg.rs": lines(700),
            "src/call/tests.rs": lines(2000),
            "src/media/relay.rs": lines(1000),
            "src/media/engine.rs": lines(1001),
            "src/media/mod.rs": "", "src/call/mod.rs": "",
        })
        text = self.messages(check(t), RULE_SIZE)
        self.assertIn("src/call/b2bua.rs: 701 lines of non-test code; a call-flow file", text)
        self.assertIn("src/media/engine.rs: 1001 lines of non-test code; a file may have at "
                      "most 1000", text)
        self.assertNotIn("leg.rs", text)
        self.assertNotIn("relay.rs", text)
        self.assertNotIn("tests.rs", text)

    def test_report_mode_exits_zero_and_check_mode_one(self):
        import io
        t = self.tree({"src/config/mod.rs": "use crate::sip::X;\n", "src/sip/mod.rs": ""})
        r = check(t)
        out = io.StringIO()
        self.assertEqual(render(r, True, out), 0)
        self.assertIn("FAIL " + RULE_TABLE, out.getvalue())
        self.assertIn("OK   " + RULE_SIP, out.getvalue())
        self.assertEqual(render(r, False, io.StringIO()), 1)
        clean = check(self.tree({"src/sip/mod.rs": ""}))
        self.assertEqual(render(clean, False, io.StringIO()), 0)

    def test_the_table_points_down_and_has_no_cycle(self):
        self.assertEqual(table_errors(), [])
        for name in ("main", "gateway", "app", "call", "routing", "policy", "media", "sip",
                     "config", "logging", "web", "events", "line", "store"):
            self.assertIn(name, rows())
        self.assertEqual(rows()["sip"].may_import, ())
        self.assertEqual(rows()["config"].may_import, ())
        self.assertNotIn("sip", rows()["media"].may_import)

    def test_the_architecture_doc_shows_this_table(self):
        doc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs",
                           "architecture.md")
        if not os.path.exists(doc):
            self.skipTest("no docs/architecture.md beside this script")
        with open(doc, encoding="utf-8") as f:
            self.assertIn(markdown(), f.read(),
                          "docs/architecture.md's layer table differs from LAYERS: paste the "
                          "output of `python3 tests/layering.py --markdown` there")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--report", action="store_true",
                    help="print every finding but exit 0 (while a restructure is under way)")
    ap.add_argument("--self-test", action="store_true", help="run the checker's own tests")
    ap.add_argument("--markdown", action="store_true", help="print the layer table as Markdown")
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   ".."),
                    help="the checkout to check (default: the one holding this script)")
    args = ap.parse_args()
    if args.self_test:
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(SelfTest)
        ok = unittest.TextTestRunner(verbosity=1).run(suite).wasSuccessful()
        return 0 if ok else 1
    if args.markdown:
        sys.stdout.write(markdown())
        return 0
    problems = table_errors()
    if problems:
        for p in problems:
            print(f"layering: the table in tests/layering.py: {p}", file=sys.stderr)
        return 1
    return render(check(read_tree(os.path.abspath(args.root))), args.report)


if __name__ == "__main__":
    sys.exit(main())
