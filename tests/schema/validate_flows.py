#!/usr/bin/env python3
"""Validates every flow and library file under the given folders against schemas/flow.schema.json,
and checks that the schema rejects a few broken documents (so the test can fail).

YAML is read with YAML 1.2 core scalars: PyYAML's default (YAML 1.1) would read the step key
`on:` as the boolean true and dates as date objects, which is not how Escalon reads them. Merge
keys (`<<: *defaults`) are resolved, as Escalon does: the schema describes the merged maps.
"""
import json
import pathlib
import re
import sys

import jsonschema
import yaml


class CoreLoader(yaml.SafeLoader):
    pass


CoreLoader.yaml_implicit_resolvers = {}
for tag, pattern, first in [
    ("tag:yaml.org,2002:bool", r"^(?:true|false)$", "tf"),
    ("tag:yaml.org,2002:int", r"^[-+]?[0-9]+$", "-+0123456789"),
    ("tag:yaml.org,2002:float", r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$", "-+0123456789."),
    ("tag:yaml.org,2002:null", r"^(?:~|null|)$", ["~", "n", None]),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", ["<"]),
]:
    CoreLoader.add_implicit_resolver(tag, re.compile(pattern), list(first))


def main() -> int:
    root = pathlib.Path(__file__).resolve().parents[2]
    schema = json.loads((root / "schemas/flow.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    folders = [root / p for p in (sys.argv[1:] or ["flows", "tests/flows/valid"])]
    files = sorted(f for d in folders for f in d.rglob("*.y*ml"))
    failures = 0
    for f in files:
        doc = yaml.load(f.read_text(), Loader=CoreLoader)
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        for e in errors:
            print(f"{f.relative_to(root)}: {'/'.join(map(str, e.path))}: {e.message[:200]}")
        failures += bool(errors)
    broken = {
        "unknown top-level key": {"flow": "x", "start": "a", "steps": {"a": {"end": True}}, "tittle": "x"},
        "bad duration": {"flow": "x", "start": "a", "steps": {"a": {"deadline": {"within": "soon"}, "on": {"e": "a"}}}},
        "bad step name": {"flow": "x", "start": "A", "steps": {"A": {"end": True}}},
        "rung without at or after": {"flow": "x", "start": "a", "steps": {"a": {"deadline": {"within": "1h", "escalate": [{"notify": "x"}]}, "on": {"e": "a"}}}},
    }
    for what, doc in broken.items():
        if validator.is_valid(doc):
            print(f"schema accepted a broken document: {what}")
            failures += 1
    checked = len(files) + len(broken)
    print(f"{checked - failures} passed, {failures} failed")
    return 1 if failures or not files else 0


if __name__ == "__main__":
    sys.exit(main())
