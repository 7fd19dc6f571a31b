#!/usr/bin/env bash
# `pip install .` with Debian's pip and setuptools, no network, in a virtual environment that
# sees the system's packages: the `escalon` package installs with its stubs and py.typed and
# imports from the environment, not from the source tree.
# Usage: test_pip.sh BUILD_DIR SOURCE_DIR   (BUILD_DIR: a configured build to reuse, so that the
# test does not compile the library a second time; setup.py builds afresh without it)
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$src/build-pip" "$src"/*.egg-info' EXIT
version=$(sed -n 's/^#define ESCALON_VERSION_STRING "\(.*\)"$/\1/p' "$build/include/escalon/version.hpp")
/usr/bin/python3 -m venv --system-site-packages "$tmp/venv"
ESCALON_CMAKE_BUILD_DIR="$build" PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
  "$tmp/venv/bin/pip" install --no-build-isolation --no-deps "$src" >"$tmp/pip.log" 2>&1 || { cat "$tmp/pip.log"; exit 1; }
site=$("$tmp/venv/bin/python" -c "import sysconfig; print(sysconfig.get_path('platlib'))")
for f in __init__.py __init__.pyi py.typed; do test -f "$site/escalon/$f" || { echo "FAIL: $site/escalon/$f missing"; exit 1; }; done
ls "$site"/escalon/_escalon*.so >/dev/null
[ "$("$tmp/venv/bin/pip" show escalon | sed -n 's/^Version: //p')" == "$version" ]
cd "$tmp"
"$tmp/venv/bin/python" - "$version" "$src/flows" "$site" <<'PY'
import sys
import escalon
assert escalon.__file__.startswith(sys.argv[3]), escalon.__file__
assert escalon.__version__ == sys.argv[1], escalon.__version__
assert escalon.validate(sys.argv[2]) == []
assert escalon.Engine.__module__ == "escalon" and escalon.CaseError.__module__ == "escalon"
engine = escalon.Engine(clock=escalon.ManualClock("2026-11-23T08:00:00Z"))
engine.load(sys.argv[2])
case = engine.start("complaint", {"customer": "C1", "summary": "charged twice", "category": "billing"})
assert engine.get(case).status == "active"
print("pip-installed escalon", escalon.__version__, "runs a case:", case)
PY
"$tmp/venv/bin/pip" uninstall -y escalon >/dev/null
# Gone from the environment (a python3-escalon package of the system may still be importable).
if [ -e "$site/escalon" ] || "$tmp/venv/bin/python" -c "import escalon, sys; sys.exit(0 if escalon.__file__.startswith(sys.argv[1]) else 1)" "$site" 2>/dev/null; then
  echo "FAIL: escalon still in $site after uninstall"; exit 1
fi
echo "1 passed, 0 failed"
