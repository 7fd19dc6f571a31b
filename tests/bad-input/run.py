#!/usr/bin/env python3
"""Runs the bad-input corpus (tests/bad-input/README.md) against the `escalon` CLI.

Usage: run.py ESCALON [--update] [--only SUBSTRING] [--min-cases N] [--jobs N] [-v]

Every `*.expect` file below this folder is one case. The runner runs its command, normalizes the
output and compares exit code, standard output and standard error with the expectation, exactly.
It prints a diff for each mismatch and exits 1 when any case failed. `--update` rewrites the
expectations from what the CLI does now (never from the ctest: read the diff first).
Standard library only.
"""

import argparse
import concurrent.futures
import difflib
import hashlib
import os
import random
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent.parent
# How long a case may take before it counts as a hang. A sanitizer build is several times
# slower and runs its cases side by side on few cores: scripts/test-sanitizers.sh sets
# ESCALON_SLOWDOWN to stretch every limit (the 1,000,000-node budget cases take ~5 s there alone).
SLOWDOWN = float(os.environ.get("ESCALON_SLOWDOWN", "1"))
DEFAULT_TIMEOUT = 10.0 * SLOWDOWN
# A run of this many equal characters is written as {N*'c'}: deep nesting and long strings keep
# their expectations readable and exact.
RUN_MIN = 48


class CaseError(Exception):
    """The .expect file itself is wrong (not a mismatch of the CLI)."""


class Expect:
    """One parsed .expect file: header directives, then `exit:`, `stdout:`, `stderr:`."""

    def __init__(self, path):
        self.path = path
        self.cmd = None
        self.lets = []            # (kind, name, python expression) in file order
        self.xfail = None
        self.xfail_store = None   # only the store check is expected to fail (a known bug)
        self.timeout = DEFAULT_TIMEOUT
        self.writes = set()       # stores this case may change
        self.exit = None
        self.stdout = ""
        self.stderr = ""
        self._parse(path.read_text(encoding="utf-8"))

    def _parse(self, text):
        lines = text.split("\n")
        i = 0
        while i < len(lines) and not lines[i].startswith("exit:"):
            line = lines[i]
            i += 1
            if not line.strip() or line.startswith("#"):
                continue
            m = re.match(r"(let|file|db)\s+([\w.-]+)\s*=\s*(.+)$", line)
            if m:
                self.lets.append((m.group(1), m.group(2), m.group(3)))
                continue
            key, _, value = line.partition(":")
            value = value.strip()
            if key == "cmd":
                self.cmd = value
            elif key == "xfail":
                self.xfail = value
            elif key == "xfail-store":
                self.xfail_store = value
            elif key == "timeout":
                self.timeout = float(value) * SLOWDOWN
            elif key == "writes":
                self.writes.update(value.split())
            else:
                raise CaseError(f"{self.path}: cannot read header line {line!r}")
        if self.cmd is None:
            raise CaseError(f"{self.path}: no `cmd:` line")
        if i == len(lines):
            return  # a new case: --update fills in what the CLI does
        self.exit = int(lines[i].partition(":")[2])
        section = None
        out = {"stdout": [], "stderr": []}
        for line in lines[i + 1:]:
            if line in ("stdout:", "stderr:"):
                section = line[:-1]
            elif line.startswith("|"):
                if section is None:
                    raise CaseError(f"{self.path}: output line before `stdout:`/`stderr:`")
                out[section].append(line[2:] if line.startswith("| ") else line[1:])
            elif line == "\\ no newline at end" and section:
                out[section].append(None)
            elif line.strip():
                raise CaseError(f"{self.path}: cannot read {line!r} (output lines start with '|')")
        self.stdout = join_output(out["stdout"])
        self.stderr = join_output(out["stderr"])


def join_output(lines):
    if not lines:
        return ""
    if lines[-1] is None:
        return "\n".join(lines[:-1])
    return "\n".join(lines) + "\n"


