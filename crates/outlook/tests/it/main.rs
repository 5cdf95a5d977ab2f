//! Integration tests of the Outlook connector against the Graph emulator over loopback HTTP.
#![allow(clippy::unwrap_used)] // Test helpers panic on purpose: a failed call is a failed test.

mod auth;
mod concurrency;
mod contacts;
mod engine;
mod events;
mod mapping;
mod retries;
mod scopes;
mod support;
mod tasks;
