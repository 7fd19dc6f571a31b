#!/usr/bin/env python3
"""Lists functions longer than a limit in C++ sources (a brace-counting heuristic, not a parser).

Usage: long_functions.py [--max N] [--max-file M] PATH...
  PATH is a file, or a folder: every *.cpp and *.hpp below it, in name order.
  Exit 1 when any function is longer than N lines (default 80) or, with --max-file, any
  file is longer than M lines.
"""
import os
import re
import sys

CONTROL = re.compile(r'^\s*(\}\s*)?(if|for|while|switch|catch|else|do|try|namespace|struct|class|enum|union|extern)\b')


def strip(line, in_block):
    out, i = [], 0
    while i < len(line):
        if in_block:
            j = line.find('*/', i)
            if j < 0:
                return ''.join(out), True
            i, in_block = j + 2, False
        elif line.startswith('//', i):
            break
        elif line.startswith('/*', i):
            in_block, i = True, i + 2
        elif line[i] in '"\'':
            q, i = line[i], i + 1
            while i < len(line) and line[i] != q:
                i += 2 if line[i] == '\\' else 1
            i += 1
            out.append('""')
        else:
            out.append(line[i])
            i += 1
    return ''.join(out), in_block


def functions(path):
    text = open(path, encoding='utf-8').read()
    text = re.sub(r'R"(\w*)\((.*?)\)\1"', '""', text, flags=re.S)  # raw strings
    stack, in_block, header = [], False, ''
    for n, raw in enumerate(text.splitlines(), 1):
        line, in_block = strip(raw, in_block)
        for ch in line:
            if ch == '{':
                h = header.strip()
                is_fn = ('(' in h and ')' in h and not CONTROL.match(h) and not h.endswith('=')
                         and not re.search(r'\[[^\]]*\]\s*(\([^)]*\))?\s*(mutable\s*)?(->\s*[\w:<>]+\s*)?$', h))
                stack.append((n, is_fn, h))
                header = ''
            elif ch == '}':
                if stack:
                    start, is_fn, h = stack.pop()
                    if is_fn and not any(f for _, f, _ in stack):
                        yield start, n, h
                header = ''
            elif ch == ';':
                header = ''
            else:
                header += ch
        header += ' '


def sources(paths):
    for path in paths:
        if not os.path.isdir(path):
            yield path
            continue
        found = []
        for root, dirs, files in os.walk(path):
            dirs.sort()
            found += [os.path.join(root, f) for f in files if f.endswith(('.cpp', '.hpp'))]
        yield from sorted(found)


def main(argv):
    limit, file_limit = 80, None
    while argv[:1] in (['--max'], ['--max-file']):
        if len(argv) < 2:
            sys.exit(f'{argv[0]} needs a number')
        if argv[0] == '--max':
            limit = int(argv[1])
        else:
            file_limit = int(argv[1])
        argv = argv[2:]
    bad = 0
    for path in sources(argv):
        if file_limit is not None:
            with open(path, encoding='utf-8') as f:
                lines = sum(1 for _ in f)
            if lines > file_limit:
                bad += 1
                print(f'{path}: {lines} lines: the file is longer than {file_limit}')
        for start, end, h in functions(path):
            if end - start + 1 > limit:
                bad += 1
                name = re.sub(r'\s+', ' ', h)[-90:]
                print(f'{path}:{start}: {end - start + 1} lines: {name}')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
