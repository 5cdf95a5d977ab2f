//! The home directory and the TOML settings file: the core's [`Settings`] plus the services'
//! (OAuth client ids, data centre, base URLs), with `KEY VALUE` editing that validates.
//!
//! API Boundary: the file's shape (`settings.toml`) and the environment variables are what users
//! and the Swift host rely on; new keys get serde defaults.

use std::path::{Path, PathBuf};

use crmsync_core::{CategoryFilter, Settings, ZohoScope};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{AppError, Result};
use super::secrets::SecretBackend;

/// The settings file's name inside the home directory.
pub const SETTINGS_FILE: &str = "settings.toml";
/// The state database's name inside the home directory.
pub const STATE_FILE: &str = "state.db";

/// Environment variables a host reads (the CLI and the tests use them).
pub mod env {
    /// The home directory (settings, state, lock, the file secret store).
    pub const HOME: &str = "CRMSYNC_HOME";
    /// Zoho accounts server (sign-in), e.g. `https://accounts.zoho.eu`.
    pub const ZOHO_ACCOUNTS_URL: &str = "CRMSYNC_ZOHO_ACCOUNTS_URL";
    /// Zoho API domain, e.g. `https://www.zohoapis.eu`.
    pub const ZOHO_API_URL: &str = "CRMSYNC_ZOHO_API_URL";
    /// Microsoft Graph base URL, e.g. `https://graph.microsoft.com/v1.0`.
    pub const GRAPH_URL: &str = "CRMSYNC_GRAPH_URL";
    /// Microsoft identity platform authority, e.g. `https://login.microsoftonline.com`.
    pub const MS_LOGIN_URL: &str = "CRMSYNC_MS_LOGIN_URL";
    /// `auto`, `keyring` or `file`.
    pub const SECRET_STORE: &str = "CRMSYNC_SECRET_STORE";
}

/// Zoho service settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ZohoService {
    /// OAuth client id from Zoho's API console.
    pub client_id: Option<String>,
    /// Data centre: us, eu, in, au, cn, jp, ca, sa.
    pub dc: String,
    /// Accounts server override (sovereign clouds, the emulator).
    pub accounts_url: Option<String>,
    /// API domain override.
    pub api_url: Option<String>,
    /// The loopback port registered with the OAuth client (`http://127.0.0.1:{port}/callback`).
    pub redirect_port: u16,
    /// API name of the unique custom field holding the sync id.
    pub sync_id_field: String,
}

impl Default for ZohoService {
    fn default() -> Self {
        ZohoService {
            client_id: None,
            dc: "us".into(),
            accounts_url: None,
            api_url: None,
            redirect_port: 53682,
            sync_id_field: "CRMSync_Id".into(),
        }
    }
}

/// Microsoft (Outlook / Graph) service settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutlookService {
    /// Application (client) id of the app registration (a public client).
    pub client_id: Option<String>,
    /// `common`, `organizations`, `consumers` or a tenant id / domain.
    pub tenant: String,
    /// Authority override (sovereign clouds, the emulator).
    pub login_url: Option<String>,
    /// Graph base URL override.
    pub graph_url: Option<String>,
    /// Loopback port of the browser sign-in (0 = any free port; Microsoft accepts any port on
    /// `http://localhost`).
    pub redirect_port: u16,
}

impl Default for OutlookService {
    fn default() -> Self {
        OutlookService {
            client_id: None,
            tenant: "common".into(),
            login_url: None,
            graph_url: None,
            redirect_port: 0,
        }
    }
}

/// Where secrets go.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretsConfig {
    /// `auto` (keychain, else a 0600 file), `keyring` or `file`.
    pub store: SecretBackend,
}

/// The whole settings file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileConfig {
    /// What syncs and how (the core's settings).
    pub sync: Settings,
    /// Zoho.
    pub zoho: ZohoService,
    /// Outlook.
    pub outlook: OutlookService,
    /// Secrets.
    pub secrets: SecretsConfig,
}

