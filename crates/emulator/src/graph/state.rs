//! The in-memory mailbox, token stores and fault state behind one mutex.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng as _, RngCore as _, SeedableRng as _};
use serde_json::{Map, Value};

use super::{GraphConfig, GraphFaults};

/// What kind of item a record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Contact,
    Task,
    Event,
}

impl Kind {
    pub(crate) fn odata_type(self) -> &'static str {
        match self {
            Kind::Contact => "#microsoft.graph.contact",
            Kind::Task => "#microsoft.graph.todoTask",
            Kind::Event => "#microsoft.graph.event",
        }
    }
}

/// What kind of container a folder, list or calendar is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ContainerKind {
    ContactFolder,
    TaskList,
    Calendar,
}

/// One entry of a container's change log, keyed by sequence number.
#[derive(Clone, Debug)]
pub(crate) enum LogEntry {
    /// The item with this key changed at this sequence number (and is still here).
    Live(u64),
    /// An item left the container (deleted or moved away).
    Removed {
        regular_id: String,
        immutable_id: String,
    },
}

/// A contact folder, To Do list or calendar.
#[derive(Clone, Debug)]
pub(crate) struct Container {
    pub id: String,
    pub kind: ContainerKind,
    /// Parent folder (contact folders only).
    pub parent: Option<String>,
    pub props: Map<String, Value>,
    pub change_key: String,
    pub members: BTreeSet<u64>,
    pub log: BTreeMap<u64, LogEntry>,
}

/// One contact, task or event.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub key: u64,
    pub kind: Kind,
    pub container: String,
    pub regular_id: String,
    pub immutable_id: String,
    /// Stored properties in their normalised stored form (no id, etag or timestamps).
    pub props: Map<String, Value>,
    pub change_key: String,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    /// Single-value extended properties (id as sent, value).
    pub ext: Vec<(String, String)>,
    /// To Do linked resources, each with its `id`.
    pub links: Vec<Map<String, Value>>,
    pub seq: u64,
}

/// A master category.
#[derive(Clone, Debug)]
pub(crate) struct Category {
    pub id: String,
    pub display_name: String,
    pub color: String,
}

/// What a delta token covers.
#[derive(Clone, Debug)]
pub(crate) enum DeltaScope {
    Container(String),
    CalendarView {
        calendar: String,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
}

/// Server-side state of one opaque delta token (`$skiptoken` or `$deltatoken`).
#[derive(Clone, Debug)]
pub(crate) struct DeltaToken {
    pub generation: u64,
    pub scope: DeltaScope,
    /// Changes after this sequence number belong to the round.
    pub since: u64,
    /// The initial round (no deltaLink yet): it lists what exists and reports no removals. A
    /// flag rather than `since == 0`, which is also the mailbox sequence of an empty mailbox.
    pub initial: bool,
    /// The round's upper bound (a nextLink); `None` for a deltaLink (a new round starts on use).
    pub upto: Option<u64>,
    /// Last sequence number served in the round.
    pub cursor: u64,
    pub select: Option<Vec<String>>,
    pub expand: Option<String>,
    pub page_size: Option<usize>,
}

/// An authorization code waiting to be redeemed.
#[derive(Clone, Debug)]
pub(crate) struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub challenge: Option<(String, String)>,
    pub expires: DateTime<Utc>,
    pub redeemed: bool,
}

/// An issued refresh token.
#[derive(Clone, Debug)]
pub(crate) struct RefreshToken {
    pub client_id: String,
    pub scope: String,
    pub valid: bool,
}

/// Where a device-code sign-in stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeviceStatus {
    Pending,
    Approved,
    Declined,
    Redeemed,
}

/// A device-code sign-in.
#[derive(Clone, Debug)]
pub(crate) struct DeviceFlow {
    pub client_id: String,
    pub scope: String,
    pub expires: DateTime<Utc>,
    pub interval_secs: i64,
    pub last_poll: Option<DateTime<Utc>>,
    pub status: DeviceStatus,
}

