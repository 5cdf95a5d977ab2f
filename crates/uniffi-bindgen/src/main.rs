//! `uniffi-bindgen`: generates the Swift and Python bindings of `crmsync-ffi` in library mode,
//! with the same uniffi version the library was built with (a mismatch fails the checksum check).
//!
//! ```text
//! cargo run -p uniffi-bindgen -- generate --library target/debug/libcrmsync_ffi.so \
//!     --language python --out-dir bindings/python/crmsync
//! ```

fn main() {
    uniffi::uniffi_bindgen_main()
}