/// Values from the environment that win over the file (tests, sovereign clouds).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// `CRMSYNC_ZOHO_ACCOUNTS_URL`.
    pub zoho_accounts_url: Option<String>,
    /// `CRMSYNC_ZOHO_API_URL`.
    pub zoho_api_url: Option<String>,
    /// `CRMSYNC_GRAPH_URL`.
    pub graph_url: Option<String>,
    /// `CRMSYNC_MS_LOGIN_URL`.
    pub ms_login_url: Option<String>,
    /// `CRMSYNC_SECRET_STORE`.
    pub secret_store: Option<SecretBackend>,
}

/// Where a host keeps its files, and what overrides the settings file.
#[derive(Debug, Clone, PartialEq)]
pub struct AppConfig {
    /// The home directory.
    pub home: PathBuf,
    /// Overrides.
    pub overrides: Overrides,
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl AppConfig {
    /// A config on an explicit home directory, without overrides.
    pub fn new(home: impl Into<PathBuf>) -> Self {
        AppConfig {
            home: home.into(),
            overrides: Overrides::default(),
        }
    }

    /// The platform's config directory (`~/.config/crmsync`, `~/Library/Application
    /// Support/crmsync`, `%APPDATA%\crmsync`).
    pub fn default_home() -> Result<PathBuf> {
        dirs::config_dir()
            .map(|d| d.join("crmsync"))
            .ok_or_else(|| {
                AppError::Config(format!(
                    "no config directory is known on this system; set {}",
                    env::HOME
                ))
            })
    }

    /// The home from `CRMSYNC_HOME` (else the platform's config dir) and the URL overrides
    /// from the environment.
    pub fn from_env() -> Result<Self> {
        let home = match env_var(env::HOME) {
            Some(h) => PathBuf::from(h),
            None => Self::default_home()?,
        };
        let secret_store = match env_var(env::SECRET_STORE) {
            Some(v) => Some(SecretBackend::parse(&v).ok_or_else(|| {
                AppError::Config(format!(
                    "{} must be auto, keyring or file (not {v:?})",
                    env::SECRET_STORE
                ))
            })?),
            None => None,
        };
        Ok(AppConfig {
            home,
            overrides: Overrides {
                zoho_accounts_url: env_var(env::ZOHO_ACCOUNTS_URL),
                zoho_api_url: env_var(env::ZOHO_API_URL),
                graph_url: env_var(env::GRAPH_URL),
                ms_login_url: env_var(env::MS_LOGIN_URL),
                secret_store,
            },
        })
    }

    /// The settings file.
    pub fn settings_path(&self) -> PathBuf {
        self.home.join(SETTINGS_FILE)
    }

    /// The state database.
    pub fn state_path(&self) -> PathBuf {
        self.home.join(STATE_FILE)
    }
}

impl FileConfig {
    /// Reads the file (defaults when it does not exist).
    pub fn load(path: &Path) -> Result<FileConfig> {
        match std::fs::read_to_string(path) {
            Ok(s) => {
                let c: FileConfig = toml::from_str(&s).map_err(|e| {
                    AppError::Config(format!(
                        "{} is not valid: {}; fix or delete it",
                        path.display(),
                        e.message()
                    ))
                })?;
                c.sync.validate()?;
                Ok(c)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
            Err(e) => Err(AppError::Io(format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// Writes the file atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let body = toml::to_string_pretty(self)
            .map_err(|e| AppError::Config(format!("settings cannot be written: {e}")))?;
        let tmp = path.with_extension("toml.tmp");
        let io = |e: std::io::Error| AppError::Io(format!("cannot write {}: {e}", path.display()));
        std::fs::write(&tmp, body).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// The file as TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Every settable key with its current value, in file order (`config show`).
    pub fn entries(&self) -> Vec<(String, String)> {
        let mut out = vec![];
        if let Ok(v) = serde_json::to_value(self) {
            flatten("", &v, &mut out);
        }
        out
    }

    /// Reads one key (`config get`).
    pub fn get(&self, key: &str) -> Result<String> {
        let key = match key.strip_prefix("all.") {
            Some(rest) => format!("contacts.{rest}"),
            None => key.to_string(),
        };
        let key = canonical_key(&key)?;
        let short = key.strip_prefix("sync.").unwrap_or(&key);
        self.entries()
            .into_iter()
            .find(|(k, _)| k == short)
            .map(|(_, v)| v)
            .ok_or_else(|| unknown_key(&key))
    }

    /// Sets one key from its text form, validating the result; the file is unchanged on error.
    ///
    /// Keys are dotted paths (`contacts.direction`, `events.window.days_back`,
    /// `zoho.client_id`), with short forms (`contacts.winner` = `contacts.conflict.winner`,
    /// `contacts.folder` = `contacts.outlook_container`, `events.categories` =
    /// `events.category_filter`) and `all.*` for every kind at once.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        if let Some(rest) = key.strip_prefix("all.") {
            let mut next = self.clone();
            for k in ["contacts", "tasks", "events"] {
                next.set(&format!("{k}.{rest}"), value)?;
            }
            *self = next;
            return Ok(());
        }
        let key = canonical_key(key)?;
        let mut root = serde_json::to_value(&*self)
            .map_err(|e| AppError::Config(format!("settings cannot be read: {e}")))?;
        let path: Vec<&str> = key.split('.').collect();
        let slot = pointer_mut(&mut root, &path).ok_or_else(|| unknown_key(&key))?;
        if slot.is_object() && !is_tagged(&key) {
            return Err(AppError::Config(format!(
                "{key} is a group of settings; set one of its keys (see `crmsync config show`)"
            )));
        }
        *slot = parse_value(&key, slot, value)?;
        let next: FileConfig = serde_json::from_value(root).map_err(|e| {
            AppError::Config(format!(
                "{key}: {}; see `crmsync config show` for the allowed values",
                clean_serde(&e.to_string())
            ))
        })?;
        next.sync.validate()?;
        next.validate_services()?;
        *self = next;
        Ok(())
    }

    fn validate_services(&self) -> Result<()> {
        const DCS: [&str; 8] = ["us", "eu", "in", "au", "cn", "jp", "ca", "sa"];
        if !DCS.contains(&self.zoho.dc.as_str()) {
            return Err(AppError::Config(format!(
                "zoho.dc: {:?} is not a Zoho data centre; use one of {}",
                self.zoho.dc,
                DCS.join(", ")
            )));
        }
        for (k, v) in [
            ("zoho.accounts_url", &self.zoho.accounts_url),
            ("zoho.api_url", &self.zoho.api_url),
            ("outlook.login_url", &self.outlook.login_url),
            ("outlook.graph_url", &self.outlook.graph_url),
        ] {
            if let Some(u) = v {
                let ok = url::Url::parse(u)
                    .map(|u| matches!(u.scheme(), "http" | "https"))
                    .unwrap_or(false);
                if !ok {
                    return Err(AppError::Config(format!(
                        "{k}: {u:?} is not an http(s) URL"
                    )));
                }
            }
        }
        if self.zoho.sync_id_field.trim().is_empty() {
            return Err(AppError::Config(
                "zoho.sync_id_field must not be blank".into(),
            ));
        }
        Ok(())
    }
}

const KINDS: [&str; 3] = ["contacts", "tasks", "events"];

fn canonical_key(key: &str) -> Result<String> {
    let key = key.trim().to_ascii_lowercase();
    let mut parts: Vec<String> = key.split('.').map(str::to_string).collect();
    if parts.len() >= 2 {
        if let Some(k) = crmsync_core::Kind::parse(&parts[0]) {
            parts[0] = KINDS[k as usize].to_string();
        }
    }
    if parts.first().is_some_and(|p| KINDS.contains(&p.as_str())) {
        parts.insert(0, "sync".into());
    }
    let mut key = parts.join(".");
    for (short, long) in [
        ("winner", "conflict.winner"),
        ("field_merge", "conflict.field_merge"),
        ("folder", "outlook_container"),
        ("list", "outlook_container"),
        ("calendar", "outlook_container"),
        ("categories", "category_filter"),
        ("scope", "zoho_scope"),
    ] {
        for k in KINDS {
            if key == format!("sync.{k}.{short}") {
                key = format!("sync.{k}.{long}");
            }
        }
    }
    if key.is_empty() {
        return Err(unknown_key(&key));
    }
    Ok(key)
}

fn unknown_key(key: &str) -> AppError {
    AppError::Config(format!(
        "unknown setting {:?}; `crmsync config show` lists every key",
        key.strip_prefix("sync.").unwrap_or(key)
    ))
}

fn is_tagged(key: &str) -> bool {
    key.ends_with(".zoho_scope") || key.ends_with(".category_filter")
}

fn pointer_mut<'a>(v: &'a mut Value, path: &[&str]) -> Option<&'a mut Value> {
    let mut cur = v;
    for p in path {
        cur = cur.as_object_mut()?.get_mut(*p)?;
    }
    Some(cur)
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    let key = |k: &str| {
        let full = if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        };
        full.strip_prefix("sync.")
            .map(str::to_string)
            .unwrap_or(full)
    };
    match v {
        Value::Object(m) if !is_tagged(prefix) => {
            for (k, child) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if child.is_object() && !is_tagged(&p) {
                    flatten(&p, child, out);
                } else {
                    out.push((key(k), show(&p, child)));
                }
            }
        }
        _ => out.push((prefix.to_string(), show(prefix, v))),
    }
}

