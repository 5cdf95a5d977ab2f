//! The emulator's shared in-memory state: clock, users, OAuth grants and tokens, counters.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, FixedOffset, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::config::{ClientSpec, Faults, ViewFilter, ZohoConfig};
use super::records::Table;
use super::schema::Kind;

/// State shared by all servers of one emulator.
pub(crate) struct Shared {
    pub(crate) inner: Mutex<Inner>,
    pub(crate) in_flight: AtomicUsize,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock must not wedge every later request.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(crate) type SharedRef = Arc<Shared>;

/// The emulator clock: wall time plus an offset, never going back, and at least one second
/// further for every write, so `Modified_Time` (whole seconds) always increases.
pub(crate) struct Clock {
    pub(crate) offset_secs: i64,
    pub(crate) last: i64,
}

impl Clock {
    pub(crate) fn now(&self) -> i64 {
        (Utc::now().timestamp() + self.offset_secs).max(self.last)
    }

    pub(crate) fn stamp(&mut self) -> i64 {
        let t = self.now().max(self.last + 1);
        self.last = t;
        t
    }
}

/// A CRM user.
#[derive(Clone, Debug)]
pub(crate) struct User {
    pub(crate) id: u64,
    pub(crate) email: String,
    pub(crate) full_name: String,
    pub(crate) dc: String,
    pub(crate) time_zone: String,
    pub(crate) offset: FixedOffset,
}

/// An authorization (grant) code.
#[derive(Clone, Debug)]
pub(crate) struct GrantCode {
    pub(crate) user: u64,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) challenge: Option<(String, String)>,
    pub(crate) scopes: Vec<String>,
    pub(crate) dc: String,
    pub(crate) expires_at: i64,
    pub(crate) used: bool,
    pub(crate) issue_refresh: bool,
}

/// A refresh token.
#[derive(Clone, Debug)]
pub(crate) struct RefreshToken {
    pub(crate) user: u64,
    pub(crate) client_id: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) dc: String,
    pub(crate) seq: u64,
    pub(crate) mints: VecDeque<i64>,
    pub(crate) access_tokens: VecDeque<String>,
}

/// An access token.
#[derive(Clone, Debug)]
pub(crate) struct AccessToken {
    pub(crate) user: u64,
    pub(crate) refresh: Option<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) expires_at: i64,
}

/// A seeded custom view.
#[derive(Clone, Debug)]
pub(crate) struct View {
    pub(crate) id: u64,
    pub(crate) kind: Kind,
    pub(crate) name: String,
    pub(crate) filter: ViewFilter,
}

/// Where a `page_token` continues.
#[derive(Clone, Debug)]
pub(crate) struct PageToken {
    pub(crate) user: u64,
    pub(crate) binding: String,
    pub(crate) after: (i64, u64),
    pub(crate) served: usize,
    pub(crate) page: usize,
    pub(crate) expires_at: i64,
}

/// Everything behind the lock.
pub(crate) struct Inner {
    pub(crate) cfg: ZohoConfig,
    pub(crate) accounts_urls: BTreeMap<String, String>,
    pub(crate) api_url: String,
    pub(crate) users: Vec<User>,
    pub(crate) clients: Vec<ClientSpec>,
    pub(crate) browser_user: Option<u64>,
    pub(crate) codes: HashMap<String, GrantCode>,
    pub(crate) refresh: HashMap<String, RefreshToken>,
    pub(crate) refresh_seq: u64,
    pub(crate) access: HashMap<String, AccessToken>,
    pub(crate) consents: HashSet<(u64, String)>,
    pub(crate) clock: Clock,
    pub(crate) tables: BTreeMap<Kind, Table>,
    pub(crate) schemas: BTreeMap<Kind, Vec<super::schema::FieldDef>>,
    pub(crate) module_names: BTreeMap<Kind, String>,
    pub(crate) views: Vec<View>,
    pub(crate) page_tokens: HashMap<String, PageToken>,
    pub(crate) faults: Faults,
    pub(crate) rng: StdRng,
    pub(crate) token_rng: StdRng,
    pub(crate) counters: BTreeMap<String, u64>,
    pub(crate) next_id: u64,
}