def format_output(text):
    if text == "":
        return []
    body = text[:-1] if text.endswith("\n") else text
    lines = [("| " + line) if line else "|" for line in body.split("\n")]
    if not text.endswith("\n"):
        lines.append("\\ no newline at end")
    return lines


def collapse_runs(text):
    return re.sub(r"(.)\1{%d,}" % (RUN_MIN - 1), lambda m: "{%d*%r}" % (len(m.group(0)), m.group(1)), text, flags=re.S)


# ---- stores: a real one, made once per run, then copies of it damaged on purpose ----

class Stores:
    """Makes the base store lazily (one `escalon run --db`) and hands out damaged copies."""

    def __init__(self, escalon, tmp):
        self.escalon = escalon
        self.path = Path(tmp) / "base.db"
        self.lock = threading.Lock()
        self.made = False

    def base(self):
        with self.lock:
            if not self.made:
                d = HERE / "store"
                r = subprocess.run([self.escalon, "run", str(d / "_flows"), "--scenario", str(d / "_base-scenario.yaml"),
                                    "--db", str(self.path), "-q"], cwd=SRC, capture_output=True, text=True, timeout=30)
                if r.returncode != 0:
                    raise RuntimeError(f"cannot make the base store: {r.stderr}")
                for suffix in ("-wal", "-journal"):
                    if Path(str(self.path) + suffix).exists() and Path(str(self.path) + suffix).stat().st_size:
                        raise RuntimeError(f"the base store left a non-empty {suffix} file")
                self.made = True
        return self.path.read_bytes()


def make_namespace(stores, case_tmp):
    """What a `let`, `file` or `db` expression may call."""

    def base_store():
        return stores.base()

    def with_sql(data, *statements):
        p = Path(case_tmp) / ".scratch.db"
        p.write_bytes(data)
        con = sqlite3.connect(p)
        try:
            for s in statements:
                con.execute(s)
            con.commit()
        finally:
            con.close()
        out = p.read_bytes()
        p.unlink()
        return out

    def case_state(case_id, **changes):
        """The base store with keys of one case's state JSON replaced (None removes the key)."""
        import json
        data = stores.base()
        p = Path(case_tmp) / ".scratch.db"
        p.write_bytes(data)
        con = sqlite3.connect(p)
        try:
            row = con.execute("SELECT state FROM cases WHERE id = ?", (case_id,)).fetchone()
            if row is None:
                raise CaseError(f"the base store has no case {case_id!r}")
            state = json.loads(row[0])
            for k, v in changes.items():
                path = k.split("__")
                target = state
                for part in path[:-1]:
                    target = target[int(part)] if isinstance(target, list) else target[part]
                last = int(path[-1]) if isinstance(target, list) else path[-1]
                if v is REMOVE:
                    del target[last]
                else:
                    target[last] = v
            con.execute("UPDATE cases SET state = ? WHERE id = ?", (json.dumps(state), case_id))
            con.commit()
        finally:
            con.close()
        out = p.read_bytes()
        p.unlink()
        return out

    def state_text(case_id, old, new):
        """The base store with text in one case's stored state replaced (it must be there once)."""
        p = Path(case_tmp) / ".scratch.db"
        p.write_bytes(stores.base())
        con = sqlite3.connect(p)
        try:
            (state,) = con.execute("SELECT state FROM cases WHERE id = ?", (case_id,)).fetchone()
            if state.count(old) != 1:
                raise CaseError(f"{old!r} occurs {state.count(old)} times in the state of {case_id!r}: {state}")
            con.execute("UPDATE cases SET state = ? WHERE id = ?", (state.replace(old, new), case_id))
            con.commit()
        finally:
            con.close()
        out = p.read_bytes()
        p.unlink()
        return out

    def raw_state(case_id, text):
        return with_sql(stores.base(), "UPDATE cases SET state = %s WHERE id = '%s'" % (sql_quote(text), case_id))

    def random_bytes(n, seed=1):
        return random.Random(seed).randbytes(n)

    return {
        "__builtins__": {},
        "base_store": base_store, "with_sql": with_sql, "case_state": case_state, "state_text": state_text,
        "raw_state": raw_state,
        "random_bytes": random_bytes, "REMOVE": REMOVE, "len": len, "range": range, "str": str, "bytes": bytes, "chr": chr,
    }


