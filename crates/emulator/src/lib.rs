//! Loopback fakes of the Zoho CRM and Microsoft Graph APIs.
//!
//! Both servers bind `127.0.0.1` only and are driven by the real connectors over real HTTP.
//! Architecture Invariant: nothing here is shared with the connector crates; the emulator is a
//! second, independent reading of the public API documentation.

pub mod graph;
pub mod zoho;

pub use graph::{
    ControlError, GraphConcurrency, GraphConfig, GraphCounters, GraphEmulator, GraphFaults,
    GraphUser,
};
pub use zoho::{ZohoConfig, ZohoEmulator};
