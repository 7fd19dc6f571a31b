#!/usr/bin/env python3
"""Fails when a file includes a header of a layer it may not use.

The layers, their source folders, their public headers and the layers each may use come from
the build (src/CMakeLists.txt writes them to <build>/layers.json), so this script and the link
check read one table. Every folder of src/ and every header of include/escalon/ must belong to
a layer: a new one fails the check until it is placed.

Usage: check_layers.py LAYERS_JSON SOURCE_DIR
       check_layers.py --self-test
"""
import json
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^">]+)[">]', re.M)
SOURCES = (".cpp", ".hpp", ".h", ".cc", ".ipp", ".inl")


def layer_maps(layers):
    by_dir, by_header = {}, {}
    for name, layer in layers.items():
        for d in layer["dirs"]:
            by_dir[d] = name
        for h in layer["headers"]:
            by_header[h] = name
    return by_dir, by_header


def owner_of(include, angle, includer, root, by_dir, by_header):
    """The layer an include names: a layer's name, None for code outside the layered tree
    (the standard library, third-party headers), or "?" for a path that fits no layer."""
    if ".." in include.split("/"):
        return "?"
    if include.startswith("escalon/"):
        return by_header.get(include[len("escalon/"):], "?")
    if "/" in include:
        head = include.split("/", 1)[0]
        if head in by_dir:
            return by_dir[head]
        return None if angle else "?"
    if angle:
        return None
    # A bare name: a file next to the includer (its own layer), or a sibling public header.
    folder = os.path.dirname(includer)
    if os.path.exists(os.path.join(root, folder, include)):
        if folder == "include/escalon":
            return by_header.get(include, "?")
        return "self"
    return "?"


def check(layers, root):
    by_dir, by_header = layer_maps(layers)
    problems = []
    files = []
    src = os.path.join(root, "src")
    for d in sorted(os.listdir(src)):
        path = os.path.join(src, d)
        if not os.path.isdir(path):
            if d.endswith(SOURCES):
                problems.append(f"src/{d}: a source file directly in src/ belongs to no layer; put it in a layer's folder")
            continue
        if d not in by_dir:
            problems.append(f"src/{d}/: folder belongs to no layer; add it to a layer's DIRS in src/CMakeLists.txt")
            continue
        for dirpath, _, names in sorted(os.walk(path)):
            for f in sorted(names):
                if f.endswith(SOURCES):
                    files.append((os.path.relpath(os.path.join(dirpath, f), root), by_dir[d]))
    inc = os.path.join(root, "include", "escalon")
    for dirpath, _, names in sorted(os.walk(inc)):
        for f in sorted(names):
            rel = os.path.relpath(os.path.join(dirpath, f), inc)
            if not f.endswith(SOURCES):
                continue
            if rel not in by_header:
                problems.append(f"include/escalon/{rel}: header belongs to no layer; add it to a layer's HEADERS in src/CMakeLists.txt")
                continue
            files.append((f"include/escalon/{rel}", by_header[rel]))

    for rel, layer in files:
        with open(os.path.join(root, rel), encoding="utf-8") as fh:
            text = fh.read()
        allowed = {layer, "self", *layers[layer]["uses"]}
        for m in INCLUDE.finditer(text):
            name = m.group(2)
            target = owner_of(name, m.group(1) == "<", rel, root, by_dir, by_header)
            if target is None or target in allowed:
                continue
            line = text.count("\n", 0, m.start()) + 1
            if target == "?":
                problems.append(f'{rel}:{line}: #include "{name}" names no file of a layer (no "..", no files directly in src/)')
            else:
                problems.append(
                    f'{rel}:{line}: layer {layer} includes "{name}" of layer {target}, '
                    f'which it may not use (it may use: {", ".join(layers[layer]["uses"]) or "nothing"}); '
                    f"move the code to a lower layer or pass what it needs down")
    return problems, len(files)


def self_test():
    """The check must catch an upward include, an unknown folder and an unplaced header."""
    layers = {
        "base": {"dirs": ["base"], "headers": ["value.hpp"], "uses": []},
        "runtime": {"dirs": ["runtime"], "headers": ["engine.hpp"], "uses": ["base"]},
    }
    with tempfile.TemporaryDirectory() as root:
        def write(rel, text):
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w", encoding="utf-8") as fh:
                fh.write(text)
        write("include/escalon/value.hpp", "#pragma once\n")
        write("include/escalon/engine.hpp", '#include "escalon/value.hpp"\n')
        write("src/base/value.cpp", '#include "escalon/value.hpp"\n#include "base/json.hpp"\n')
        write("src/runtime/engine.cpp", '#include "escalon/engine.hpp"\n#include "base/json.hpp"\n')
        problems, _ = check(layers, root)
        assert problems == [], problems
        write("src/base/value.cpp", '#include "escalon/value.hpp"\n\n#include "runtime/core.hpp"\n')
        write("include/escalon/value.hpp", '#pragma once\n#include "escalon/engine.hpp"\n')
        write("include/escalon/stray.hpp", "#pragma once\n")
        write("src/stray/x.cpp", "")
        problems, _ = check(layers, root)
        text = "\n".join(problems)
        assert 'src/base/value.cpp:3: layer base includes "runtime/core.hpp" of layer runtime' in text, text
        assert 'include/escalon/value.hpp:2: layer base includes "escalon/engine.hpp"' in text, text
        assert "include/escalon/stray.hpp: header belongs to no layer" in text, text
        assert "src/stray/: folder belongs to no layer" in text, text
        assert len(problems) == 4, text
        # The other ways round: angle brackets, a sibling public header, "..", nested folders.
        write("src/base/value.cpp", '#include <escalon/engine.hpp>\n#include <vector>\n#include <fmt/format.h>\n')
        write("include/escalon/value.hpp", '#pragma once\n#include "engine.hpp"\n')
        write("src/base/deep/x.hpp", '#include "base/../runtime/core.hpp"\n')
        write("src/runtime/engine.cpp", '#include "escalon/engine.hpp"\n#include "helper.hpp"\n')
        write("src/runtime/helper.hpp", "")
        write("src/loose.cpp", "")
        problems, _ = check(layers, root)
        text = "\n".join(problems)
        assert 'src/base/value.cpp:1: layer base includes "escalon/engine.hpp" of layer runtime' in text, text
        assert 'include/escalon/value.hpp:2: layer base includes "engine.hpp" of layer runtime' in text, text
        assert 'src/base/deep/x.hpp:1: #include "base/../runtime/core.hpp" names no file of a layer' in text, text
        assert "src/loose.cpp: a source file directly in src/" in text, text
        assert "runtime/engine.cpp" not in text and "fmt/format.h" not in text and "<vector>" not in text, text
    print("self-test: upward includes (quoted, angle, sibling, through ..), unplaced files and folders are all reported")


def main(argv):
    if argv[1:] == ["--self-test"]:
        self_test()
        return 0
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as fh:
        layers = json.load(fh)
    problems, count = check(layers, argv[2])
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} layering problem(s) in {count} files", file=sys.stderr)
        return 1
    print(f"layers: {count} files checked against {len(layers)} layers, bottom to top: {', '.join(layers)}; no include goes up")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
