#!/usr/bin/env python3
"""Pre-commit check: validates flow files and folders, prints gcc-style problems, fails on errors.

    validate_flows.py [--strict] PATH...

In .git/hooks/pre-commit:  exec python3 examples/python/validate_flows.py --strict flows/
Exit status: 0 valid, 1 problems found (errors, or warnings with --strict), 2 bad usage.
"""
import argparse
import sys

import escalon


def main(argv=None):
    parser = argparse.ArgumentParser(description="Validate Escalon flows (for a pre-commit hook).")
    parser.add_argument("paths", nargs="+", help="flow files or folders")
    parser.add_argument("--strict", action="store_true", help="warnings fail the check too")
    args = parser.parse_args(argv)
    problems = escalon.validate(args.paths, strict=args.strict)
    for d in problems:
        print(d, file=sys.stderr)
    errors = sum(d.severity == "error" for d in problems)
    warnings = len(problems) - errors
    failed = errors > 0 or (args.strict and warnings > 0)
    print(f"{'FAILED' if failed else 'ok'}: {errors} error(s), {warnings} warning(s) in {', '.join(args.paths)}",
          file=sys.stderr if failed else sys.stdout)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