/// The text form of a value, the same that `set` accepts.
fn show(key: &str, v: &Value) -> String {
    if key.ends_with(".zoho_scope") {
        if let Ok(s) = serde_json::from_value::<ZohoScope>(v.clone()) {
            return match s {
                ZohoScope::OwnedByMe => "owned_by_me".into(),
                ZohoScope::AllVisible => "all_visible".into(),
                ZohoScope::CustomView(id) => format!("view:{id}"),
            };
        }
    }
    if key.ends_with(".category_filter") {
        if let Ok(c) = serde_json::from_value::<CategoryFilter>(v.clone()) {
            return match c {
                CategoryFilter::ZohoOnly => "zoho_only".into(),
                CategoryFilter::All => "all".into(),
                CategoryFilter::Chosen(n) => format!("chosen:{}", n.join(",")),
            };
        }
    }
    match v {
        Value::Null => "default".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => {
            if a.is_empty() {
                "none".into()
            } else {
                a.iter()
                    .map(|x| x.as_str().map(str::to_string).unwrap_or(x.to_string()))
                    .collect::<Vec<_>>()
                    .join(",")
            }
        }
        other => other.to_string(),
    }
}

fn parse_value(key: &str, current: &Value, text: &str) -> Result<Value> {
    let t = text.trim();
    let bad = |what: &str| AppError::Config(format!("{key}: {t:?} is not {what}"));
    let short = key.strip_prefix("sync.").unwrap_or(key);
    if key.ends_with(".zoho_scope") {
        return Ok(match t.to_ascii_lowercase().as_str() {
            "owned_by_me" | "mine" | "owned" => serde_json::json!({"mode": "owned_by_me"}),
            "all_visible" | "all" => serde_json::json!({"mode": "all_visible"}),
            _ => match t.strip_prefix("view:") {
                Some(id) => serde_json::json!({"mode": "custom_view", "view_id": id.trim()}),
                None => {
                    return Err(AppError::Config(format!(
                    "{short}: {t:?} is not a Zoho scope; use owned_by_me, all_visible or view:CVID"
                )))
                }
            },
        });
    }
    if key.ends_with(".category_filter") {
        return Ok(match t.to_ascii_lowercase().as_str() {
            "zoho_only" | "zoho" => serde_json::json!({"mode": "zoho_only"}),
            "all" => serde_json::json!({"mode": "all"}),
            _ => match t.strip_prefix("chosen:") {
                Some(names) => serde_json::json!({"mode": "chosen", "names": split_list(names)}),
                None => {
                    return Err(AppError::Config(format!(
                        "{short}: {t:?} is not a category filter; use zoho_only, all or chosen:NAME,NAME"
                    )))
                }
            },
        });
    }
    Ok(match current {
        Value::Bool(_) => Value::Bool(match t.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => true,
            "false" | "no" | "off" | "0" => false,
            _ => return Err(bad("true or false")),
        }),
        Value::Number(n) if n.is_f64() => {
            let f: f64 = t.parse().map_err(|_| bad("a number"))?;
            serde_json::json!(f)
        }
        Value::Number(_) => {
            let n: u64 = t.parse().map_err(|_| bad("a whole number"))?;
            serde_json::json!(n)
        }
        Value::Array(_) => {
            if matches!(t.to_ascii_lowercase().as_str(), "none" | "") {
                Value::Array(vec![])
            } else {
                Value::Array(split_list(t).into_iter().map(Value::String).collect())
            }
        }
        Value::Null | Value::String(_) => {
            // Optional values (folders, client ids, URL overrides) go back to the default.
            let optional = current.is_null()
                || key.ends_with("_url")
                || key.ends_with("client_id")
                || key.ends_with("outlook_container");
            if optional && matches!(t.to_ascii_lowercase().as_str(), "default" | "none" | "") {
                return Ok(Value::Null);
            }
            Value::String(match key.rsplit('.').next() {
                // Enum values are written in snake_case; accept dashes too.
                Some("direction" | "winner" | "delete_policy" | "store") => {
                    t.to_ascii_lowercase().replace('-', "_")
                }
                _ => t.to_string(),
            })
        }
        Value::Object(_) => return Err(bad("a single value")),
    })
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

