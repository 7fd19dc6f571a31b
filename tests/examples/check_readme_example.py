#!/usr/bin/env python3
"""Checks that the C++ block of README.md ("Using the library") is in examples/readme/main.cpp,
line for line and in order (whitespace at the ends aside), then runs the built example from the
repository root. Usage: check_readme_example.py SOURCE_DIR EXAMPLE_BINARY"""
import json
import pathlib
import subprocess
import sys

root = pathlib.Path(sys.argv[1])
readme = (root / "README.md").read_text(encoding="utf-8")
start = readme.index("## Using the library")
block = readme[readme.index("```cpp\n", start) + 7:]
block = block[:block.index("```")]
example = [line.strip() for line in (root / "examples/readme/main.cpp").read_text(encoding="utf-8").splitlines()]
at = 0
for line in (l.strip() for l in block.splitlines()):
    if not line:
        continue
    try:
        at = example.index(line, at) + 1
    except ValueError:
        sys.exit(f"README.md's C++ example has a line that examples/readme/main.cpp lacks (or has out of order):\n  {line}")
run = subprocess.run([sys.argv[2]], cwd=root, capture_output=True, text=True)
if run.returncode != 0:
    sys.exit(f"the README example failed (exit {run.returncode}):\n{run.stderr}")
records = [json.loads(l) for l in run.stdout.splitlines()]
assert records and records[0]["type"] == "started", records[:1]
assert any(r["type"] == "escalated" for r in records), "30 hours on, the ticket should have escalated"
print(f"README example: {len(records)} journal records; {run.stderr.strip()}")
