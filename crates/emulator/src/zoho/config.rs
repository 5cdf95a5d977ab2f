//! Start-time configuration and run-time fault knobs of the Zoho emulator.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How to start a [`ZohoEmulator`](super::ZohoEmulator).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct ZohoConfig {
    /// Data-centre locations, one accounts server each (Zoho's `location` values such as `us`,
    /// `eu`, `in`, `au`, `jp`, `cn`, `ca`, `sa`). The first is where sign-in starts (Zoho always
    /// starts at accounts.zoho.com) and where users without a DC live. Default `["us"]`.
    pub data_centres: Vec<String>,
    /// Port of the API server (0 = any free port).
    pub api_port: u16,
    /// Port of each data centre's accounts server (missing = any free port).
    pub accounts_ports: BTreeMap<String, u16>,
    /// Strict mode: `/oauth/v2/auth` and the token endpoint accept only registered clients, the
    /// exact registered redirect URI (so a fixed loopback port) and the right client secret.
    /// Outside strict mode any client id and redirect URI are accepted (the redirect URI must
    /// still match between the authorization request and the token exchange), a secret is
    /// checked only when the client is registered with one and the caller sends one, and a
    /// refresh token may be redeemed under any client id (strict mode binds it to its client).
    pub strict: bool,
    /// Registered OAuth clients.
    pub clients: Vec<ClientSpec>,
    /// Users present at start. The first is the one the authorization page signs in by default.
    pub users: Vec<UserSpec>,
    /// API name of the unique custom text field (length 255) added to Contacts, Tasks and Events
    /// for the sync id; `None` leaves it out. Default `CRMSync_Id`.
    pub sync_id_field: Option<String>,
    /// Token lifetimes and limits.
    pub limits: TokenLimits,
    /// Answer token requests in the older shape: `expires_in_sec` (seconds) plus `expires_in` in
    /// milliseconds, instead of `expires_in` in seconds.
    pub legacy_expires_shape: bool,
    /// HTTP status of token-endpoint errors (`invalid_code`, `invalid_client`, `Access Denied`).
    /// Zoho answers them with 200 (Kaizen #43), the default.
    pub token_error_status: u16,
    /// Check OAuth scopes on every API call (401 `OAUTH_SCOPE_MISMATCH`). Default on.
    pub enforce_scopes: bool,
    /// Largest `per_page` (Zoho: 200); larger values are cut to it.
    pub max_per_page: usize,
    /// Records reachable with `page` numbers (Zoho: 2000); beyond it `page_token` is required.
    pub discrete_page_limit: usize,
    /// Records reachable at all through `page_token` (Zoho: 100,000).
    pub page_token_limit: usize,
    /// Fault knobs in force from the start.
    pub faults: Faults,
}

impl Default for ZohoConfig {
    fn default() -> Self {
        Self {
            data_centres: vec!["us".to_owned()],
            api_port: 0,
            accounts_ports: BTreeMap::new(),
            strict: false,
            clients: Vec::new(),
            users: vec![UserSpec::default()],
            sync_id_field: Some("CRMSync_Id".to_owned()),
            limits: TokenLimits::default(),
            legacy_expires_shape: false,
            token_error_status: 200,
            enforce_scopes: true,
            max_per_page: 200,
            discrete_page_limit: 2000,
            page_token_limit: 100_000,
            faults: Faults::default(),
        }
    }
}

/// A registered OAuth client (API Console entry).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientSpec {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`; `None` for a public (mobile/desktop) client.
    pub client_secret: Option<String>,
    /// Registered redirect URIs (exact match in strict mode).
    pub redirect_uris: Vec<String>,
}

/// A CRM user.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct UserSpec {
    /// Sign-in e-mail (unique).
    pub email: String,
    /// Full name, shown in `Owner.name`.
    pub full_name: String,
    /// Data centre the user lives in; `None` = the first configured one.
    pub dc: Option<String>,
    /// IANA time-zone name reported by `/users` (informational).
    pub time_zone: String,
    /// Fixed UTC offset in minutes used to render date-times for this user (no DST rules).
    pub utc_offset_minutes: i32,
}

