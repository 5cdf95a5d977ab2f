//! Loopback emulators of Zoho CRM and Microsoft Graph, reachable from the bindings so the
//! Python suite (and demos) can drive the real connectors through the FFI.
//!
//! Behind the `emulator` cargo feature: `bindings/python/run-tests.sh` enables it;
//! `bindings/swift/build-xcframework.sh` does not, so the Mac app never ships it.

use std::sync::Arc;

use crmsync_emulator::graph::{GraphConfig, GraphEmulator, GraphFaults};
use crmsync_emulator::zoho::{ZohoConfig, ZohoEmulator};

use crate::error::CrmSyncError;

/// The e-mail of the emulated Zoho user that sign-in signs in as.
const ZOHO_USER: &str = "owner@example.com";

/// Both emulators, serving on 127.0.0.1 until the object is dropped.
#[derive(uniffi::Object)]
pub struct Emulators {
    zoho: ZohoEmulator,
    graph: GraphEmulator,
}

impl std::fmt::Debug for Emulators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulators").finish_non_exhaustive()
    }
}

fn json(text: &str) -> Result<serde_json::Value, CrmSyncError> {
    Ok(serde_json::from_str(text)?)
}

fn refused(e: impl std::fmt::Display) -> CrmSyncError {
    CrmSyncError::invalid(format!("the emulator refused: {e}"))
}

#[uniffi::export]
impl Emulators {
    /// Starts both emulators (Graph's device codes poll every second; throttling answers wait
    /// milliseconds, so tests stay fast).
    #[uniffi::constructor]
    pub fn start() -> Result<Arc<Self>, CrmSyncError> {
        let rt = crate::runtime()?;
        let (zoho, graph) = rt.block_on(async {
            let zoho = ZohoEmulator::start(ZohoConfig::default()).await?;
            let graph = GraphEmulator::start(GraphConfig {
                device_code_interval_secs: 1,
                faults: GraphFaults {
                    retry_after_secs: 0.01,
                    ..GraphFaults::default()
                },
                ..GraphConfig::default()
            })
            .await?;
            Ok::<_, std::io::Error>((zoho, graph))
        })?;
        Ok(Arc::new(Emulators { zoho, graph }))
    }

    /// Zoho's accounts server (where sign-in starts).
    pub fn zoho_accounts_url(&self) -> String {
        self.zoho.accounts_url()
    }

    /// Zoho's API server.
    pub fn zoho_api_url(&self) -> String {
        self.zoho.api_url()
    }

    /// A refresh token of the emulated Zoho user (the self-client path).
    pub fn zoho_refresh_token(&self) -> Result<String, CrmSyncError> {
        self.zoho
            .issue_refresh_token(ZOHO_USER)
            .ok_or_else(|| CrmSyncError::internal("the Zoho emulator has no user"))
    }

    /// Inserts a record (Zoho JSON) into a module (`Contacts`, `Tasks`, `Events`); returns its id.
    pub fn zoho_insert(&self, module: String, record_json: String) -> Result<String, CrmSyncError> {
        self.zoho
            .insert_record(&module, json(&record_json)?)
            .map_err(refused)
    }

    /// Updates fields (Zoho JSON) of a record.
    pub fn zoho_update(
        &self,
        module: String,
        id: String,
        fields_json: String,
    ) -> Result<(), CrmSyncError> {
        self.zoho
            .update_record(&module, &id, json(&fields_json)?)
            .map_err(refused)
    }

    /// Deletes a record; false when it did not exist.
    pub fn zoho_delete(&self, module: String, id: String) -> bool {
        self.zoho.delete_record(&module, &id, false)
    }

    /// Every live record of a module, as a JSON array in Zoho's shape.
    pub fn zoho_records(&self, module: String) -> String {
        serde_json::Value::Array(self.zoho.records(&module)).to_string()
    }

    /// Moves the emulated Zoho clock forward (records written next get later times).
    pub fn zoho_advance_clock(&self, seconds: i64) {
        self.zoho.advance_clock(seconds);
    }

    /// The Microsoft identity platform authority.
    pub fn login_url(&self) -> String {
        self.graph.login_url()
    }

    /// The Graph base URL (`…/v1.0`).
    pub fn graph_url(&self) -> String {
        self.graph.graph_url()
    }

    /// A Graph access token (what MSAL would hand the Mac app).
    pub fn graph_access_token(&self) -> String {
        self.graph.issue_access_token()
    }

    /// Approves a pending device-code sign-in, as the user would in a browser.
    pub fn approve_device_code(&self, user_code: String) -> bool {
        self.graph.approve_device_code(&user_code)
    }

    /// The default contact folder's id.
    pub fn graph_default_contact_folder(&self) -> String {
        self.graph.default_contact_folder()
    }

    /// Creates a contact folder under the default one; returns its id.
    pub fn graph_create_contact_folder(&self, name: String) -> Result<String, CrmSyncError> {
        self.graph
            .create_contact_folder(None, &name)
            .map_err(refused)
    }

    /// Creates a contact (Graph JSON) in a folder; returns its immutable id.
    pub fn graph_insert_contact(
        &self,
        folder: String,
        contact_json: String,
    ) -> Result<String, CrmSyncError> {
        let v = self
            .graph
            .insert_contact(&folder, json(&contact_json)?)
            .map_err(refused)?;
        Ok(v["@emulator.immutableId"]
            .as_str()
            .or_else(|| v["id"].as_str())
            .unwrap_or_default()
            .to_string())
    }

    /// PATCHes a contact (Graph JSON).
    pub fn graph_update_contact(&self, id: String, patch_json: String) -> Result<(), CrmSyncError> {
        self.graph
            .update_contact(&id, json(&patch_json)?)
            .map(|_| ())
            .map_err(refused)
    }

    /// Every contact of a folder, as a JSON array in Graph's shape.
    pub fn graph_contacts(&self, folder: String) -> String {
        serde_json::Value::Array(self.graph.contacts(&folder)).to_string()
    }

    /// Adds a master category.
    pub fn graph_add_category(&self, name: String) -> Result<(), CrmSyncError> {
        self.graph
            .add_category(&name, "preset0")
            .map(|_| ())
            .map_err(refused)
    }
}
