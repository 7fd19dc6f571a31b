#!/usr/bin/env bash
# The Debian packages (cpack -G DEB, cmake/packaging.cmake) hold what they should, depend on
# what Debian has, and work once unpacked: examples/consumer builds against the extracted tree
# with CMake and with pkg-config, the command runs, the Python package imports.
# Usage: test_packages.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
version=$(sed -n 's/^#define ESCALON_VERSION_STRING "\(.*\)"$/\1/p' "$build/include/escalon/version.hpp")
[ -n "$version" ]
(cd "$build" && cpack -G DEB -B "$tmp/debs" >"$tmp/cpack.log" 2>&1) || { cat "$tmp/cpack.log"; exit 1; }
arch=$(dpkg --print-architecture)
dev="$tmp/debs/libescalon-dev_${version}-1_${arch}.deb"
cli="$tmp/debs/escalon_${version}-1_${arch}.deb"
py="$tmp/debs/python3-escalon_${version}-1_${arch}.deb"
ls "$tmp/debs"
test -f "$dev" && test -f "$cli"
python=$(grep -q '^ESCALON_BUILD_PYTHON:BOOL=ON' "$build/CMakeCache.txt" && echo yes || echo no)
if [ "$python" == yes ] && [ ! -f "$py" ]; then echo "FAIL: the build has the Python module, cpack made no python3-escalon"; exit 1; fi

field() { dpkg-deb -f "$1" "$2"; }
contents() { dpkg-deb -c "$1" | awk '{print $6}'; }
# The command's runtime libraries come from dpkg-shlibdeps: the Debian packages of the .so files.
deps=$(field "$cli" Depends)
echo "escalon depends: $deps"
for lib in libyaml-cpp0.7 libsqlite3-0 libpqxx-6.4 libsodium23 libcurl4 libfmt9 libstdc++6; do
  [[ "$deps" == *"$lib"* ]] || { echo "FAIL: escalon does not depend on $lib"; exit 1; }
done
[[ "$(field "$dev" Depends)" == *"libyaml-cpp-dev"* ]]
contents "$cli" | grep -qx './usr/bin/escalon'
for f in include/escalon/escalon.hpp include/escalon/version.hpp; do
  contents "$dev" | grep -qx "./usr/$f" || { echo "FAIL: libescalon-dev lacks /usr/$f"; exit 1; }
done
contents "$dev" | grep -qE '^\./usr/lib/(.*/)?libescalon\.a$' || { echo "FAIL: libescalon-dev lacks libescalon.a"; exit 1; }
contents "$dev" | grep -q '/cmake/escalon/escalonConfig.cmake$'
contents "$dev" | grep -q '/pkgconfig/escalon.pc$'
# No file is in two packages (dpkg would refuse to install the second).
debs=("$dev" "$cli")
[ "$python" == yes ] && debs+=("$py")
dups=$(for d in "${debs[@]}"; do contents "$d" | grep -v '/$'; done | sort | uniq -d)
[ -z "$dups" ] || { echo "FAIL: files in two packages: $dups"; exit 1; }
# Every dependency is one Debian can install (apt resolves them without installing anything).
if command -v apt-get >/dev/null && [ -n "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v lock)" ]; then
  apt-get install -s "${debs[@]}" >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log"; exit 1; }
  echo "apt resolves the dependencies of ${#debs[@]} packages"
fi

root="$tmp/root"
for d in "${debs[@]}"; do dpkg-deb -x "$d" "$root"; done
[ "$("$root/usr/bin/escalon" --version)" == "escalon $version" ]
"$root/usr/bin/escalon" validate "$src/flows" 2>/dev/null

# A host built with CMake against the unpacked tree (the package config is relocatable).
cmake -S "$src/examples/consumer" -B "$tmp/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$root/usr" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
out=$("$tmp/consumer/consumer" "$src/flows" "$tmp/cases.db" 5)
[[ "$out" == *"opened 20"* ]] || { echo "$out"; exit 1; }
# And without CMake, from the pkg-config file (which finds its prefix from where it lies).
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$(find "$root" -name escalon.pc)")
[ "$(pkg-config --modversion escalon)" == "$version" ]
# shellcheck disable=SC2046
c++ -O1 -o "$tmp/consumer-pc" "$src/examples/consumer/main.cpp" $(pkg-config --cflags --libs escalon)
out=$("$tmp/consumer-pc" "$src/flows" "$tmp/cases-pc.db" 5)
[[ "$out" == *"opened 20"* ]] || { echo "$out"; exit 1; }

if [ "$python" == yes ]; then
  site="$root/usr/lib/python3/dist-packages"
  for f in __init__.py __init__.pyi py.typed; do test -f "$site/escalon/$f"; done
  (cd "$tmp" && PYTHONPATH="$site" /usr/bin/python3 -c "import escalon, sys; assert escalon.__version__ == sys.argv[1], escalon.__version__; assert escalon.validate(sys.argv[2]) == []; print('python3-escalon:', escalon.__file__, escalon.Engine)" "$version" "$src/flows")
fi
echo "1 passed, 0 failed"