REMOVE = object()


def sql_quote(text):
    return "'" + text.replace("'", "''") + "'"


# ---- one case ----

class Result:
    def __init__(self, name, status, detail="", actual=None):
        self.name, self.status, self.detail, self.actual = name, status, detail, actual


def prepare(expect, case_tmp, stores):
    """Evaluates the header's let/file/db lines; returns placeholders and the stores' hashes."""
    ns = make_namespace(stores, case_tmp)
    values, hashes = {}, {}
    for kind, name, expr in expect.lets:
        value = eval(expr, ns, dict(values))  # noqa: S307 - the corpus is code in this repository
        if kind == "let":
            values[name] = str(value)
            continue
        p = Path(case_tmp) / name
        p.write_bytes(value.encode("utf-8") if isinstance(value, str) else value)
        values[name] = str(p)
        if kind == "db":
            hashes[name] = hashlib.sha256(p.read_bytes()).hexdigest()
    return values, hashes


def build_argv(expect, escalon, values):
    words = shlex.split(expect.cmd)
    pattern = re.compile(r"\{([\w.-]+)\}")

    def sub(word):
        def one(m):
            if m.group(1) not in values:
                raise CaseError(f"{expect.path}: unknown placeholder {{{m.group(1)}}}")
            return values[m.group(1)]
        return pattern.sub(one, word)

    return [escalon] + [sub(w) for w in words]


def normalize(text, case_tmp):
    text = text.replace(str(case_tmp), "{tmp}").replace(str(SRC) + "/", "")
    return collapse_runs(text)