/// The authority's stores.
#[derive(Default, Debug)]
pub(crate) struct AuthState {
    pub codes: HashMap<String, AuthCode>,
    pub access: HashMap<String, DateTime<Utc>>,
    pub refresh: HashMap<String, RefreshToken>,
    pub device: HashMap<String, DeviceFlow>,
    pub user_codes: HashMap<String, String>,
}

/// The single mailbox.
#[derive(Debug, Default)]
pub(crate) struct Mailbox {
    pub seq: u64,
    pub next_key: u64,
    pub items: HashMap<u64, Item>,
    pub ids: HashMap<String, u64>,
    pub containers: HashMap<String, Container>,
    pub container_order: Vec<String>,
    pub default_contacts: String,
    pub default_calendar: String,
    pub default_list: String,
    pub categories: Vec<Category>,
    pub delta_tokens: HashMap<String, DeltaToken>,
    pub token_counter: u64,
    pub tokens_valid_from: u64,
    pub delta_pages_left: Option<u32>,
}

/// Everything the emulator knows, behind one mutex.
#[derive(Debug)]
pub(crate) struct State {
    pub cfg: GraphConfig,
    pub rng: StdRng,
    pub faults: GraphFaults,
    pub clock_offset: chrono::Duration,
    pub counters: BTreeMap<String, u64>,
    pub auth: AuthState,
    pub mbox: Mailbox,
}

const ID_ALPHABET_PREFIX_REGULAR: &str = "AAMkAGI2";
const ID_ALPHABET_PREFIX_IMMUTABLE: &str = "AAkALgAA";

impl State {
    pub(crate) fn new(cfg: GraphConfig) -> Self {
        let rng = StdRng::seed_from_u64(cfg.seed);
        let faults = cfg.faults.clone();
        let mut st = State {
            cfg,
            rng,
            faults,
            clock_offset: chrono::Duration::zero(),
            counters: BTreeMap::new(),
            auth: AuthState::default(),
            mbox: Mailbox::default(),
        };
        let contacts = st.new_container(ContainerKind::ContactFolder, None, "Contacts");
        st.mbox.default_contacts = contacts;
        let cal = st.new_container(ContainerKind::Calendar, None, "Calendar");
        if let Some(c) = st.mbox.containers.get_mut(&cal) {
            c.props
                .insert("isDefaultCalendar".into(), Value::Bool(true));
        }
        st.mbox.default_calendar = cal;
        let list = st.new_container(ContainerKind::TaskList, None, "Tasks");
        if let Some(c) = st.mbox.containers.get_mut(&list) {
            c.props
                .insert("wellknownListName".into(), "defaultList".into());
        }
        st.mbox.default_list = list;
        let flagged = st.new_container(ContainerKind::TaskList, None, "Flagged Emails");
        if let Some(c) = st.mbox.containers.get_mut(&flagged) {
            c.props
                .insert("wellknownListName".into(), "flaggedEmails".into());
        }
        st
    }

    /// The emulator's clock: the real clock plus the simulated offset.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    /// Random bytes as URL-safe base64 (with padding, like Outlook ids).
    pub(crate) fn random_b64(&mut self, n: usize) -> String {
        let mut buf = vec![0u8; n];
        self.rng.fill_bytes(&mut buf);
        base64::engine::general_purpose::URL_SAFE.encode(buf)
    }

    /// A fresh Outlook-style item id in the regular or immutable id space.
    pub(crate) fn new_item_id(&mut self, immutable: bool) -> String {
        let prefix = if immutable {
            ID_ALPHABET_PREFIX_IMMUTABLE
        } else {
            ID_ALPHABET_PREFIX_REGULAR
        };
        format!("{prefix}{}", self.random_b64(45))
    }

