//! A connector written outside the project, synced against Zoho CRM (the emulator here).
//! `cargo run --example custom_connector`
//!
//! `AddressBook` stands for any other contact source a host may bring (Apple Contacts through
//! EventKit, a CSV file, an LDAP directory). It implements [`Connector`] with the public API only:
//! no change feed (every sync is a full listing that the engine diffs by version), sync ids kept
//! on the records so creates are exactly-once, and one write per operation. It takes Outlook's
//! place in the engine.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use crmsync::app::{AppConfig, SecretBackend, SyncClient};
use crmsync::core::field::copy_fields;
use crmsync::core::{
    Capabilities, ChangeItem, ChangePage, Connector, ConnectorError, Contact, Container,
    CreateMode, Cursor, Engine, FieldSchema, Kind, Next, OpResult, Operation, PageRequest, Record,
    RecordError, RecordErrorKind, RemoteRecord, Scope, Secret, Settings, SyncId, SyncOptions,
    Vanish, Written,
};
use crmsync::store::SqliteStore;
use crmsync_emulator::zoho::{ZohoConfig, ZohoEmulator, DEFAULT_CLIENT_ID};
use serde_json::json;

/// A contact list with a version counter per entry.
#[derive(Default)]
struct AddressBook {
    entries: Mutex<BTreeMap<String, Entry>>,
    next: Mutex<u64>,
}

#[derive(Clone)]
struct Entry {
    version: u64,
    sync_id: Option<SyncId>,
    contact: Contact,
}

impl AddressBook {
    fn add(&self, contact: Contact) -> String {
        let id = self.bump().to_string();
        let version = self.bump();
        self.lock().insert(
            format!("ab-{id}"),
            Entry {
                version,
                sync_id: None,
                contact,
            },
        );
        format!("ab-{id}")
    }

