#!/usr/bin/env python3
"""Fills OUT/<target>/ with seed inputs gathered from the repository, so they need not be
copied into git: flows and test flows (fuzz_flow_loader), scenarios, simulation models,
expressions quoted in the C++ tests and written in flows (fuzz_expr). The hand-written seeds
in fuzz/corpus/<target>/ and the kept crashers in fuzz/crashers/<target>/ are added too.
Usage: gather_seeds.py REPO OUT"""
import hashlib
import pathlib
import re
import sys

repo = pathlib.Path(sys.argv[1])
out = pathlib.Path(sys.argv[2])


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    # Named by content, like libFuzzer names its own finds: gathering again adds nothing twice.
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def files(*globs):
    for g in globs:
        yield from sorted(repo.glob(g))


for f in files("flows/**/*.yaml", "tests/flows/**/*.yaml", "tests/flows/**/*.yml"):
    put("fuzz_flow_loader", f.read_bytes())
for f in files("examples/scenarios/*.yaml"):
    put("fuzz_scenario", f.read_bytes())
for f in files("examples/models/*.yaml"):
    put("fuzz_model", f.read_bytes())

# Expressions: string literals the expression tests compile, and guards/`set`/`at:` in flows.
call = re.compile(r'\b(?:eval|compile_expression|error_message|error_offset|compile_error|test_expr)\("((?:[^"\\]|\\.)*)"')
for f in files("tests/unit/*.cpp"):
    for m in call.finditer(f.read_text()):
        put("fuzz_expr", m.group(1).encode().decode("unicode_escape"))
yaml_expr = re.compile(r'\b(?:when|at|output|input|set):\s*(?:"([^"]+)"|([^{}\[\],#\n]+))')
for f in files("flows/**/*.yaml", "tests/flows/valid/**/*.yaml"):
    for m in yaml_expr.finditer(f.read_text()):
        text = (m.group(1) or m.group(2)).strip()
        if text and not text.endswith("%"):
            put("fuzz_expr", text)

for kept in ("corpus", "crashers"):
    for d in sorted((repo / "fuzz" / kept).glob("*")):
        for f in sorted(d.iterdir()):
            if f.is_file() and f.name != "README.md":
                put(d.name, f.read_bytes())
                # Both JSON targets read the same kind of text.
                twin = {"fuzz_payload": "fuzz_json_value", "fuzz_json_value": "fuzz_payload"}.get(d.name)
                if twin and kept == "corpus":
                    put(twin, f.read_bytes())
