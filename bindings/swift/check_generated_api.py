#!/usr/bin/env python3
"""Checks that the generated Swift declares SyncClient and every exported item of crmsync-ffi.

The exported items are read from the Rust sources (every `pub fn` / `pub async fn` in an
`#[uniffi::export]` impl or trait block, and every exported free function), converted to the
Swift names uniffi gives them (lowerCamelCase), and looked for as `func name(` in the Swift.
Usage: check_generated_api.py CRATE_SRC_DIR GENERATED.swift
"""

import pathlib
import re
import sys


def camel(name):
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def exported(src):
    """(owner, name, is_constructor) of every exported fn, from the #[uniffi::export] blocks."""
    items = []
    for path in sorted(pathlib.Path(src).glob("*.rs")):
        if path.name == "emulator.rs":
            continue  # behind the `emulator` feature: not in what the Swift app ships
        text = path.read_text()
        for m in re.finditer(r"#\[uniffi::export[^\]]*\]\s*(impl|pub trait|pub fn)\s+(\w+)", text):
            kind, name = m.group(1), m.group(2)
            if kind == "pub fn":
                items.append(("", name, False))
                continue
            # The block body: from the first "{" after the match to its matching "}".
            start = text.index("{", m.end())
            depth, i = 0, start
            while True:
                if text[i] == "{":
                    depth += 1
                elif text[i] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                i += 1
            body = text[start:i]
            pattern = r"(#\[uniffi::constructor\]\s*)?(?:pub )?(?:async )?fn (\w+)"
            for f in re.finditer(pattern, body):
                items.append((name, f.group(2), bool(f.group(1))))
    return items


def main():
    src, swift = sys.argv[1], pathlib.Path(sys.argv[2]).read_text()
    missing = []
    if not re.search(r"\bclass SyncClient\b", swift):
        missing.append("class SyncClient")
    items = exported(src)
    for owner, name, ctor in items:
        if ctor:
            # Constructors named `new` become `init(`; others are static funcs.
            want = "init(" if name == "new" else "func %s(" % camel(name)
        else:
            want = "func %s(" % camel(name)
        if want not in swift:
            missing.append("%s.%s (%s)" % (owner or "<module>", name, want))
    for proto in ("SecretStore", "SyncObserver", "AccessTokenProvider", "HostConnector"):
        if not re.search(r"\bprotocol %s\b" % proto, swift):
            missing.append("protocol " + proto)
    if missing:
        print("generated Swift lacks:\n  " + "\n  ".join(missing))
        return 1
    print("generated Swift declares SyncClient and all %d exported functions" % len(items))
    return 0


if __name__ == "__main__":
    sys.exit(main())