    fn bump(&self) -> u64 {
        let mut n = self.next.lock().unwrap_or_else(|p| p.into_inner());
        *n += 1;
        *n
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn remote(id: &str, e: &Entry) -> RemoteRecord {
        RemoteRecord {
            id: id.to_string(),
            version: e.version.to_string(),
            modified_at: None,
            sync_id: e.sync_id.clone(),
            record: Arc::new(Record::Contact(e.contact.clone())),
        }
    }

    fn written(id: &str, e: &Entry) -> Written {
        Written {
            id: id.to_string(),
            version: e.version.to_string(),
            modified_at: None,
            stored: Some(Arc::new(Record::Contact(e.contact.clone()))),
        }
    }

    fn apply_one(&self, op: Operation) -> OpResult {
        let missing = || RecordError::new(RecordErrorKind::NotFound, "no such entry");
        match op {
            Operation::Create { sync_id, record } => {
                let Record::Contact(contact) = (*record).clone() else {
                    return Err(RecordError::new(RecordErrorKind::Invalid, "contacts only"));
                };
                let id = self.add(contact);
                let mut map = self.lock();
                let e = map.get_mut(&id).ok_or_else(missing)?;
                e.sync_id = Some(sync_id);
                Ok(Self::written(&id, e))
            }
            Operation::Update {
                id,
                fields,
                record,
                stamp,
                if_version,
            } => {
                let version = self.bump();
                let mut map = self.lock();
                let e = map.get_mut(&id).ok_or_else(missing)?;
                if if_version.is_some_and(|v| v != e.version.to_string()) {
                    return Err(RecordError::new(
                        RecordErrorKind::Changed,
                        "edited meanwhile",
                    ));
                }
                let mut current = Record::Contact(e.contact.clone());
                copy_fields(&mut current, &record, fields);
                if let Record::Contact(c) = current {
                    e.contact = c;
                }
                if stamp.is_some() {
                    e.sync_id = stamp;
                }
                e.version = version;
                Ok(Self::written(&id, e))
            }
            Operation::Delete { id, .. } => {
                self.lock().remove(&id).ok_or_else(missing)?;
                Ok(Written {
                    id,
                    version: String::new(),
                    modified_at: None,
                    stored: None,
                })
            }
        }
    }
}

#[async_trait]
impl Connector for AddressBook {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            kinds: vec![Kind::Contact],
            max_batch: 50,
            max_concurrency: 1,
            create_mode: CreateMode::Idempotent,
            change_feed: false,
            schemas: vec![(Kind::Contact, FieldSchema::full(Kind::Contact))],
        }
    }
    async fn containers(&self, _kind: Kind) -> Result<Vec<Container>, ConnectorError> {
        Ok(vec![])
    }
    async fn categories(&self) -> Result<Vec<String>, ConnectorError> {
        Ok(vec![])
    }
    async fn ensure_category(&self, _name: &str) -> Result<(), ConnectorError> {
        Ok(())
    }
    async fn changes(&self, _c: &Cursor, _r: &PageRequest) -> Result<ChangePage, ConnectorError> {
        Err(ConnectorError::cursor_expired())
    }
    async fn list(&self, _req: &PageRequest) -> Result<ChangePage, ConnectorError> {
        let items = self
            .lock()
            .iter()
            .map(|(id, e)| ChangeItem::Upsert(Self::remote(id, e)))
            .collect();
        Ok(ChangePage {
            items,
            next: Next::Done(Cursor("full".into())),
        })
    }
    async fn fetch(&self, _s: &Scope, ids: &[String]) -> Result<Vec<ChangeItem>, ConnectorError> {
        let map = self.lock();
        Ok(ids
            .iter()
            .map(|id| match map.get(id) {
                Some(e) => ChangeItem::Upsert(Self::remote(id, e)),
                None => ChangeItem::Deleted { id: id.clone() },
            })
            .collect())
    }
    async fn classify_vanished(
        &self,
        _s: &Scope,
        ids: &[String],
    ) -> Result<Vec<(String, Vanish)>, ConnectorError> {
        // One flat list: a record that is gone was deleted.
        Ok(ids.iter().map(|id| (id.clone(), Vanish::Deleted)).collect())
    }
    async fn apply(
        &self,
        _s: &Scope,
        ops: Vec<Operation>,
    ) -> Result<Vec<OpResult>, ConnectorError> {
        Ok(ops.into_iter().map(|op| self.apply_one(op)).collect())
    }
    async fn find_by_sync_id(
        &self,
        _s: &Scope,
        ids: &[SyncId],
    ) -> Result<Vec<(SyncId, RemoteRecord)>, ConnectorError> {
        let map = self.lock();
        Ok(map
            .iter()
            .filter_map(|(id, e)| {
                let s = e.sync_id.clone()?;
                ids.contains(&s).then(|| (s, Self::remote(id, e)))
            })
            .collect())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let zoho = ZohoEmulator::start(ZohoConfig::default()).await?;
    zoho.insert_record(
        "Contacts",
        json!({"First_Name": "Ada", "Last_Name": "Lovelace", "Email": "ada@example.org"}),
    )?;
    let book = Arc::new(AddressBook::default());
    book.add(Contact {
        given_name: "秀英".into(),
        family_name: "王".into(),
        emails: vec!["wang.xiuying@example.cn".into()],
        ..Default::default()
    });

    // The Zoho side comes from the same host wiring the CLI uses.
    let home = tempfile::tempdir()?;
    let mut config = AppConfig::new(home.path());
    config.overrides.zoho_accounts_url = Some(zoho.accounts_url());
    config.overrides.zoho_api_url = Some(zoho.api_url());
    config.overrides.secret_store = Some(SecretBackend::File);
    let client = SyncClient::open(config)?;
    client.set("zoho.client_id", DEFAULT_CLIENT_ID)?;
    let token = zoho
        .issue_refresh_token("owner@example.com")
        .ok_or("no user")?;
    client.login_zoho_refresh_token(Secret::new(token)).await?;

    let store = Arc::new(SqliteStore::open(home.path().join("custom.db"))?);
    let engine = Engine::new(client.zoho().await?, book.clone(), store);
    let mut settings = Settings::default();
    settings.tasks.enabled = false;
    settings.events.enabled = false;
    for round in ["first", "second"] {
        let out = engine
            .sync(&settings, &SyncOptions::default(), chrono::Utc::now())
            .await?;
        println!("{round} sync: {} writes", out.report.writes());
    }
    println!(
        "Zoho has {} contacts, the address book has {}",
        zoho.records("Contacts").len(),
        book.lock().len()
    );
    Ok(())
}