def run_case(path, escalon, stores, root_tmp):
    rel = path.relative_to(HERE)
    name = str(rel.with_suffix(""))
    case_tmp = Path(root_tmp) / name.replace("/", "__")
    case_tmp.mkdir(parents=True)
    try:
        expect = Expect(path)
        inputs = [p for p in path.parent.glob(path.stem + ".*") if p.suffix != ".expect"]
        values = {"tmp": str(case_tmp), "dir": str(path.parent.relative_to(SRC)), "src": str(SRC)}
        if len(inputs) == 1:
            values["input"] = str(inputs[0].relative_to(SRC))
        extra, hashes = prepare(expect, case_tmp, stores)
        values.update(extra)
        argv = build_argv(expect, escalon, values)
    except (CaseError, OSError, RuntimeError, SyntaxError, NameError, TypeError, KeyError, ValueError) as e:
        return Result(name, "ERROR", f"{type(e).__name__}: {e}")
    env = dict(os.environ, TZ="UTC", LC_ALL="C", LANG="C")
    started = time.monotonic()
    try:
        r = subprocess.run(argv, cwd=SRC, capture_output=True, timeout=expect.timeout, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return finish(expect, name, "HANG", f"no answer within {expect.timeout:g} s (killed)")
    if os.environ.get("BAD_INPUT_TIMES"):
        print(f"{time.monotonic() - started:6.2f} s {name}", file=sys.stderr)
    out = normalize(r.stdout.decode("utf-8", "backslashreplace"), case_tmp)
    err = normalize(r.stderr.decode("utf-8", "backslashreplace"), case_tmp)
    actual = (r.returncode, out, err)
    problems, notes = [], []
    if r.returncode < 0:
        return finish(expect, name, "CRASH", f"killed by signal {signal.Signals(-r.returncode).name}\n{err}")
    for db, before in hashes.items():
        if db in expect.writes:
            continue
        after = hashlib.sha256(Path(values[db]).read_bytes()).hexdigest()
        if after != before:
            (notes if expect.xfail_store else problems).append(f"store {db} changed: sha256 {before[:16]}... -> {after[:16]}...")
        elif expect.xfail_store:
            problems.append(f"store {db} is unchanged now: remove `xfail-store: {expect.xfail_store}` and its entry in KNOWN-BUGS.md")
    if expect.exit is None:
        problems.append("no expectation yet (run with --update)")
    elif r.returncode != expect.exit:
        problems.append(f"exit {r.returncode}, expected {expect.exit}")
    for label, want, got in (("stdout", expect.stdout, out), ("stderr", expect.stderr, err)):
        if want != got:
            diff = list(difflib.unified_diff(want.splitlines(), got.splitlines(), f"expected {label}", f"actual {label}", lineterm="", n=2))
            if len(diff) > 60:
                diff = diff[:60] + [f"... ({len(diff) - 60} more diff lines)"]
            problems.append("\n".join(line[:2000] for line in diff))
    if not problems and notes:
        res = Result(name, "xfail", f"{expect.xfail_store}\n" + "\n".join(notes))
        res.actual = actual
        return res
    res = finish(expect, name, "FAIL" if problems else "ok", "\n".join(problems))
    res.actual = actual
    return res


def finish(expect, name, status, detail):
    if expect.xfail:
        if status == "ok":
            return Result(name, "XPASS", f"passes now: remove `xfail: {expect.xfail}` and its entry in KNOWN-BUGS.md")
        return Result(name, "xfail", f"{expect.xfail}\n{detail}")
    return Result(name, status, detail)


def update(path, actual):
    text = path.read_text(encoding="utf-8").split("\n")
    header = []
    for line in text:
        if line.startswith("exit:"):
            break
        header.append(line)
    while header and not header[-1].strip():
        header.pop()
    code, out, err = actual
    lines = header + [f"exit: {code}", "stdout:"] + format_output(out) + ["stderr:"] + format_output(err)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("escalon", help="the escalon CLI binary")
    ap.add_argument("--update", action="store_true", help="rewrite the expectations from the current output")
    ap.add_argument("--only", default="", help="run only cases whose name contains this")
    ap.add_argument("--min-cases", type=int, default=0, help="fail when fewer cases are found")
    ap.add_argument("--jobs", type=int, default=6, help="cases run at once (each is a short process)")
    ap.add_argument("-v", "--verbose", action="store_true", help="also print the expected failures' diffs")
    args = ap.parse_args()
    escalon = str(Path(args.escalon).resolve())
    cases = sorted(p for p in HERE.rglob("*.expect") if args.only in str(p.relative_to(HERE)))
    if not args.only and len(cases) < args.min_cases:
        print(f"only {len(cases)} cases found, expected at least {args.min_cases}")
        return 1
    root_tmp = tempfile.mkdtemp(prefix="escalon-bad-input-")
    try:
        stores = Stores(escalon, root_tmp)
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(lambda p: (p, run_case(p, escalon, stores, root_tmp)), cases))
    finally:
        shutil.rmtree(root_tmp, ignore_errors=True)
    counts = {}
    for path, res in results:
        counts[res.status] = counts.get(res.status, 0) + 1
        if args.update and res.actual is not None and res.status == "FAIL":
            update(path, res.actual)
            print(f"updated {res.name}")
            continue
        if res.status in ("FAIL", "ERROR", "HANG", "CRASH", "XPASS") or (res.status == "xfail" and args.verbose):
            print(f"{res.status} {res.name}")
            if res.detail:
                print("  " + res.detail.replace("\n", "\n  "))
        elif res.status == "xfail":
            print(f"xfail {res.name} ({res.detail.splitlines()[0]})")
    print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + f" of {len(results)} cases")
    bad = sum(counts.get(s, 0) for s in ("ERROR", "HANG", "CRASH", "XPASS")) + (0 if args.update else counts.get("FAIL", 0))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
