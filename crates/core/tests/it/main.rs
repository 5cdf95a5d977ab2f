//! Integration tests of the core: the plug-in's rules as scenarios, and property tests of the
//! invariants in DESIGN.md.
#![allow(missing_docs, clippy::unwrap_used, clippy::new_without_default)]

mod journal;
mod props;
mod purity;
mod rules;
pub mod world;
