#!/usr/bin/env bash
# run.sh BUILD_DIR SOURCE_DIR: installs the windows build into a temporary prefix, builds
# tests/consumer against it with find_package(PeerDist), and runs the result under Wine.
set -euo pipefail
build="$1"; src="$2"
work="$build/consumer-test"
rm -rf "$work"; mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
for f in bin/peerdist.dll bin/p2p.dll lib/libpeerdist.a lib/libp2p.a lib/peerdist.def lib/p2p.def \
         include/peerdist.h include/p2p.h lib/cmake/PeerDist/PeerDistConfig.cmake; do
  [ -f "$work/prefix/$f" ] || { echo "FAIL: install is missing $f"; exit 1; }
done
cmake -S "$src/tests/consumer" -B "$work/build" -G Ninja \
      -DCMAKE_TOOLCHAIN_FILE="$src/cmake/toolchain-mingw64.cmake" \
      -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/configure.log" 2>&1 \
  || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
cp "$work/prefix/bin/"*.dll "$work/build/"
"$src/tools/wine/run.sh" "$work/build/consumer.exe"
