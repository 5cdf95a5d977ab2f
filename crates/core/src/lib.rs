//! crmsync core.
