#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, then configures, builds and runs
# examples/consumer against it with find_package(escalon CONFIG REQUIRED).
# Usage: test_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -f "$tmp/prefix/include/escalon/escalon.hpp"
# The generated version header is installed with the others and agrees with the installed tool.
test -f "$tmp/prefix/include/escalon/version.hpp"
version=$(sed -n 's/^#define ESCALON_VERSION_STRING "\(.*\)"$/\1/p' "$tmp/prefix/include/escalon/version.hpp")
[ -n "$version" ]
[ "$("$tmp/prefix/bin/escalon" --version)" == "escalon $version" ]
test -f "$tmp/prefix/lib/cmake/escalon/escalonConfig.cmake"
test -x "$tmp/prefix/bin/escalon"
# No third-party header may leak into the public ones.
if grep -rE '#include <(yaml-cpp|boost|date|fmt|nlohmann|sqlite3|openssl|pqxx|libpq-fe|curl)' "$tmp/prefix/include/escalon"; then
  echo "FAIL: a public header includes a private dependency"; exit 1
fi
cmake -S "$src/examples/consumer" -B "$tmp/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
# The consumer is a small host: run it twice on one store; the second run recovers the cases the
# first left open, and both see the desks' mistakes refused with their codes.
out=$("$tmp/consumer/consumer" "$src/flows" "$tmp/cases.db" 10)
echo "$out"
[[ "$out" == *"technician-visit v1: 9 steps"* ]]
[[ "$out" == *"recovered 0 open cases"* ]]
[[ "$out" == *"opened 40, resolved 32"* ]]
[[ "$out" == *"bad_data=4 not_handled=4 unknown_case=4"* ]]
[[ "$out" == *"open now 8"* ]]
out=$("$tmp/consumer/consumer" "$src/flows" "$tmp/cases.db" 10)
echo "$out"
[[ "$out" == *"recovered 8 open cases"* ]]
[[ "$out" == *"open now 16"* ]]
"$tmp/prefix/bin/escalon" report --db "$tmp/cases.db" | grep -q "opened 80"
"$tmp/prefix/bin/escalon" validate "$src/flows" 2>/dev/null
# The Python package (module, stubs, py.typed) lands in the prefix, importable from there, when
# the build has it.
if grep -q '^ESCALON_BUILD_PYTHON:BOOL=ON' "$build/CMakeCache.txt"; then
  module=$(find "$tmp/prefix" -name '_escalon*.so' | head -1)
  [ -n "$module" ] || { echo "FAIL: the build has the Python module, the install does not"; exit 1; }
  package=$(dirname "$module")
  test -f "$package/__init__.pyi" && test -f "$package/py.typed" && test -f "$package/__init__.py"
  PYTHONPATH="$(dirname "$package")" /usr/bin/python3 -c "import escalon, sys; assert escalon.validate(sys.argv[1]) == []; assert escalon.__version__ == sys.argv[2]; print('python module:', escalon.__file__)" "$src/flows" "$version"
fi
echo "1 passed, 0 failed"
