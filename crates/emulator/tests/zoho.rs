//! The Zoho emulator over real loopback HTTP, as a connector would see it.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use base64::Engine;
use crmsync_emulator::zoho::{
    ClientSpec, Faults, RecordFailure, Settings, TokenLimits, UserSpec, ViewFilter, ZohoConfig,
    ZohoEmulator, DEFAULT_CLIENT_ID,
};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const OWNER: &str = "owner@example.com";

fn http() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

struct Api {
    emu: ZohoEmulator,
    http: Client,
    token: String,
}

impl Api {
    async fn start(cfg: ZohoConfig) -> Self {
        let emu = ZohoEmulator::start(cfg).await.unwrap();
        let token = emu.issue_access_token(OWNER, None).unwrap();
        Api {
            emu,
            http: http(),
            token,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/crm/v8{path}", self.emu.api_url())
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("Authorization", format!("Zoho-oauthtoken {}", self.token))
    }

    async fn get(&self, path: &str) -> Response {
        self.req(reqwest::Method::GET, path).send().await.unwrap()
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self.req(method, path).json(&body).send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

async fn json_of(r: Response) -> (StatusCode, Value) {
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Runs `/oauth/v2/auth` and returns the redirect's query parameters.
async fn authorize(accounts: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut q = vec![
        ("response_type", "code"),
        ("client_id", "1000.CLIENT"),
        ("scope", "ZohoCRM.modules.ALL,ZohoCRM.users.READ"),
        ("redirect_uri", "http://127.0.0.1:53682/callback"),
        ("access_type", "offline"),
        ("state", "st-123"),
    ];
    q.extend_from_slice(extra);
    let r = http()
        .get(format!("{accounts}/oauth/v2/auth"))
        .query(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(loc.starts_with("http://127.0.0.1:53682/callback?"), "{loc}");
    url::Url::parse(&loc)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

async fn exchange(accounts: &str, code: &str, verifier: Option<&str>) -> (StatusCode, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", "1000.CLIENT"),
        ("redirect_uri", "http://127.0.0.1:53682/callback"),
        ("code", code),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    json_of(
        http()
            .post(format!("{accounts}/oauth/v2/token"))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn refresh(accounts: &str, token: &str) -> (StatusCode, Value) {
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", DEFAULT_CLIENT_ID),
        ("refresh_token", token),
    ];
    json_of(
        http()
            .post(format!("{accounts}/oauth/v2/token"))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn authorization_code_with_pkce() {
    let emu = ZohoEmulator::start(ZohoConfig::default()).await.unwrap();
    let acc = emu.accounts_url();
    let verifier = "a-verifier-that-is-long-enough-0123456789-abcdefghij";
    let q = authorize(
        &acc,
        &[
            ("code_challenge", &s256(verifier)),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(q["state"], "st-123");
    assert_eq!(q["location"], "us");
    assert_eq!(q["accounts-server"], acc);

    // A wrong verifier fails (on HTTP 200, like every token error) and does not use up the code.
    let (s, b) = exchange(&acc, &q["code"], Some("wrong")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, json!({"error": "invalid_code"}));
    let (_, b) = exchange(&acc, &q["code"], None).await;
    assert_eq!(b["error"], "invalid_code");

    let (s, b) = exchange(&acc, &q["code"], Some(verifier)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["api_domain"], emu.api_url());
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], 3600);
    assert!(b["refresh_token"].as_str().unwrap().starts_with("1000."));
    let access = b["access_token"].as_str().unwrap().to_owned();

    // The code is single use.
    let (_, b) = exchange(&acc, &q["code"], Some(verifier)).await;
    assert_eq!(b["error"], "invalid_code");

    // The token works at the API.
    let r = http()
        .get(format!("{}/crm/v8/users?type=CurrentUser", emu.api_url()))
        .header("Authorization", format!("Zoho-oauthtoken {access}"))
        .send()
        .await
        .unwrap();
    let (s, b) = json_of(r).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["users"][0]["email"], OWNER);
    assert_eq!(b["users"][0]["time_zone"], "Asia/Singapore");

    // Plain PKCE, and a second consent without prompt=consent gets no new refresh token.
    let q = authorize(
        &acc,
        &[
            ("code_challenge", "plain-verifier"),
            ("code_challenge_method", "plain"),
        ],
    )
    .await;
    let (_, b) = exchange(&acc, &q["code"], Some("plain-verifier")).await;
    assert!(b["access_token"].is_string());
    assert!(b.get("refresh_token").is_none());
    let q = authorize(&acc, &[("prompt", "consent")]).await;
    let (_, b) = exchange(&acc, &q["code"], None).await;
    assert!(b["refresh_token"].is_string());

    // Codes expire after two minutes.
    let q = authorize(&acc, &[]).await;
    emu.advance_clock(121);
    let (_, b) = exchange(&acc, &q["code"], None).await;
    assert_eq!(b["error"], "invalid_code");
}

#[tokio::test]
async fn strict_mode_needs_registered_redirect_and_secret() {
    let cfg = ZohoConfig {
        strict: true,
        clients: vec![ClientSpec {
            client_id: "1000.CLIENT".into(),
            client_secret: Some("s3cret".into()),
            redirect_uris: vec!["http://127.0.0.1:53682/callback".into()],
        }],
        ..ZohoConfig::default()
    };
    let emu = ZohoEmulator::start(cfg).await.unwrap();
    let acc = emu.accounts_url();
    let r = http()
        .get(format!("{acc}/oauth/v2/auth"))
        .query(&[
            ("response_type", "code"),
            ("client_id", "1000.CLIENT"),
            ("redirect_uri", "http://127.0.0.1:9999/callback"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let q = authorize(&acc, &[]).await;
    let (_, b) = exchange(&acc, &q["code"], None).await;
    assert_eq!(b["error"], "invalid_client");
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", "1000.CLIENT"),
        ("client_secret", "s3cret"),
        ("redirect_uri", "http://127.0.0.1:53682/callback"),
        ("code", q["code"].as_str()),
    ];
    let (_, b) = json_of(
        http()
            .post(format!("{acc}/oauth/v2/token"))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(b["access_token"].is_string(), "{b}");
}

#[tokio::test]
async fn data_centres_route_the_token_exchange() {
    let cfg = ZohoConfig {
        data_centres: vec!["us".into(), "eu".into()],
        users: vec![UserSpec {
            email: "eu@example.com".into(),
            full_name: "Eve Europe".into(),
            dc: Some("eu".into()),
            time_zone: "Europe/Berlin".into(),
            utc_offset_minutes: 60,
        }],
        ..ZohoConfig::default()
    };
    let emu = ZohoEmulator::start(cfg).await.unwrap();
    let us = emu.accounts_url();
    let eu = emu.accounts_url_for("eu").unwrap();
    assert_ne!(us, eu);
    let q = authorize(&us, &[]).await;
    assert_eq!(q["location"], "eu");
    assert_eq!(q["accounts-server"], eu);
    let (s, b) = exchange(&us, &q["code"], None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["error"], "invalid_code");
    let (_, b) = exchange(&eu, &q["code"], None).await;
    assert_eq!(b["api_domain"], emu.api_url());
    let r = b["refresh_token"].as_str().unwrap();
    // Refresh tokens, too, live in their data centre.
    assert_eq!(refresh(&us, r).await.1["error"], "invalid_code");
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", "1000.CLIENT"),
        ("refresh_token", r),
    ];
    let (_, b) = json_of(
        http()
            .post(format!("{eu}/oauth/v2/token"))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(b["access_token"].is_string());
}

#[tokio::test]
async fn refresh_throttle_revoke_and_expiry() {
    let api = Api::start(ZohoConfig::default()).await;
    let acc = api.emu.accounts_url();
    let rt = api.emu.issue_refresh_token(OWNER).unwrap();
    let mut tokens = Vec::new();
    for _ in 0..10 {
        let (s, b) = refresh(&acc, &rt).await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            b.get("refresh_token").is_none(),
            "refresh tokens are not rotated"
        );
        tokens.push(b["access_token"].as_str().unwrap().to_owned());
    }
    let (s, b) = refresh(&acc, &rt).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        b,
        json!({
            "error_description": "You have made too many requests continuously. Please try again after some time.",
            "error": "Access Denied",
            "status": "failure"
        })
    );
    api.emu.advance_clock(601);
    let (_, b) = refresh(&acc, &rt).await;
    assert!(b["access_token"].is_string());

    // Older response shape on request.
    api.emu.apply_settings(Settings {
        legacy_expires_shape: Some(true),
        ..Settings::default()
    });
    let (_, b) = refresh(&acc, &rt).await;
    assert_eq!(
        (b["expires_in_sec"].as_i64(), b["expires_in"].as_i64()),
        (Some(3600), Some(3_600_000))
    );

    // Forced expiry: 401 INVALID_TOKEN.
    let (s, _) = json_of(api.get("/users?type=CurrentUser").await).await;
    assert_eq!(s, StatusCode::OK);
    api.emu.expire_access_tokens();
    let (s, b) = json_of(api.get("/users?type=CurrentUser").await).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        b,
        json!({"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error"})
    );
    let r = http()
        .get(api.url("/users"))
        .header("Authorization", format!("Bearer {}", tokens[9]))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(r).await.1["code"], "AUTHENTICATION_FAILURE");

    // Revoke: the refresh token and its access tokens die.
    let (_, b) = refresh(&acc, &rt).await;
    let fresh = b["access_token"].as_str().unwrap().to_owned();
    let r = http()
        .post(format!("{acc}/oauth/v2/token/revoke"))
        .query(&[("token", &rt)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(r).await,
        (StatusCode::OK, json!({"status": "success"}))
    );
    assert_eq!(refresh(&acc, &rt).await.1, json!({"error": "invalid_code"}));
    let r = http()
        .get(api.url("/users"))
        .header("Authorization", format!("Zoho-oauthtoken {fresh}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = http()
        .post(format!("{acc}/oauth/v2/token/revoke"))
        .query(&[("token", &rt)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn refresh_tokens_per_user_evict_the_oldest_and_self_client_codes_work() {
    let cfg = ZohoConfig {
        limits: TokenLimits {
            refresh_tokens_per_user: 2,
            ..TokenLimits::default()
        },
        ..ZohoConfig::default()
    };
    let emu = ZohoEmulator::start(cfg).await.unwrap();
    let acc = emu.accounts_url();
    let first = emu.issue_refresh_token(OWNER).unwrap();

    // Active access tokens per refresh token: the oldest is evicted beyond the limit.
    emu.apply_settings(Settings {
        limits: Some(TokenLimits {
            refresh_tokens_per_user: 2,
            access_tokens_per_refresh_token: 2,
            ..TokenLimits::default()
        }),
        ..Settings::default()
    });
    let mut minted = Vec::new();
    for _ in 0..3 {
        minted.push(
            refresh(&acc, &first).await.1["access_token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let users = |t: &str| {
        http()
            .get(format!("{}/crm/v8/users", emu.api_url()))
            .header("Authorization", format!("Zoho-oauthtoken {t}"))
            .send()
    };
    assert_eq!(
        users(&minted[0]).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(users(&minted[2]).await.unwrap().status(), StatusCode::OK);

    let second = emu.issue_refresh_token(OWNER).unwrap();
    let code = emu
        .issue_grant_code(OWNER, DEFAULT_CLIENT_ID, None, None)
        .unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", DEFAULT_CLIENT_ID),
        ("code", code.as_str()),
    ];
    let (_, b) = json_of(
        http()
            .post(format!("{acc}/oauth/v2/token"))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(b["refresh_token"].is_string(), "{b}");
    assert_eq!(refresh(&acc, &first).await.1["error"], "invalid_code");
    assert!(refresh(&acc, &second).await.1["access_token"].is_string());
    // Query-string parameters are accepted too.
    let r = http()
        .post(format!("{acc}/oauth/v2/token"))
        .query(&[
            ("grant_type", "refresh_token"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("refresh_token", &second),
        ])
        .send()
        .await
        .unwrap();
    assert!(json_of(r).await.1["access_token"].is_string());
}

#[tokio::test]
async fn metadata_modules_fields_users() {
    let api = Api::start(ZohoConfig::default()).await;
    let (s, b) = json_of(api.get("/settings/modules").await).await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = b["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["api_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Contacts", "Tasks", "Events", "Accounts"]);
    let (_, b) = json_of(api.get("/settings/fields?module=Contacts").await).await;
    let f = |n: &str| {
        b["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["api_name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(f("Last_Name")["length"], 80);
    assert_eq!(f("Last_Name")["system_mandatory"], true);
    assert_eq!(f("CRMSync_Id")["unique"], json!({"casesensitive": "false"}));
    assert_eq!(f("Account_Name")["data_type"], "lookup");
    let (_, b) = json_of(api.get("/users?type=AllUsers").await).await;
    assert_eq!(b["users"].as_array().unwrap().len(), 1);

    assert!(api.emu.rename_module("Events", "Meetings"));
    let (s, b) = json_of(api.get("/Events?fields=Event_Title").await).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_MODULE"))
    );
    assert_eq!(
        api.get("/Meetings?fields=Event_Title").await.status(),
        StatusCode::NO_CONTENT
    );
    // v7 paths are served too.
    let r = http()
        .get(format!("{}/crm/v7/settings/modules", api.emu.api_url()))
        .header("Authorization", format!("Zoho-oauthtoken {}", api.token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn scopes_are_checked() {
    let api = Api::start(ZohoConfig::default()).await;
    let t = api
        .emu
        .issue_access_token(OWNER, Some("ZohoCRM.modules.contacts.READ"))
        .unwrap();
    let get = |p: &str| {
        http()
            .get(api.url(p))
            .header("Authorization", format!("Zoho-oauthtoken {t}"))
            .send()
    };
    assert_eq!(
        get("/Contacts?fields=Last_Name").await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let (s, b) = json_of(get("/Tasks?fields=Subject").await.unwrap()).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("OAUTH_SCOPE_MISMATCH"))
    );
}

#[tokio::test]
async fn listing_pages_past_2000_with_page_token() {
    let api = Api::start(ZohoConfig::default()).await;
    let recs: Vec<Value> = (0..2100)
        .map(|i| json!({"Last_Name": format!("L{i:04}")}))
        .collect();
    api.emu.insert_records("Contacts", &recs).unwrap();

    let (s, b) = json_of(api.get("/Contacts").await).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("REQUIRED_PARAM_MISSING"))
    );
    assert_eq!(b["details"]["param_name"], "fields");
    let many: Vec<String> = (0..51).map(|i| format!("F{i}")).collect();
    let (_, b) = json_of(
        api.get(&format!("/Contacts?fields={}", many.join(",")))
            .await,
    )
    .await;
    assert_eq!(b["code"], "LIMIT_EXCEEDED");

    let (s, b) = json_of(
        api.get("/Contacts?fields=Last_Name&page=10&per_page=200")
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["info"]["more_records"], true);
    let (s, b) = json_of(
        api.get("/Contacts?fields=Last_Name&page=11&per_page=200")
            .await,
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("DISCRETE_PAGINATION_LIMIT_EXCEEDED")
        )
    );
    assert_eq!(b["details"]["limit"], 2000);

    let mut seen = std::collections::HashSet::new();
    let mut path =
        "/Contacts?fields=Last_Name,Email&per_page=200&sort_by=Modified_Time&sort_order=asc"
            .to_owned();
    let mut pages = 0;
    loop {
        let (s, b) = json_of(api.get(&path).await).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        pages += 1;
        for r in b["data"].as_array().unwrap() {
            assert!(seen.insert(r["id"].as_str().unwrap().to_owned()));
            assert!(r.get("Last_Name").is_some() && r.get("Email").is_some());
            assert!(r.get("Phone").is_none(), "only requested fields");
        }
        if b["info"]["more_records"] != true {
            assert!(b["info"]["next_page_token"].is_null());
            break;
        }
        let token = b["info"]["next_page_token"].as_str().unwrap();
        assert!(b["info"]["page_token_expiry"].is_string());
        path = format!(
            "/Contacts?fields=Last_Name,Email&per_page=200&sort_by=Modified_Time&sort_order=asc&page_token={token}"
        );
    }
    assert_eq!((seen.len(), pages), (2100, 11));

    // A page token is bound to its parameters and cannot be mixed with page.
    let (_, b) = json_of(api.get("/Contacts?fields=Last_Name&per_page=200").await).await;
    let token = b["info"]["next_page_token"].as_str().unwrap().to_owned();
    let (_, b) = json_of(
        api.get(&format!(
            "/Contacts?fields=Email&per_page=200&page_token={token}"
        ))
        .await,
    )
    .await;
    assert_eq!(b["code"], "TOKEN_BOUND_DATA_MISMATCH");
    let (_, b) = json_of(
        api.get(&format!(
            "/Contacts?fields=Last_Name&per_page=200&page=2&page_token={token}"
        ))
        .await,
    )
    .await;
    assert_eq!(b["code"], "AMBIGUITY_DURING_PROCESSING");
}

#[tokio::test]
async fn empty_lists_and_if_modified_since() {
    let api = Api::start(ZohoConfig::default()).await;
    let r = api.get("/Tasks?fields=Subject").await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(r.bytes().await.unwrap().is_empty());

    let (s, b) = api
        .send(
            reqwest::Method::POST,
            "/Tasks",
            json!({"data": [{"Subject": "one"}], "trigger": []}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let t1 = b["data"][0]["details"]["Modified_Time"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(t1.ends_with("+08:00"), "{t1}");
    let (_, b) = api
        .send(
            reqwest::Method::POST,
            "/Tasks",
            json!({"data": [{"Subject": "two"}]}),
        )
        .await;
    let t2 = b["data"][0]["details"]["Modified_Time"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        chrono::DateTime::parse_from_rfc3339(&t2).unwrap()
            > chrono::DateTime::parse_from_rfc3339(&t1).unwrap()
    );

    let r = api
        .req(reqwest::Method::GET, "/Tasks?fields=Subject")
        .header("If-Modified-Since", &t2)
        .send()
        .await
        .unwrap();
    let (s, b) = json_of(r).await;
    assert_eq!(s, StatusCode::OK);
    let subjects: Vec<&str> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["two"]);

    let later = chrono::DateTime::parse_from_rfc3339(&t2).unwrap() + chrono::Duration::seconds(1);
    let r = api
        .req(reqwest::Method::GET, "/Tasks?fields=Subject")
        .header("If-Modified-Since", later.to_rfc3339())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn write_batches_and_their_statuses() {
    let api = Api::start(ZohoConfig::default()).await;
    use reqwest::Method as M;
    let (s, b) = api
        .send(
            M::POST,
            "/Contacts",
            json!({"data": [
                {"First_Name": "Ada", "Last_Name": "Lovelace", "Email": "ada@example.com", "CRMSync_Id": "s1",
                 "Date_of_Birth": "1815-12-10", "Mailing_City": "London"},
                {"First_Name": "Alan", "Last_Name": "Turing", "CRMSync_Id": "s2"}
            ], "trigger": []}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["data"][0]["code"], "SUCCESS");
    assert_eq!(b["data"][0]["message"], "record added");
    let d = &b["data"][0]["details"];
    for k in [
        "id",
        "Modified_Time",
        "Created_Time",
        "Modified_By",
        "Created_By",
    ] {
        assert!(!d[k].is_null(), "{k}");
    }
    let ada = d["id"].as_str().unwrap().to_owned();
    let alan = b["data"][1]["details"]["id"].as_str().unwrap().to_owned();

    // Mixed: 207 with per-record errors.
    let (s, b) = api
        .send(
            M::POST,
            "/Contacts",
            json!({"data": [
                {"Last_Name": "Hopper"},
                {"First_Name": "NoLast"},
                {"Last_Name": "x".repeat(81)},
                {"Last_Name": "Dup", "CRMSync_Id": "S1"},
                {"Last_Name": "Mail", "Email": "not-an-email"}
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::MULTI_STATUS);
    let codes: Vec<&str> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "SUCCESS",
            "MANDATORY_NOT_FOUND",
            "INVALID_DATA",
            "DUPLICATE_DATA",
            "INVALID_DATA"
        ]
    );
    assert_eq!(b["data"][1]["details"]["api_name"], "Last_Name");
    assert_eq!(b["data"][2]["details"]["maximum_length"], 80);
    assert_eq!(b["data"][3]["details"]["duplicate_record"]["id"], ada);
    assert_eq!(b["data"][4]["details"]["api_name"], "Email");

    // All failed: 400 with the data wrapper.
    let (s, b) = api
        .send(
            M::POST,
            "/Tasks",
            json!({"data": [{"Status": "Completed"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["data"][0]["code"], "MANDATORY_NOT_FOUND");
    let too_many: Vec<Value> = (0..101)
        .map(|i| json!({"Subject": format!("t{i}")}))
        .collect();
    let (s, b) = api.send(M::POST, "/Tasks", json!({"data": too_many})).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("LIMIT_EXCEEDED"))
    );

    // Update: 200; missing id and unknown id fail per record.
    let (s, b) = api
        .send(M::PUT, "/Contacts", json!({"data": [{"id": ada, "Title": "Countess"}, {"Title": "x"}, {"id": "1", "Title": "y"}]}))
        .await;
    assert_eq!(s, StatusCode::MULTI_STATUS);
    assert_eq!(b["data"][0]["message"], "record updated");
    assert_eq!(b["data"][1]["code"], "MANDATORY_NOT_FOUND");
    assert_eq!(b["data"][2]["code"], "INVALID_DATA");
    assert_eq!(b["data"][2]["details"]["api_name"], "id");
    let (s, _) = api
        .send(
            M::PUT,
            &format!("/Contacts/{alan}"),
            json!({"data": [{"Department": "Maths"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let rec = api.emu.record("Contacts", &ada).unwrap();
    assert_eq!(
        (rec["Title"].as_str(), rec["Full_Name"].as_str()),
        (Some("Countess"), Some("Ada Lovelace"))
    );
    assert_eq!(rec["Owner"]["email"], OWNER);
    assert_eq!(rec["$editable"], true);

    // Upsert on the sync id: one update, one insert.
    let (s, b) = api
        .send(
            M::POST,
            "/Contacts/upsert",
            json!({"data": [{"Last_Name": "Lovelace", "CRMSync_Id": "s1", "Phone": "123"},
                            {"Last_Name": "Babbage", "CRMSync_Id": "s9"}],
                   "duplicate_check_fields": ["CRMSync_Id"], "trigger": []}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (
            b["data"][0]["action"].as_str(),
            b["data"][0]["duplicate_field"].as_str()
        ),
        (Some("update"), Some("CRMSync_Id"))
    );
    assert_eq!(b["data"][0]["details"]["id"], ada);
    assert_eq!(b["data"][1]["action"], "insert");
    assert!(b["data"][1]["duplicate_field"].is_null());

    // Delete: 200, then already deleted / unknown.
    let r = api
        .req(M::DELETE, &format!("/Contacts?ids={alan}"))
        .send()
        .await
        .unwrap();
    let (s, b) = json_of(r).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        b["data"][0],
        json!({"code": "SUCCESS", "details": {"id": alan}, "message": "record deleted", "status": "success"})
    );
    let r = api
        .req(M::DELETE, &format!("/Contacts?ids={alan},{ada},42"))
        .send()
        .await
        .unwrap();
    let (s, b) = json_of(r).await;
    assert_eq!(s, StatusCode::MULTI_STATUS);
    let codes: Vec<&str> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["ID_ALREADY_DELETED", "SUCCESS", "INVALID_DATA"]);

    // The deleted list.
    let (s, b) = json_of(api.get("/Contacts/deleted?type=recycle").await).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["data"].as_array().unwrap().len(), 2);
    let item = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == alan)
        .unwrap();
    assert_eq!(item["display_name"], "Alan Turing");
    assert_eq!(item["type"], "recycle");
    assert_eq!(item["deleted_by"]["name"], "Olivia Owner");
    assert_eq!(
        api.get("/Contacts/deleted?type=permanent").await.status(),
        StatusCode::NO_CONTENT
    );
    let (_, b) = json_of(api.get("/Contacts/deleted?type=bogus").await).await;
    assert_eq!(b["code"], "PATTERN_NOT_MATCHED");
    let latest = b.clone();
    let _ = latest;
    let last = api.emu.deleted_records("Contacts").last().unwrap()["deleted_time"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = api
        .req(M::GET, "/Contacts/deleted")
        .header("If-Modified-Since", &last)
        .send()
        .await
        .unwrap();
    let (_, b) = json_of(r).await;
    assert_eq!(b["data"].as_array().unwrap().len(), 1);
    assert_eq!(b["data"][0]["id"], ada);
}

#[tokio::test]
async fn if_unmodified_since_gives_412() {
    let api = Api::start(ZohoConfig::default()).await;
    let id = api
        .emu
        .insert_record("Contacts", json!({"Last_Name": "Stale"}))
        .unwrap();
    let seen = api.emu.record("Contacts", &id).unwrap()["Modified_Time"]
        .as_str()
        .unwrap()
        .to_owned();
    api.emu
        .update_record("Contacts", &id, json!({"Title": "changed elsewhere"}))
        .unwrap();
    let r = api
        .req(reqwest::Method::PUT, "/Contacts")
        .header("If-Unmodified-Since", &seen)
        .json(&json!({"data": [{"id": id, "Title": "mine"}]}))
        .send()
        .await
        .unwrap();
    let (s, b) = json_of(r).await;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
    assert_eq!(b["data"][0]["code"], "ALREADY_MODIFIED");
    assert_eq!(b["data"][0]["details"]["id"], id);
    assert!(b["data"][0]["details"]["Modified_Time"].is_string());
    let now = api.emu.record("Contacts", &id).unwrap()["Modified_Time"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = api
        .req(reqwest::Method::PUT, "/Contacts")
        .header("If-Unmodified-Since", &now)
        .json(&json!({"data": [{"id": id, "Title": "mine"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn tasks_and_events_shapes() {
    let api = Api::start(ZohoConfig::default()).await;
    let contact = api
        .emu
        .insert_record(
            "Contacts",
            json!({"Last_Name": "Who", "Email": "who@example.com"}),
        )
        .unwrap();
    let account = api
        .emu
        .insert_record("Accounts", json!({"Account_Name": "Acme"}))
        .unwrap();
    let (s, b) = api
        .send(
            reqwest::Method::POST,
            "/Tasks",
            json!({"data": [{
                "Subject": "Call", "Due_Date": "2026-11-25", "Status": "Waiting on someone else", "Priority": "Lowest",
                "Remind_At": {"ALARM": "FREQ=NONE;ACTION=EMAILANDPOPUP;TRIGGER=DATE-TIME:2026-11-25T09:00:00+08:00"},
                "Recurring_Activity": {"RRULE": "FREQ=WEEKLY;INTERVAL=1;UNTIL=2026-12-16;BYDAY=WE;DTSTART=2026-11-25"},
                "Who_Id": {"id": contact}, "What_Id": {"id": account}, "$se_module": "Accounts"
            }, {"Subject": "Bad", "Priority": "Urgent"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::MULTI_STATUS, "{b}");
    assert_eq!(b["data"][1]["details"]["api_name"], "Priority");
    let task = api.emu.records("Tasks").pop().unwrap();
    assert_eq!(task["Who_Id"], json!({"name": "Who", "id": contact}));
    assert_eq!(task["What_Id"]["name"], "Acme");
    assert_eq!(task["$se_module"], "Accounts");

    let (s, b) = api
        .send(
            reqwest::Method::POST,
            "/Events",
            json!({"data": [{
                "Event_Title": "Review", "Start_DateTime": "2026-11-25T02:00:00Z", "End_DateTime": "2026-11-25T11:00:00+08:00",
                "All_day": false, "Venue": "Room 1", "Remind_At": "2026-11-25T09:45:00+08:00",
                "Participants": [{"type": "email", "participant": "guest@example.com"}, {"type": "contact", "participant": contact}]
            }, {"Event_Title": "Backwards", "Start_DateTime": "2026-11-25T12:00:00+08:00", "End_DateTime": "2026-11-25T11:00:00+08:00"},
               {"Event_Title": "No start"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::MULTI_STATUS, "{b}");
    assert_eq!(b["data"][1]["details"]["api_name"], "End_DateTime");
    assert_eq!(b["data"][2]["code"], "MANDATORY_NOT_FOUND");
    let id = b["data"][0]["details"]["id"].as_str().unwrap();
    let (_, b) = json_of(api.get(&format!("/Events/{id}")).await).await;
    let e = &b["data"][0];
    assert_eq!(e["Start_DateTime"], "2026-11-25T10:00:00+08:00");
    assert_eq!(e["End_DateTime"], "2026-11-25T11:00:00+08:00");
    assert_eq!(e["Participants"][1]["Email"], "who@example.com");
    assert_eq!(e["Participants"][0]["status"], "not_known");
    assert_eq!(
        api.get("/Events/123").await.status(),
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn coql_forms() {
    let api = Api::start(ZohoConfig::default()).await;
    let acme = api
        .emu
        .insert_record("Accounts", json!({"Account_Name": "Acme O'Brien"}))
        .unwrap();
    for (n, sid, mail) in [
        ("A", "x1", "a@example.com"),
        ("B", "x2", "b@example.com"),
        ("C", "x3", "c@example.com"),
    ] {
        api.emu
            .insert_record("Contacts", json!({"Last_Name": n, "CRMSync_Id": sid, "Email": mail, "Account_Name": {"id": acme}}))
            .unwrap();
    }
    let coql = |q: &str| api.send(reqwest::Method::POST, "/coql", json!({"select_query": q}));
    let (s, b) = coql("select id, Last_Name from Contacts where CRMSync_Id = 'x2' limit 1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["data"][0]["Last_Name"], "B");
    assert_eq!(b["info"], json!({"count": 1, "more_records": false}));
    let (_, b) =
        coql("select id, CRMSync_Id from Contacts where CRMSync_Id in ('x1','x3') limit 10").await;
    assert_eq!(b["data"].as_array().unwrap().len(), 2);
    let (_, b) =
        coql("select id, Email, Account_Name from Contacts where Email = 'c@example.com'").await;
    assert_eq!(b["data"][0]["Account_Name"], json!({"id": acme}));
    let (_, b) = coql("select id from Accounts where Account_Name = 'Acme O''Brien'").await;
    assert_eq!(b["data"][0]["id"], acme);
    let (s, _) = coql("select id from Contacts where Email = 'nobody@example.com'").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, b) =
        coql("select id from Contacts where Last_Name is not null order by Last_Name desc limit 2")
            .await;
    assert_eq!(b["info"], json!({"count": 2, "more_records": true}));
    let (s, b) = coql("select id from Contacts where").await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("SYNTAX_ERROR"))
    );
    let (_, b) = coql("select Nope from Contacts where id is not null").await;
    assert_eq!(b["code"], "INVALID_QUERY");
}

#[tokio::test]
async fn custom_views_filter_by_owner() {
    let api = Api::start(ZohoConfig::default()).await;
    let other = api.emu.seed_user(UserSpec {
        email: "other@example.com".into(),
        full_name: "Otto Other".into(),
        ..UserSpec::default()
    });
    api.emu
        .insert_record("Contacts", json!({"Last_Name": "Mine"}))
        .unwrap();
    api.emu
        .insert_record(
            "Contacts",
            json!({"Last_Name": "Theirs", "Owner": {"id": other}}),
        )
        .unwrap();
    let cvid = api
        .emu
        .add_custom_view(
            "Contacts",
            "Otto's contacts",
            ViewFilter::OwnerIs {
                user_id: other.clone(),
            },
        )
        .unwrap();
    let (_, b) = json_of(
        api.get(&format!("/Contacts?fields=Last_Name,Owner&cvid={cvid}"))
            .await,
    )
    .await;
    assert_eq!(b["data"].as_array().unwrap().len(), 1);
    assert_eq!(b["data"][0]["Owner"]["id"], other);
    let (_, b) = json_of(
        api.get(&format!(
            "/Contacts?fields=Last_Name&cvid={cvid}&sort_by=Modified_Time"
        ))
        .await,
    )
    .await;
    assert_eq!(b["code"], "INVALID_DATA");
    let (_, b) = json_of(api.get("/settings/custom_views?module=Contacts").await).await;
    assert_eq!(b["custom_views"][0]["id"], cvid);
}

#[tokio::test]
async fn fault_knobs_and_counters() {
    let api = Api::start(ZohoConfig::default()).await;
    api.emu.set_faults(Faults {
        rate_429: 1.0,
        ..Faults::default()
    });
    let (s, b) = json_of(api.get("/Contacts?fields=Last_Name").await).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("TOO_MANY_REQUESTS"))
    );
    api.emu.set_faults(Faults {
        rate_5xx: 1.0,
        ..Faults::default()
    });
    assert_eq!(
        api.get("/Contacts?fields=Last_Name").await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );

    // Dropped connection: the write happens, the answer never comes.
    api.emu.set_faults(Faults {
        rate_drop: 1.0,
        ..Faults::default()
    });
    let r = api
        .req(reqwest::Method::POST, "/Tasks")
        .json(&json!({"data": [{"Subject": "lost reply"}]}))
        .send()
        .await;
    assert!(r.is_err(), "{r:?}");
    assert_eq!(api.emu.records("Tasks").len(), 1);

    // Seeded rates are deterministic.
    let run = |seed| async move {
        let api = Api::start(ZohoConfig::default()).await;
        api.emu.set_faults(Faults {
            rate_429: 0.5,
            seed,
            ..Faults::default()
        });
        let mut out = Vec::new();
        for _ in 0..20 {
            out.push(
                api.get("/Contacts?fields=Last_Name")
                    .await
                    .status()
                    .as_u16(),
            );
        }
        out
    };
    let a = run(7).await;
    assert_eq!(a, run(7).await);
    assert!(a.contains(&429) && a.contains(&204));

    // Per-record failure.
    api.emu.set_faults(Faults {
        record_failures: vec![RecordFailure {
            module: Some("Tasks".into()),
            field: "Subject".into(),
            equals: json!("locked"),
            code: "RECORD_LOCKED".into(),
            message: "record is locked".into(),
        }],
        ..Faults::default()
    });
    let (s, b) = api
        .send(
            reqwest::Method::POST,
            "/Tasks",
            json!({"data": [{"Subject": "ok"}, {"Subject": "locked"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::MULTI_STATUS);
    assert_eq!(b["data"][1]["code"], "RECORD_LOCKED");

    // Concurrency limit: with latency, the 3rd concurrent call is refused.
    api.emu.set_faults(Faults {
        latency_ms: 1000,
        max_concurrency: 2,
        ..Faults::default()
    });
    let calls = (0..3).map(|_| api.get("/Tasks?fields=Subject"));
    let statuses: Vec<u16> = futures_join(calls).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        1,
        "{statuses:?}"
    );

    api.emu.reset_counters();
    api.emu.set_faults(Faults::default());
    api.get("/Tasks?fields=Subject").await;
    api.get("/Tasks?fields=Subject").await;
    api.send(reqwest::Method::PUT, "/Tasks/1", json!({"data": [{}]}))
        .await;
    assert_eq!(api.emu.counter("GET /Tasks"), 2);
    assert_eq!(api.emu.counter("PUT /Tasks/{id}"), 1);
    let counters: Value = http()
        .get(format!("{}/_emulator/counters", api.emu.api_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["GET /Tasks"], 2);
    http()
        .delete(format!("{}/_emulator/counters", api.emu.api_url()))
        .send()
        .await
        .unwrap();
    assert!(api.emu.counters().is_empty());
}

async fn futures_join(
    calls: impl Iterator<Item = impl std::future::Future<Output = Response>>,
) -> Vec<u16> {
    let handles: Vec<_> = calls.collect();
    let mut out = Vec::new();
    let results = join_all(handles).await;
    for r in results {
        out.push(r.status().as_u16());
    }
    out
}

/// A tiny `join_all`, to avoid a dev-dependency on `futures`.
async fn join_all<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.unwrap()).collect()
}

#[tokio::test]
async fn http_control_api() {
    let emu = ZohoEmulator::start(ZohoConfig::default()).await.unwrap();
    let base = format!("{}/_emulator", emu.api_url());
    let c = http();
    let info: Value = c
        .get(format!("{base}/info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["api_url"], emu.api_url());
    assert_eq!(info["accounts_urls"]["us"], emu.accounts_url());

    let u: Value = c
        .post(format!("{base}/users"))
        .json(&json!({"email": "py@example.com", "full_name": "Py Thon", "utc_offset_minutes": 0}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(u["id"].is_string());
    let t: Value = c
        .post(format!("{base}/refresh_tokens"))
        .json(&json!({"user": "py@example.com"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (_, b) = refresh(&emu.accounts_url(), t["refresh_token"].as_str().unwrap()).await;
    let access = b["access_token"].as_str().unwrap().to_owned();

    let r = c
        .post(format!("{base}/records/Contacts"))
        .json(&json!({"data": [{"Last_Name": "Seeded"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let ids: Value = r.json().await.unwrap();
    let id = ids["ids"][0].as_str().unwrap().to_owned();
    let r = c
        .post(format!("{base}/records/Contacts"))
        .json(&json!({"First_Name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "MANDATORY_NOT_FOUND"
    );

    let rec: Value = c
        .put(format!("{base}/records/Contacts/{id}"))
        .json(&json!({"Title": "Dr"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rec["Title"], "Dr");
    let r = c
        .get(format!("{}/crm/v8/Contacts?fields=Title", emu.api_url()))
        .header("Authorization", format!("Zoho-oauthtoken {access}"))
        .send()
        .await
        .unwrap();
    let (_, b) = json_of(r).await;
    assert!(b["data"][0]["Title"] == "Dr");
    assert_eq!(
        b["data"][0].get("Modified_Time"),
        None,
        "only requested fields are listed"
    );

    let f: Value = c
        .put(format!("{base}/faults"))
        .json(&json!({"latency_ms": 1, "rate_429": 0.25}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(f["max_concurrency"], 10);
    assert_eq!(emu.faults().rate_429, 0.25);
    c.post(format!("{base}/expire_tokens"))
        .send()
        .await
        .unwrap();
    c.put(format!("{base}/faults"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let r = c
        .get(format!("{}/crm/v8/Contacts?fields=Title", emu.api_url()))
        .header("Authorization", format!("Zoho-oauthtoken {access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let r = c
        .delete(format!("{base}/records/Contacts/{id}?permanent=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let d: Value = c
        .get(format!("{base}/records/Contacts/deleted"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["data"][0]["type"], "permanent");
    assert!(d["data"][0]["display_name"].is_null());
    let clock: Value = c
        .post(format!("{base}/clock/advance"))
        .json(&json!({"seconds": 60}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(clock["epoch_secs"].is_i64());
    let code: Value = c
        .post(format!("{base}/grant_codes"))
        .json(&json!({"user": "py@example.com"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(code["code"].is_string());
    let r = c
        .post(format!("{base}/views/Contacts"))
        .json(&json!({"name": "All", "filter": {"type": "all"}}))
        .send()
        .await
        .unwrap();
    assert!(r.json::<Value>().await.unwrap()["id"].is_string());
    let r = c
        .post(format!("{base}/modules/rename"))
        .json(&json!({"from": "Tasks", "to": "Todos"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn many_records_stay_consistent() {
    const N: usize = 20_000;
    let api = Api::start(ZohoConfig::default()).await;
    let recs: Vec<Value> = (0..N)
        .map(|i| json!({"Last_Name": format!("L{i}"), "CRMSync_Id": format!("sync-{i}"), "Email": format!("p{i}@example.com")}))
        .collect();
    api.emu.insert_records("Contacts", &recs).unwrap();
    let (_, b) = api
        .send(
            reqwest::Method::POST,
            "/coql",
            json!({"select_query": format!("select id, Email from Contacts where CRMSync_Id in ('sync-7', 'sync-{}') limit 10", N - 1)}),
        )
        .await;
    assert_eq!(b["info"]["count"], 2);
    // A duplicate sync id is still caught through the index.
    let (s, b) = api
        .send(
            reqwest::Method::POST,
            "/Contacts",
            json!({"data": [{"Last_Name": "Dup", "CRMSync_Id": "SYNC-42"}]}),
        )
        .await;
    assert_eq!(
        (s, b["data"][0]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("DUPLICATE_DATA"))
    );
    // Changed records only, through page tokens, newest first.
    let upd: Vec<Value> = (0..150)
        .map(|i| json!({"CRMSync_Id": format!("sync-{}", i * 100), "Last_Name": "Changed"}))
        .collect();
    let before = api.emu.now();
    let (s, _) = api
        .send(
            reqwest::Method::POST,
            "/Contacts/upsert",
            json!({"data": upd[..100].to_vec(), "duplicate_check_fields": ["CRMSync_Id"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    api.send(
        reqwest::Method::POST,
        "/Contacts/upsert",
        json!({"data": upd[100..].to_vec()}),
    )
    .await;
    let mut path = "/Contacts?fields=Last_Name&per_page=100&sort_by=Modified_Time".to_owned();
    let mut n = 0;
    loop {
        let r = api
            .req(reqwest::Method::GET, &path)
            .header("If-Modified-Since", before.to_rfc3339())
            .send()
            .await
            .unwrap();
        let (s, b) = json_of(r).await;
        assert_eq!(s, StatusCode::OK);
        n += b["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["Last_Name"] == "Changed")
            .count();
        match b["info"]["next_page_token"].as_str() {
            Some(t) => {
                path = format!(
                    "/Contacts?fields=Last_Name&per_page=100&sort_by=Modified_Time&page_token={t}"
                )
            }
            None => break,
        }
    }
    assert_eq!(n, 150);
    assert_eq!(api.emu.records("Contacts").len(), N);
}

#[tokio::test]
async fn search_api_with_its_contains_quirk() {
    let api = Api::start(ZohoConfig::default()).await;
    api.emu
        .insert_record(
            "Contacts",
            json!({"Last_Name": "Smith", "Email": "jo@example.com"}),
        )
        .unwrap();
    api.emu
        .insert_record(
            "Contacts",
            json!({"Last_Name": "Smithson", "Email": "ann@example.com"}),
        )
        .unwrap();
    let (s, b) = json_of(api.get("/Contacts/search?email=jo@example.com").await).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["data"].as_array().unwrap().len(), 1);
    // `equals` matches like "contains": the client must check for an exact match.
    let (_, b) = json_of(
        api.get("/Contacts/search?criteria=(Last_Name:equals:Smith)")
            .await,
    )
    .await;
    assert_eq!(b["data"].as_array().unwrap().len(), 2);
    let (_, b) = json_of(
        api.get("/Contacts/search?criteria=((Last_Name:starts_with:smith)and(Email:equals:ann))")
            .await,
    )
    .await;
    assert_eq!(b["data"][0]["Last_Name"], "Smithson");
    assert_eq!(
        api.get("/Contacts/search?word=Nobody").await.status(),
        StatusCode::NO_CONTENT
    );
}