impl Default for UserSpec {
    fn default() -> Self {
        Self {
            email: "owner@example.com".to_owned(),
            full_name: "Olivia Owner".to_owned(),
            dc: None,
            time_zone: "Asia/Singapore".to_owned(),
            utc_offset_minutes: 480,
        }
    }
}

/// Token lifetimes and limits (Zoho's documented values are the defaults).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenLimits {
    /// Access-token lifetime in seconds (3600).
    pub access_token_lifetime_secs: i64,
    /// Access tokens that may be minted from one refresh token per window (10); above it the
    /// token endpoint answers the "Access Denied" throttle body.
    pub mints_per_refresh_token: usize,
    /// The minting window in seconds (600 = 10 minutes).
    pub mint_window_secs: i64,
    /// Active access tokens per refresh token (15); the oldest is evicted beyond it.
    pub access_tokens_per_refresh_token: usize,
    /// Refresh tokens per user (20); the oldest is revoked when another is issued.
    pub refresh_tokens_per_user: usize,
    /// Lifetime of a grant code from `/oauth/v2/auth` in seconds (120).
    pub grant_code_lifetime_secs: i64,
    /// Default lifetime of a self-client grant code in seconds (180).
    pub self_client_code_lifetime_secs: i64,
}

impl Default for TokenLimits {
    fn default() -> Self {
        Self {
            access_token_lifetime_secs: 3600,
            mints_per_refresh_token: 10,
            mint_window_secs: 600,
            access_tokens_per_refresh_token: 15,
            refresh_tokens_per_user: 20,
            grant_code_lifetime_secs: 120,
            self_client_code_lifetime_secs: 180,
        }
    }
}

/// Fault knobs applied to API-server requests (not to `/_emulator/` nor the accounts servers).
///
/// Rates are probabilities in `0.0..=1.0`, drawn from a generator seeded with `seed`, so a run
/// with the same requests in the same order sees the same faults.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Delay before answering each API request, in milliseconds.
    pub latency_ms: u64,
    /// Share of API requests answered 429 `TOO_MANY_REQUESTS`.
    pub rate_429: f64,
    /// Share of API requests answered 500 `INTERNAL_ERROR`.
    pub rate_5xx: f64,
    /// Share of API requests whose connection is closed without a response. Writes are applied
    /// before the connection drops (the "unknown outcome" case).
    pub rate_drop: f64,
    /// Seed of the fault generator (re-seeded whenever faults are set).
    pub seed: u64,
    /// Concurrent API calls allowed; more are answered 429 `TOO_MANY_REQUESTS` (Zoho Standard
    /// edition: 10). 0 = unlimited.
    pub max_concurrency: usize,
    /// Per-record write failures.
    pub record_failures: Vec<RecordFailure>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            rate_429: 0.0,
            rate_5xx: 0.0,
            rate_drop: 0.0,
            seed: 0,
            max_concurrency: 10,
            record_failures: Vec::new(),
        }
    }
}

/// Fail a written record whose `field` equals `equals` with the given error `code`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordFailure {
    /// Module API name it applies to; `None` = every module.
    pub module: Option<String>,
    /// Field API name to look at in the request's record.
    pub field: String,
    /// Value that triggers the failure.
    pub equals: Value,
    /// Error code of the per-record result, e.g. `RECORD_LOCKED` or `INVALID_DATA`.
    pub code: String,
    /// Message of the per-record result.
    pub message: String,
}

impl Default for RecordFailure {
    fn default() -> Self {
        Self {
            module: None,
            field: String::new(),
            equals: Value::Null,
            code: "INVALID_DATA".to_owned(),
            message: "invalid data".to_owned(),
        }
    }
}

/// A custom view (`cvid`) filter.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ViewFilter {
    /// Records owned by this user id.
    OwnerIs {
        /// The owner's user id.
        user_id: String,
    },
    /// Records whose text field equals this value.
    FieldEquals {
        /// Field API name.
        field: String,
        /// Value to compare with.
        value: Value,
    },
    /// All records.
    All,
}