/// Full scope set given to tokens issued from Rust or the control API.
pub(crate) const ALL_SCOPES: &str =
    "ZohoCRM.modules.ALL,ZohoCRM.settings.ALL,ZohoCRM.users.ALL,ZohoCRM.org.ALL,ZohoCRM.coql.READ";

pub(crate) fn split_scopes(s: &str) -> Vec<String> {
    s.split([',', ' '])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Inner {
    pub(crate) fn new(cfg: ZohoConfig) -> Self {
        let faults = cfg.faults.clone();
        let seed = faults.seed;
        let mut inner = Inner {
            accounts_urls: BTreeMap::new(),
            api_url: String::new(),
            users: Vec::new(),
            clients: cfg.clients.clone(),
            browser_user: None,
            codes: HashMap::new(),
            refresh: HashMap::new(),
            refresh_seq: 0,
            access: HashMap::new(),
            consents: HashSet::new(),
            clock: Clock {
                offset_secs: 0,
                last: 0,
            },
            tables: Kind::ALL
                .iter()
                .map(|k| {
                    let mut f: Vec<&str> = k.system_duplicate_field().into_iter().collect();
                    if let Some(s) = cfg.sync_id_field.as_deref() {
                        f.push(s);
                    }
                    (*k, Table::indexing(&f))
                })
                .collect(),
            schemas: Kind::ALL
                .iter()
                .map(|k| (*k, super::schema::fields(*k, cfg.sync_id_field.as_deref())))
                .collect(),
            module_names: Kind::ALL
                .iter()
                .map(|k| (*k, k.default_api_name().to_owned()))
                .collect(),
            views: Vec::new(),
            page_tokens: HashMap::new(),
            faults,
            rng: StdRng::seed_from_u64(seed),
            token_rng: StdRng::from_os_rng(),
            counters: BTreeMap::new(),
            next_id: 4_876_876_000_000_100_000,
            cfg,
        };
        for u in inner.cfg.users.clone() {
            inner.add_user(&u);
        }
        inner
    }

    pub(crate) fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// A Zoho-looking opaque token: `1000.<32 hex>.<32 hex>`.
    pub(crate) fn new_token(&mut self) -> String {
        let a: u128 = self.token_rng.random();
        let b: u128 = self.token_rng.random();
        format!("1000.{a:032x}.{b:032x}")
    }

    pub(crate) fn add_user(&mut self, u: &super::config::UserSpec) -> u64 {
        if let Some(existing) = self
            .users
            .iter()
            .find(|x| x.email.eq_ignore_ascii_case(&u.email))
        {
            return existing.id;
        }
        let id = self.new_id();
        let dc =
            u.dc.clone()
                .or_else(|| self.cfg.data_centres.first().cloned())
                .unwrap_or_else(|| "us".to_owned());
        let offset = FixedOffset::east_opt(u.utc_offset_minutes * 60)
            .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"));
        self.users.push(User {
            id,
            email: u.email.clone(),
            full_name: u.full_name.clone(),
            dc,
            time_zone: u.time_zone.clone(),
            offset,
        });
        id
    }

    pub(crate) fn user(&self, id: u64) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    /// Finds a user by id (decimal text) or e-mail.
    pub(crate) fn find_user(&self, key: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.id.to_string() == key || u.email.eq_ignore_ascii_case(key))
    }

    pub(crate) fn user_ref(&self, id: u64) -> Value {
        match self.user(id) {
            Some(u) => json!({"name": u.full_name, "id": u.id.to_string(), "email": u.email}),
            None => json!({"name": null, "id": id.to_string(), "email": null}),
        }
    }

    pub(crate) fn offset_of(&self, user: u64) -> FixedOffset {
        self.user(user)
            .map(|u| u.offset)
            .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"))
    }

    pub(crate) fn kind_by_name(&self, name: &str) -> Option<Kind> {
        self.module_names
            .iter()
            .find(|(_, n)| n.as_str() == name)
            .map(|(k, _)| *k)
    }

    pub(crate) fn name_of(&self, kind: Kind) -> &str {
        self.module_names
            .get(&kind)
            .map(String::as_str)
            .unwrap_or(kind.default_api_name())
    }

    pub(crate) fn count(&mut self, key: String) {
        *self.counters.entry(key).or_insert(0) += 1;
    }

    /// Draws a number in `0.0..1.0` from the fault generator.
    pub(crate) fn roll(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    /// Mints an access token for a refresh token (or none, for online access).
    pub(crate) fn mint_access(
        &mut self,
        user: u64,
        refresh: Option<&str>,
        scopes: Vec<String>,
    ) -> String {
        let token = self.new_token();
        let now = self.clock.now();
        let expires_at = now + self.cfg.limits.access_token_lifetime_secs;
        let cap = self.cfg.limits.access_tokens_per_refresh_token.max(1);
        if let Some(r) = refresh {
            let mut evicted = Vec::new();
            if let Some(rt) = self.refresh.get_mut(r) {
                rt.mints.push_back(now);
                rt.access_tokens.push_back(token.clone());
                while rt.access_tokens.len() > cap {
                    if let Some(old) = rt.access_tokens.pop_front() {
                        evicted.push(old);
                    }
                }
            }
            for old in evicted {
                self.access.remove(&old);
            }
        }
        self.access.insert(
            token.clone(),
            AccessToken {
                user,
                refresh: refresh.map(str::to_owned),
                scopes,
                expires_at,
            },
        );
        token
    }

    /// Issues a refresh token, revoking the user's oldest beyond the per-user limit.
    pub(crate) fn issue_refresh(
        &mut self,
        user: u64,
        client_id: &str,
        scopes: Vec<String>,
        dc: &str,
    ) -> String {
        let token = self.new_token();
        self.refresh_seq += 1;
        self.refresh.insert(
            token.clone(),
            RefreshToken {
                user,
                client_id: client_id.to_owned(),
                scopes,
                dc: dc.to_owned(),
                seq: self.refresh_seq,
                mints: VecDeque::new(),
                access_tokens: VecDeque::new(),
            },
        );
        let cap = self.cfg.limits.refresh_tokens_per_user.max(1);
        loop {
            let mut mine: Vec<(u64, String)> = self
                .refresh
                .iter()
                .filter(|(_, r)| r.user == user)
                .map(|(t, r)| (r.seq, t.clone()))
                .collect();
            if mine.len() <= cap {
                break;
            }
            mine.sort();
            let oldest = mine[0].1.clone();
            self.revoke_refresh(&oldest);
        }
        token
    }

    pub(crate) fn revoke_refresh(&mut self, token: &str) -> bool {
        match self.refresh.remove(token) {
            Some(rt) => {
                for a in rt.access_tokens {
                    self.access.remove(&a);
                }
                self.access
                    .retain(|_, a| a.refresh.as_deref() != Some(token));
                true
            }
            None => false,
        }
    }

    /// Makes every access token issued so far expired.
    pub(crate) fn expire_all_tokens(&mut self) {
        let now = self.clock.now();
        for a in self.access.values_mut() {
            a.expires_at = a.expires_at.min(now);
        }
    }

    pub(crate) fn render_time(&self, secs: i64, user: u64) -> String {
        render_time(secs, self.offset_of(user))
    }
}

/// Renders whole seconds since the epoch as Zoho does: `2026-11-25T10:00:00+08:00`.
pub(crate) fn render_time(secs: i64, offset: FixedOffset) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .unwrap_or_default()
        .with_timezone(&offset)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// Parses an ISO-8601 instant with offset (or `Z`) to whole seconds.
pub(crate) fn parse_time(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| d.timestamp())
}
