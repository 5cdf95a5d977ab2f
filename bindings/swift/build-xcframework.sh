#!/usr/bin/env bash
# Builds CrmSyncFFI.xcframework for macOS (arm64 + x86_64) and regenerates the Swift bindings.
# Mac only (lipo, xcodebuild): see README.md. The emulator feature is never enabled here, so the
# app does not ship the test emulators.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
profile="${PROFILE:-release}"
targets=(aarch64-apple-darwin x86_64-apple-darwin)
build="$here/build"

if [ "$(uname -s)" != "Darwin" ]; then
  echo "build-xcframework.sh needs macOS (lipo, xcodebuild); on Linux run check.sh instead" >&2
  exit 2
fi

cd "$root"
rustup target add "${targets[@]}" >/dev/null
# macOS 13 is the package's floor; the static library must not need anything newer.
export MACOSX_DEPLOYMENT_TARGET=13.0
for t in "${targets[@]}"; do
  echo "== cargo build crmsync-ffi --target $t ($profile)"
  cargo build -p crmsync-ffi --profile "$profile" --target "$t"
done
cargo build -p uniffi-bindgen

rm -rf "$build"
mkdir -p "$build/universal" "$build/gen" "$build/headers"

echo "== lipo: one universal static library"
lipo -create \
  "$CARGO_TARGET_DIR/aarch64-apple-darwin/$profile/libcrmsync_ffi.a" \
  "$CARGO_TARGET_DIR/x86_64-apple-darwin/$profile/libcrmsync_ffi.a" \
  -output "$build/universal/libcrmsync_ffi.a"

echo "== generate Swift, header and module map (names from crates/ffi/uniffi.toml)"
# Library mode reads the interface from the built library itself, so bindings and library match.
"$CARGO_TARGET_DIR/debug/uniffi-bindgen" generate \
  --library "$CARGO_TARGET_DIR/aarch64-apple-darwin/$profile/libcrmsync_ffi.dylib" \
  --language swift --out-dir "$build/gen"
cp "$build/gen/CrmSyncFFI.h" "$build/headers/"
# An XCFramework's headers folder must hold `module.modulemap` for Swift to import `CrmSyncFFI`.
cp "$build/gen/CrmSyncFFI.modulemap" "$build/headers/module.modulemap"
mkdir -p "$here/Sources/CrmSync/Generated"
cp "$build/gen/CrmSync.swift" "$here/Sources/CrmSync/Generated/CrmSync.swift"

echo "== xcodebuild -create-xcframework"
rm -rf "$here/CrmSyncFFI.xcframework"
xcodebuild -create-xcframework \
  -library "$build/universal/libcrmsync_ffi.a" \
  -headers "$build/headers" \
  -output "$here/CrmSyncFFI.xcframework"

echo "done: $here/CrmSyncFFI.xcframework; next: swift build && swift test (in $here)"
