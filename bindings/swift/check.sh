#!/usr/bin/env bash
# What can be checked of the Swift side on Linux (CI runs it): regenerate the Swift bindings from
# the library as shipped (no emulator feature), syntax-check the generated and the hand-written
# Swift, and check that the generated Swift declares SyncClient and every exported item.
# The Mac-only steps (xcframework, swift build, XCTest) are in README.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cd "$root"

cargo build -p crmsync-ffi
cargo build -p uniffi-bindgen
case "$(uname -s)" in
  Darwin) lib="$CARGO_TARGET_DIR/debug/libcrmsync_ffi.dylib" ;;
  *) lib="$CARGO_TARGET_DIR/debug/libcrmsync_ffi.so" ;;
esac

gen="$here/Sources/CrmSync/Generated"
out="$CARGO_TARGET_DIR/swift-gen"
rm -rf "$out" "$gen"
mkdir -p "$out" "$gen"
"$CARGO_TARGET_DIR/debug/uniffi-bindgen" generate --library "$lib" --language swift --out-dir "$out"
cp "$out/CrmSync.swift" "$gen/"

if ! python3 -c 'import tree_sitter, tree_sitter_swift' >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check "tree-sitter==0.26.1" "tree-sitter-swift==0.7.4"
fi

shared="${CRMSYNC_SHARED:-$root/../shared}"
echo "== swift syntax check (generated + hand-written)"
python3 "$shared/tools/swift_syntax_check.py" --quiet "$here"
echo "== generated Swift declares the exported API"
python3 "$here/check_generated_api.py" "$root/crates/ffi/src" "$gen/CrmSync.swift"
