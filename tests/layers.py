#!/usr/bin/env python3
"""The layers of libvrm, checked from the #include lines of lib/.

lib/ is built in layers, each a folder, each including only itself and the
layers below it (DESIGN.md, "Parts"):

    base < store < data < consent < msg < lib/ itself (vrm.h, export)

A module is a .c file with its .h and _int.h beside it.  No two modules may
include each other, directly or through others.  Every include of a libvrm
header names its layer ("base/error.h"), so what a file depends on shows
where it is included.  The public front door, vrm.h, must not hand cJSON to
its users: nothing it includes, directly or not, includes <cjson/cJSON.h>.
Every function a header declares that returns a status (int, ssize_t or
int64_t) is warn_unused_result, but for vrm_error (which returns its
argument, for `return vrm_error(...)`) and the strbuf's adds (the buffer
remembers a failure for one check at the end).

    tests/layers.py SRCDIR        TAP on standard output; exit 1 on a failure
"""
import os
import re
import sys

LAYERS = ["base", "store", "data", "consent", "msg", ""]   # "" is lib/ itself
INCLUDE = re.compile(r'^\s*#\s*include\s+([<"])([^>"]+)[>"]')


def layer_of(rel):
    """The layer of a path relative to lib/: its folder, or "" for lib/."""
    head = rel.split("/")[0] if "/" in rel else ""
    return head if head in LAYERS else None


def module_of(rel):
    return re.sub(r"(_int)?\.[ch]$", "", rel)


def scan(lib):
    """{path relative to lib/: [(kind, name, line number)]} of every C file."""
    files = {}
    for d, _, names in os.walk(lib):
        for n in names:
            if n.endswith((".c", ".h")):
                p = os.path.join(d, n)
                rel = os.path.relpath(p, lib)
                incs = []
                with open(p, encoding="utf-8") as f:
                    for i, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if m:
                            incs.append((m.group(1), m.group(2), i))
                files[rel] = incs
    return files


def cycles(edges):
    """The strongly connected components of more than one module."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
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

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    lib = os.path.join(src, "lib")
    files = scan(lib)
    by_base = {}
    for rel in files:
        by_base.setdefault(os.path.basename(rel), []).append(rel)

    unnamed, upward, edges = [], [], {}
    for rel, incs in sorted(files.items()):
        here = layer_of(rel)
        for kind, name, line in incs:
            if kind != '"':
                continue
            if name not in files:
                if os.path.basename(name) in by_base:
                    unnamed.append(f"lib/{rel}:{line}: \"{name}\" should be written "
                                   f"\"{by_base[os.path.basename(name)][0]}\"")
                continue       # not libvrm's (vrm_config.h)
            there = layer_of(name)
            if here is None or there is None:
                upward.append(f"lib/{rel}: not in a layer folder")
                continue
            if LAYERS.index(there) > LAYERS.index(here):
                upward.append(f"lib/{rel}:{line}: layer {here or 'lib'} includes "
                              f"\"{name}\" of the higher layer {there or 'lib'}")
            a, b = module_of(rel), module_of(name)
            if a != b:
                edges.setdefault(a, set()).add(b)

    def pulls_cjson(rel, seen):
        if rel in seen or rel not in files:
            return None
        seen.add(rel)
        for kind, name, _ in files[rel]:
            if kind == "<" and name == "cjson/cJSON.h":
                return [rel]
            if kind == '"':
                chain = pulls_cjson(name, seen)
                if chain:
                    return [rel] + chain
        return None

    unchecked = []
    decl = re.compile(r"^(?:int|ssize_t|int64_t) (vrm_\w+)\(([^;{]*);", re.M)
    free_to_ignore = {"vrm_error", "vrm_strbuf_grow", "vrm_strbuf_add", "vrm_strbuf_adds",
                      "vrm_strbuf_addch", "vrm_strbuf_addf"}
    for rel in sorted(files):
        if not rel.endswith(".h"):
            continue
        with open(os.path.join(lib, rel), encoding="utf-8") as f:
            text = f.read()
        for m in decl.finditer(text):
            if m.group(1) not in free_to_ignore and "warn_unused_result" not in m.group(2):
                line = text.count("\n", 0, m.start()) + 1
                unchecked.append(f"lib/{rel}:{line}: {m.group(1)} returns a status "
                                 f"without warn_unused_result")

    checks = [
        ("every include of a libvrm header names its layer", unnamed),
        ("no layer includes a higher one", upward),
        ("no two modules include each other, directly or through others",
         [" <-> ".join(c) + ": " + "; ".join(
             f"{a} includes {', '.join(sorted(x for x in edges[a] if x in c))}"
             for a in c) for c in cycles(edges)]),
        ("vrm.h does not pull <cjson/cJSON.h> into its users",
         [" -> ".join(chain) for chain in [pulls_cjson("vrm.h", set())] if chain]),
        ("every function of a header that returns a status is warn_unused_result",
         unchecked),
    ]
    print(f"1..{len(checks)}")
    failed = 0
    for i, (what, problems) in enumerate(checks, 1):
        print(f"{'not ok' if problems else 'ok'} {i} - {what}")
        for p in problems:
            print(f"# {p}")
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
