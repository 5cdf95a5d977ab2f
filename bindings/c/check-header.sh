#!/usr/bin/env bash
# The C header check: the header uniffi generates for crmsync-ffi compiles with the system C
# compiler, every function it declares is exported by the built library (`nm -D`), and a C
# program taking the address of every one of them links against the library.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cd "$root"

cargo build -p crmsync-ffi
cargo build -p uniffi-bindgen
lib_dir="$CARGO_TARGET_DIR/debug"
lib="$lib_dir/libcrmsync_ffi.so"

work="$CARGO_TARGET_DIR/header-check"
rm -rf "$work"
mkdir -p "$work"
"$CARGO_TARGET_DIR/debug/uniffi-bindgen" generate --library "$lib" --language swift --out-dir "$work" >/dev/null 2>&1
header="$work/CrmSyncFFI.h"

# The header carries clang's nullability qualifiers (it is written for Apple's clang); GCC does
# not know them, so they are defined away there.
nullability=()
if ! cc --version 2>/dev/null | grep -qi clang; then
  nullability=(-D_Nonnull= -D_Nullable= -D_Null_unspecified=)
fi

echo "== cc compiles the header"
printf '#include "CrmSyncFFI.h"\n' >"$work/include.c"
cc "${nullability[@]}" -std=c11 -Wall -Wextra -Werror -fsyntax-only -I "$work" "$work/include.c"

echo "== every declared function is exported by the library"
# Declarations are one per line in uniffi's header: "<type> <name>(<params>"; typedefs excluded.
grep -E '^[A-Za-z_][A-Za-z0-9_ *]*[ *]([A-Za-z_][A-Za-z0-9_]*)\(' "$header" \
  | grep -v '^typedef' \
  | sed -E 's/^[A-Za-z_][A-Za-z0-9_ *]*[ *]([A-Za-z_][A-Za-z0-9_]*)\(.*/\1/' \
  | sort -u >"$work/declared.txt"
nm -D --defined-only "$lib" | awk '{print $NF}' | sort -u >"$work/exported.txt"
declared=$(wc -l <"$work/declared.txt")
if [ "$declared" -lt 50 ]; then
  echo "only $declared declarations found in the header: the extraction is broken" >&2
  exit 1
fi
missing=$(comm -23 "$work/declared.txt" "$work/exported.txt")
if [ -n "$missing" ]; then
  echo "declared in the header but not exported by $lib:" >&2
  echo "$missing" >&2
  exit 1
fi

echo "== a C program using every declared function links against the library"
{
  echo "#include \"CrmSyncFFI.h\""
  echo "static void *const all[] = {"
  sed 's/.*/    (void *)\&&,/' "$work/declared.txt"
  echo "};"
  echo "int main(void) { return all[0] == 0; }"
} >"$work/all.c"
cc "${nullability[@]}" -std=c11 -I "$work" "$work/all.c" -L "$lib_dir" -lcrmsync_ffi -o "$work/all"
LD_LIBRARY_PATH="$lib_dir" "$work/all"
echo "header check: $declared functions declared, all exported and linkable"