/// serde's messages name Rust types; keep the part a user can act on.
fn clean_serde(s: &str) -> String {
    s.split(" at line ").next().unwrap_or(s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crmsync_core::{Direction, Winner};

    #[test]
    fn set_accepts_good_values_and_names_the_key_on_bad_ones() {
        let mut c = FileConfig::default();
        c.set("contacts.direction", "zoho-to-outlook").unwrap();
        assert_eq!(c.sync.contacts.direction, Direction::ZohoToOutlook);
        c.set("all.winner", "manual").unwrap();
        assert_eq!(c.sync.events.conflict.winner, Winner::Manual);
        c.set("events.categories", "chosen:Red,Blue").unwrap();
        assert_eq!(
            c.sync.events.category_filter,
            CategoryFilter::Chosen(vec!["Red".into(), "Blue".into()])
        );
        c.set("contacts.folder", "AAMk1").unwrap();
        assert_eq!(c.sync.contacts.outlook_container.as_deref(), Some("AAMk1"));
        c.set("contacts.folder", "default").unwrap();
        assert_eq!(c.sync.contacts.outlook_container, None);
        c.set("zoho.dc", "eu").unwrap();
        c.set("events.window.days_back", "7").unwrap();
        assert_eq!(c.sync.events.window.days_back, 7);
        assert_eq!(c.get("events.categories").unwrap(), "chosen:Red,Blue");

        let before = c.clone();
        for (k, v, says) in [
            ("contacts.direction", "sideways", "contacts.direction"),
            ("contacts.guard.max_share", "2", "contacts.guard.max_share"),
            ("events.window.days_ahead", "-1", "whole number"),
            ("zoho.dc", "mars", "data centre"),
            ("nope", "1", "unknown setting"),
            ("contacts.guard", "1", "group of settings"),
            ("zoho.api_url", "ftp://x", "http(s)"),
        ] {
            let e = c.set(k, v).unwrap_err().to_string();
            assert!(e.contains(says), "{k}={v}: {e}");
        }
        assert_eq!(c, before);
        let text = c.to_toml();
        let back: FileConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, c);
    }
}
