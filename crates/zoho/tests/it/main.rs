//! Integration tests of the Zoho connector over loopback HTTP against the Zoho emulator.

// Test helpers outside `#[test]` functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod auth;
mod paths;
mod support;
mod sync;
