//! Integration tests of the SQLite state store (one binary, modules inside).

#![allow(clippy::unwrap_used, missing_docs)]

mod common;
mod crash;
mod equiv;
mod props;
mod unit;