    /// A fresh change key.
    pub(crate) fn new_change_key(&mut self) -> String {
        let mut buf = [0u8; 27];
        self.rng.fill_bytes(&mut buf);
        format!(
            "EQAAABYAAA{}",
            base64::engine::general_purpose::STANDARD.encode(buf)
        )
    }

    /// A fresh GUID string.
    pub(crate) fn new_guid(&mut self) -> String {
        let a: u128 = self.rng.random();
        let h = format!("{a:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }

    /// Rolls a probability from the seeded generator.
    pub(crate) fn roll(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.random::<f64>() < p
    }

    /// Creates a container and returns its id.
    pub(crate) fn new_container(
        &mut self,
        kind: ContainerKind,
        parent: Option<String>,
        name: &str,
    ) -> String {
        let id = match kind {
            ContainerKind::TaskList => format!("AQMkADAw{}", self.random_b64(30)),
            _ => format!("AAMkAGI2{}", self.random_b64(30)),
        };
        let mut props = Map::new();
        match kind {
            ContainerKind::ContactFolder => {
                props.insert("displayName".into(), name.into());
            }
            ContainerKind::TaskList => {
                props.insert("displayName".into(), name.into());
                props.insert("isOwner".into(), Value::Bool(true));
                props.insert("isShared".into(), Value::Bool(false));
                props.insert("wellknownListName".into(), "none".into());
            }
            ContainerKind::Calendar => {
                props.insert("name".into(), name.into());
                props.insert("color".into(), "auto".into());
                props.insert("isDefaultCalendar".into(), Value::Bool(false));
            }
        }
        let change_key = self.new_change_key();
        self.mbox.containers.insert(
            id.clone(),
            Container {
                id: id.clone(),
                kind,
                parent,
                props,
                change_key,
                members: BTreeSet::new(),
                log: BTreeMap::new(),
            },
        );
        self.mbox.container_order.push(id.clone());
        id
    }

    /// Finds a container of the given kind.
    pub(crate) fn container(&self, id: &str, kind: ContainerKind) -> Option<&Container> {
        self.mbox.containers.get(id).filter(|c| c.kind == kind)
    }

    /// Looks an item up by either of its ids.
    pub(crate) fn item_key(&self, id: &str, kind: Kind) -> Option<u64> {
        let key = *self.mbox.ids.get(id)?;
        self.mbox
            .items
            .get(&key)
            .filter(|i| i.kind == kind)
            .map(|i| i.key)
    }

    fn bump_seq(&mut self) -> u64 {
        self.mbox.seq += 1;
        self.mbox.seq
    }

    /// Inserts a new item and logs the change.
    pub(crate) fn insert_item(
        &mut self,
        kind: Kind,
        container: &str,
        props: Map<String, Value>,
        ext: Vec<(String, String)>,
        links: Vec<Map<String, Value>>,
    ) -> u64 {
        let key = self.mbox.next_key;
        self.mbox.next_key += 1;
        let regular_id = self.new_item_id(false);
        let immutable_id = self.new_item_id(true);
        let change_key = self.new_change_key();
        let now = self.now();
        let seq = self.bump_seq();
        self.mbox.ids.insert(regular_id.clone(), key);
        self.mbox.ids.insert(immutable_id.clone(), key);
        if let Some(c) = self.mbox.containers.get_mut(container) {
            c.members.insert(key);
            c.log.insert(seq, LogEntry::Live(key));
        }
        self.mbox.items.insert(
            key,
            Item {
                key,
                kind,
                container: container.to_string(),
                regular_id,
                immutable_id,
                props,
                change_key,
                created: now,
                modified: now,
                ext,
                links,
                seq,
            },
        );
        key
    }

    /// Records that an item changed: new change key, timestamp and log position.
    pub(crate) fn touch_item(&mut self, key: u64) {
        let change_key = self.new_change_key();
        let now = self.now();
        let seq = self.bump_seq();
        let Some(item) = self.mbox.items.get_mut(&key) else {
            return;
        };
        let old = item.seq;
        item.seq = seq;
        item.change_key = change_key;
        item.modified = now;
        if let Some(c) = self.mbox.containers.get_mut(&item.container) {
            c.log.remove(&old);
            c.log.insert(seq, LogEntry::Live(key));
        }
    }

    /// Deletes an item and leaves a tombstone in its container's log.
    pub(crate) fn delete_item(&mut self, key: u64) -> Option<Item> {
        let item = self.mbox.items.remove(&key)?;
        let seq = self.bump_seq();
        self.mbox.ids.remove(&item.regular_id);
        self.mbox.ids.remove(&item.immutable_id);
        if let Some(c) = self.mbox.containers.get_mut(&item.container) {
            c.members.remove(&key);
            c.log.remove(&item.seq);
            c.log.insert(
                seq,
                LogEntry::Removed {
                    regular_id: item.regular_id.clone(),
                    immutable_id: item.immutable_id.clone(),
                },
            );
        }
        Some(item)
    }

    /// Moves an item to another container. The regular id always changes; the immutable id
    /// changes too when `new_immutable` is set (To Do tasks, which have no immutable ids).
    pub(crate) fn move_item(&mut self, key: u64, to: &str, new_immutable: bool) -> bool {
        let Some(item) = self.mbox.items.get(&key) else {
            return false;
        };
        if item.container == to {
            return true;
        }
        let (old_container, old_reg, old_imm, old_seq) = (
            item.container.clone(),
            item.regular_id.clone(),
            item.immutable_id.clone(),
            item.seq,
        );
        let new_reg = self.new_item_id(false);
        let new_imm = if new_immutable {
            self.new_item_id(true)
        } else {
            old_imm.clone()
        };
        let removed_seq = self.bump_seq();
        if let Some(c) = self.mbox.containers.get_mut(&old_container) {
            c.members.remove(&key);
            c.log.remove(&old_seq);
            c.log.insert(
                removed_seq,
                LogEntry::Removed {
                    regular_id: old_reg.clone(),
                    immutable_id: old_imm.clone(),
                },
            );
        }
        self.mbox.ids.remove(&old_reg);
        if new_immutable {
            self.mbox.ids.remove(&old_imm);
        }
        self.mbox.ids.insert(new_reg.clone(), key);
        self.mbox.ids.insert(new_imm.clone(), key);
        if let Some(item) = self.mbox.items.get_mut(&key) {
            item.container = to.to_string();
            item.regular_id = new_reg;
            item.immutable_id = new_imm;
        }
        if let Some(c) = self.mbox.containers.get_mut(to) {
            c.members.insert(key);
        }
        // The move is a change in the new container (logged there with a fresh key).
        self.touch_item_in_place(key);
        true
    }

    fn touch_item_in_place(&mut self, key: u64) {
        let change_key = self.new_change_key();
        let now = self.now();
        let seq = self.bump_seq();
        let Some(item) = self.mbox.items.get_mut(&key) else {
            return;
        };
        item.seq = seq;
        item.change_key = change_key;
        item.modified = now;
        if let Some(c) = self.mbox.containers.get_mut(&item.container) {
            c.log.insert(seq, LogEntry::Live(key));
        }
    }

    /// Registers a new delta token and returns its opaque text.
    pub(crate) fn new_delta_token(&mut self, mut tok: DeltaToken) -> String {
        tok.generation = self.mbox.token_counter;
        self.mbox.token_counter += 1;
        let text = self.random_b64(24);
        self.mbox.delta_tokens.insert(text.clone(), tok);
        text
    }

    /// Makes every delta token issued so far answer 410.
    pub(crate) fn expire_delta_tokens(&mut self) {
        self.mbox.tokens_valid_from = self.mbox.token_counter;
    }

    /// Counts one request against an endpoint.
    pub(crate) fn count(&mut self, key: String) {
        *self.counters.entry(key).or_insert(0) += 1;
    }
}
