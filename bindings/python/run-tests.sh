#!/usr/bin/env bash
# The one command for the Python side of the FFI: builds crmsync-ffi (with the emulators),
# generates the Python bindings with the workspace's own uniffi-bindgen, and runs the pytest
# suite against them. `.ci/run` calls it; developers run it as is.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cd "$root"

echo "== build crmsync-ffi (feature emulator) and uniffi-bindgen"
cargo build -p crmsync-ffi --features emulator
cargo build -p uniffi-bindgen

case "$(uname -s)" in
  Darwin) lib="$CARGO_TARGET_DIR/debug/libcrmsync_ffi.dylib" ;;
  *) lib="$CARGO_TARGET_DIR/debug/libcrmsync_ffi.so" ;;
esac

echo "== generate the Python bindings (build output, not committed)"
out="$here/generated"
rm -rf "$out"
mkdir -p "$out"
"$CARGO_TARGET_DIR/debug/uniffi-bindgen" generate --library "$lib" --language python --out-dir "$out"
# The generated module loads the library from its own folder.
cp "$lib" "$out/"

if ! python3 -c 'import pytest' >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check "pytest>=8,<9"
fi

echo "== pytest"
cd "$here"
# conftest.py ends the interpreter with os._exit(<pytest's status>) so no runtime thread calls
# into a finalising interpreter; any non-zero status (failures, errors, nothing collected)
# fails this script.
status=0
python3 -m pytest -q -p no:cacheprovider tests || status=$?
if [ "$status" -ne 0 ]; then
  echo "pytest failed with status $status" >&2
  exit "$status"
fi
