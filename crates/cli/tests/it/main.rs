//! The `crmsync` binary, driven as a user would, against both emulators.

// Test helpers outside `#[test]` functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod config;
mod conflicts;
mod demo;
mod flow;
mod kill;
mod leak;
mod login;
mod support;
