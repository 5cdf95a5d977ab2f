//! The Graph emulator over real loopback HTTP.
#![allow(clippy::unwrap_used)] // Test helpers panic on purpose: a failed call is a failed test.

use base64::Engine as _;
use crmsync_emulator::graph::{GraphConfig, GraphEmulator, GraphFaults};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sha2::Digest as _;

const EXT_ID: &str = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name ZohoId";

struct T {
    emu: GraphEmulator,
    http: Client,
    token: String,
}

async fn start() -> T {
    start_with(GraphConfig::default()).await
}

async fn start_with(cfg: GraphConfig) -> T {
    let emu = GraphEmulator::start(cfg).await.expect("emulator starts");
    let token = emu.issue_access_token();
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    T { emu, http, token }
}

impl T {
    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.emu.graph_url())
        }
    }
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, Value, reqwest::header::HeaderMap) {
        let mut rb = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        let h = r.headers().clone();
        let text = r.text().await.unwrap();
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap()
            },
            h,
        )
    }
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (s, v, _) = self.send(reqwest::Method::GET, path, &[], None).await;
        (s, v)
    }
    async fn get_h(&self, path: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
        let (s, v, _) = self.send(reqwest::Method::GET, path, headers, None).await;
        (s, v)
    }
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let (s, v, _) = self
            .send(reqwest::Method::POST, path, &[], Some(body))
            .await;
        (s, v)
    }
    async fn token_form(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}/common/oauth2/v2.0/token", self.emu.login_url()))
            .form(form)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap())
    }
}

fn ids(v: &Value) -> Vec<String> {
    v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn pkce_code_flow_rejects_a_bad_verifier_and_a_reused_code() {
    let t = start().await;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier));
    let authorize = |state: &str| {
        format!(
            "{}/common/oauth2/v2.0/authorize?client_id=app&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A53682%2Fcb&scope=offline_access%20User.Read&state={state}&code_challenge={challenge}&code_challenge_method=S256",
            t.emu.login_url()
        )
    };
    let code_of = |r: &reqwest::Response| {
        let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
        assert_eq!(loc.host_str(), Some("localhost"));
        let q: std::collections::HashMap<_, _> = loc.query_pairs().into_owned().collect();
        (q["code"].clone(), q["state"].clone())
    };
    let r = t.http.get(authorize("s1")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let (code, state) = code_of(&r);
    assert_eq!(state, "s1");
    let redirect = "http://localhost:53682/cb";
    let base = [
        ("client_id", "app"),
        ("grant_type", "authorization_code"),
        ("redirect_uri", redirect),
    ];
    let mut bad = base.to_vec();
    bad.extend([("code", code.as_str()), ("code_verifier", "wrong-verifier")]);
    let (s, e) = t.token_form(&bad).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"], "invalid_grant");
    assert!(
        e["error_codes"].is_array()
            && e["error_description"]
                .as_str()
                .unwrap()
                .starts_with("AADSTS")
    );

    let r = t.http.get(authorize("s2")).send().await.unwrap();
    let (code, _) = code_of(&r);
    let mut good = base.to_vec();
    good.extend([("code", code.as_str()), ("code_verifier", verifier)]);
    let (s, tok) = t.token_form(&good).await;
    assert_eq!(s, StatusCode::OK, "{tok}");
    assert_eq!(tok["token_type"], "Bearer");
    assert!(tok["refresh_token"].is_string());
    assert_eq!(tok["scope"], "offline_access User.Read");
    let (s, _) = t.token_form(&good).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a code is redeemed once");

    let me = t
        .http
        .get(t.url("/me"))
        .bearer_auth(tok["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["userPrincipalName"], "megan@contoso.example");

    let r = t
        .http
        .get(authorize("s3").replace("localhost%3A53682", "evil.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "only loopback redirects"
    );
}

#[tokio::test]
async fn device_code_flow_pending_slow_down_declined_expired() {
    let t = start().await;
    let dc = |t: &T| {
        let url = format!("{}/organizations/oauth2/v2.0/devicecode", t.emu.login_url());
        let http = t.http.clone();
        async move {
            let r = http
                .post(url)
                .form(&[
                    ("client_id", "app"),
                    ("scope", "offline_access Contacts.ReadWrite"),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.json::<Value>().await.unwrap()
        }
    };
    let d = dc(&t).await;
    for k in [
        "device_code",
        "user_code",
        "verification_uri",
        "expires_in",
        "interval",
        "message",
    ] {
        assert!(!d[k].is_null(), "{k}");
    }
    let poll = [
        ("client_id", "app"),
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", d["device_code"].as_str().unwrap()),
    ];
    let (s, e) = t.token_form(&poll).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("authorization_pending"))
    );
    let (_, e) = t.token_form(&poll).await;
    assert_eq!(e["error"], "slow_down");
    assert!(t.emu.approve_device_code(d["user_code"].as_str().unwrap()));
    t.emu.advance_clock(std::time::Duration::from_secs(30));
    let (s, tok) = t.token_form(&poll).await;
    assert_eq!(s, StatusCode::OK, "{tok}");
    assert!(tok["refresh_token"].is_string());

    let d = dc(&t).await;
    t.emu.decline_device_code(d["user_code"].as_str().unwrap());
    let poll = [
        ("client_id", "app"),
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", d["device_code"].as_str().unwrap()),
    ];
    assert_eq!(
        t.token_form(&poll).await.1["error"],
        "authorization_declined"
    );

    let d = dc(&t).await;
    t.emu.advance_clock(std::time::Duration::from_secs(901));
    let poll = [
        ("client_id", "app"),
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", d["device_code"].as_str().unwrap()),
    ];
    assert_eq!(t.token_form(&poll).await.1["error"], "expired_token");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_the_old_one_dies() {
    let t = start().await;
    let rt = t.emu.issue_refresh_token("app");
    let (s, a) = t
        .token_form(&[
            ("client_id", "app"),
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
        ])
        .await;
    assert_eq!(s, StatusCode::OK);
    let rt2 = a["refresh_token"].as_str().unwrap();
    assert_ne!(rt2, rt);
    let (s, e) = t
        .token_form(&[
            ("client_id", "app"),
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
        ])
        .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    t.emu.revoke_refresh_tokens();
    let (_, e) = t
        .token_form(&[
            ("client_id", "app"),
            ("grant_type", "refresh_token"),
            ("refresh_token", rt2),
        ])
        .await;
    assert_eq!(e["error"], "invalid_grant");
}

#[tokio::test]
async fn me_mailbox_settings_and_expired_tokens() {
    let t = start().await;
    let (s, me) = t.get("/me").await;
    assert_eq!(s, StatusCode::OK);
    for k in ["id", "displayName", "mail", "userPrincipalName"] {
        assert!(me[k].is_string());
    }
    assert_eq!(
        t.get("/me/mailboxSettings").await.1["timeZone"],
        "China Standard Time"
    );
    let r = t.http.get(t.url("/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    t.emu.expire_access_tokens();
    let (s, e) = t.get("/me").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(e["error"]["code"], "InvalidAuthenticationToken");
}

#[tokio::test]
async fn default_folder_is_hidden_from_contact_folders_but_serves_me_contacts() {
    let t = start().await;
    let default = t.emu.default_contact_folder();
    let sub = t.emu.create_contact_folder(None, "Zoho").unwrap();
    let nested = t.emu.create_contact_folder(Some(&sub), "Nested").unwrap();
    let (_, folders) = t.get("/me/contactFolders").await;
    assert_eq!(ids(&folders), vec![sub.clone()]);
    assert_eq!(folders["value"][0]["parentFolderId"], default.as_str());
    assert_eq!(
        ids(&t
            .get(&format!("/me/contactFolders/{sub}/childFolders"))
            .await
            .1),
        vec![nested.clone()]
    );
    let (s, c) = t.post("/me/contacts", json!({"givenName": "Ada", "surname": "Lovelace", "emailAddresses": [{"name": "Ada", "address": "ada@example.com"}]})).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(c["displayName"], "Ada Lovelace");
    assert_eq!(c["parentFolderId"], default.as_str());
    assert_eq!(c["homeAddress"], json!({}));
    assert_eq!(c["middleName"], Value::Null);
    assert_eq!(
        c["@odata.etag"],
        format!("W/\"{}\"", c["changeKey"].as_str().unwrap())
    );
    assert_eq!(
        ids(&t.get("/me/contacts").await.1),
        vec![c["id"].as_str().unwrap().to_string()]
    );
    let (s, _) = t
        .post(
            &format!("/me/contactFolders/{nested}/contacts"),
            json!({"givenName": "Bob"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        t.get("/me/contacts").await.1["value"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(t.emu.contacts(&nested).len(), 1);
}

#[tokio::test]
async fn contact_limits_give_400() {
    let t = start().await;
    let emails: Vec<Value> = (0..4)
        .map(|i| json!({"address": format!("a{i}@example.com")}))
        .collect();
    let (s, e) = t
        .post(
            "/me/contacts",
            json!({"givenName": "X", "emailAddresses": emails}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("EmailAddresses has 4 entries"));
    let (s, _) = t
        .post("/me/contacts", json!({"businessPhones": ["1", "2", "3"]}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, e) = t.post("/me/contacts", json!({"givenNmae": "typo"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["code"], "RequestBodyRead");
}

async fn walk_delta(t: &T, first: &str, prefer: &str) -> (Vec<Value>, String, usize) {
    let mut url = first.to_string();
    let mut rows = Vec::new();
    let mut pages = 0;
    loop {
        let (s, page) = t.get_h(&url, &[("Prefer", prefer)]).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        pages += 1;
        rows.extend(page["value"].as_array().unwrap().iter().cloned());
        assert!(!(page.get("@odata.nextLink").is_some() && page.get("@odata.deltaLink").is_some()));
        if let Some(n) = page["@odata.nextLink"].as_str() {
            url = n.to_string();
        } else {
            return (
                rows,
                page["@odata.deltaLink"].as_str().unwrap().to_string(),
                pages,
            );
        }
    }
}

#[tokio::test]
async fn contacts_delta_pages_then_reports_changes_and_removals() {
    let t = start().await;
    let f = t.emu.create_contact_folder(None, "Sync").unwrap();
    let mut created = Vec::new();
    for i in 0..25 {
        created.push(
            t.emu
                .insert_contact(&f, json!({"givenName": format!("P{i}")}))
                .unwrap(),
        );
    }
    let (rows, delta, pages) = walk_delta(
        &t,
        &format!("/me/contactFolders/{f}/contacts/delta"),
        "odata.maxpagesize=10",
    )
    .await;
    assert_eq!((rows.len(), pages), (25, 3));
    assert!(delta.contains("$deltatoken="));
    let (_, empty, _) = walk_delta(&t, &delta, "odata.maxpagesize=10").await;
    let _ = empty;
    let (s, again) = t.get(&delta).await;
    assert_eq!(s, StatusCode::OK);
    assert!(again["value"].as_array().unwrap().is_empty());
    let new_delta = again["@odata.deltaLink"].as_str().unwrap().to_string();
    t.emu
        .update_contact(
            created[3]["id"].as_str().unwrap(),
            json!({"jobTitle": "CTO"}),
        )
        .unwrap();
    t.emu
        .delete_contact(created[4]["id"].as_str().unwrap())
        .unwrap();
    let (rows, _, _) = walk_delta(&t, &new_delta, "odata.maxpagesize=10").await;
    assert_eq!(rows.len(), 2);
    let upd = rows.iter().find(|r| r.get("@removed").is_none()).unwrap();
    assert_eq!(upd["jobTitle"], "CTO");
    let rem = rows.iter().find(|r| r.get("@removed").is_some()).unwrap();
    assert_eq!(rem["id"], created[4]["id"]);
    assert_eq!(rem["@removed"]["reason"], "deleted");
    let (s, _) = t
        .get(&format!(
            "/me/contactFolders/{f}/contacts/delta?$filter=givenName eq 'x'"
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_IMPLEMENTED);
}

#[tokio::test]
async fn delta_links_expire_mid_traversal_into_410() {
    let t = start().await;
    let f = t.emu.default_contact_folder();
    for i in 0..5 {
        t.emu
            .insert_contact(&f, json!({"givenName": format!("P{i}")}))
            .unwrap();
    }
    t.emu.set_faults(GraphFaults {
        expire_delta_after_pages: Some(1),
        ..GraphFaults::default()
    });
    let (s, page) = t
        .get_h("/me/contacts/delta", &[("Prefer", "odata.maxpagesize=2")])
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, e) = t.get(page["@odata.nextLink"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::GONE);
    assert!(e["error"]["code"]
        .as_str()
        .unwrap()
        .eq_ignore_ascii_case("syncStateNotFound"));
    let (_, d, _) = walk_delta(&t, "/me/contacts/delta", "odata.maxpagesize=50").await;
    t.emu.expire_delta_tokens();
    assert_eq!(t.get(&d).await.0, StatusCode::GONE);
}

#[tokio::test]
async fn moving_a_contact_changes_its_regular_id_but_not_its_immutable_id() {
    let t = start().await;
    let a = t.emu.create_contact_folder(None, "A").unwrap();
    let b = t.emu.create_contact_folder(None, "B").unwrap();
    let imm = [("Prefer", "IdType=\"ImmutableId\"")];
    let (_, c, _) = t
        .send(
            reqwest::Method::POST,
            &format!("/me/contactFolders/{a}/contacts"),
            &imm,
            Some(json!({"givenName": "Mo"})),
        )
        .await;
    let imm_id = c["id"].as_str().unwrap().to_string();
    let (_, regular) = t.get(&format!("/me/contacts/{imm_id}")).await;
    let reg_id = regular["id"].as_str().unwrap().to_string();
    assert_ne!(reg_id, imm_id);
    let (s, moved) = t
        .post(
            &format!("/me/contacts/{reg_id}/move"),
            json!({"destinationId": b}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_ne!(moved["id"].as_str().unwrap(), reg_id);
    assert_eq!(moved["parentFolderId"], b.as_str());
    assert_eq!(
        t.get(&format!("/me/contacts/{reg_id}")).await.0,
        StatusCode::NOT_FOUND
    );
    let (s, again) = t.get_h(&format!("/me/contacts/{imm_id}"), &imm).await;
    assert_eq!(
        (s, again["id"].as_str().unwrap()),
        (StatusCode::OK, imm_id.as_str())
    );
    let m2 = t.emu.move_contact(&imm_id, &a).unwrap();
    assert_eq!(m2["@emulator.immutableId"], imm_id.as_str());
}

#[tokio::test]
async fn todo_default_list_linked_resources_and_moves() {
    let t = start().await;
    let (_, lists) = t.get("/me/todo/lists").await;
    let default = lists["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["wellknownListName"] == "defaultList")
        .unwrap();
    let lid = default["id"].as_str().unwrap().to_string();
    assert_eq!(lid, t.emu.default_task_list());
    let (s, task) = t
        .post(
            &format!("/me/todo/lists/{lid}/tasks"),
            json!({"title": "Call", "dueDateTime": {"dateTime": "2020-07-25T04:10:00", "timeZone": "Pacific Standard Time"},
                   "linkedResources": [{"applicationName": "crmsync", "displayName": "Zoho", "externalId": "sync-1"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{task}");
    assert_eq!(
        task["dueDateTime"],
        json!({"dateTime": "2020-07-25T00:00:00.0000000", "timeZone": "UTC"})
    );
    assert_eq!(task["linkedResources"][0]["externalId"], "sync-1");
    assert!(task.get("changeKey").is_none());
    let tid = task["id"].as_str().unwrap();
    let (_, plain) = t.get(&format!("/me/todo/lists/{lid}/tasks/{tid}")).await;
    assert!(plain.get("linkedResources").is_none());
    let (_, expanded) = t
        .get(&format!(
            "/me/todo/lists/{lid}/tasks/{tid}?$expand=linkedResources"
        ))
        .await;
    assert_eq!(expanded["linkedResources"].as_array().unwrap().len(), 1);
    let (s, _) = t
        .post(
            &format!("/me/todo/lists/{lid}/tasks/{tid}/linkedResources"),
            json!({"webUrl": "https://crm.zoho.com/x", "externalId": "2"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        t.get(&format!("/me/todo/lists/{lid}/tasks/{tid}/linkedResources"))
            .await
            .1["value"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let other = t.emu.create_task_list("Work").unwrap();
    let moved = t.emu.move_task(tid, &other).unwrap();
    assert_ne!(moved["id"].as_str().unwrap(), tid);
    assert_eq!(
        t.get(&format!("/me/todo/lists/{lid}/tasks/{tid}")).await.0,
        StatusCode::NOT_FOUND
    );
    let (rows, _, _) = walk_delta(
        &t,
        &format!("/me/todo/lists/{other}/tasks/delta"),
        "odata.maxpagesize=5",
    )
    .await;
    assert_eq!(rows.len(), 1);
}

#[tokio::test]
async fn calendar_view_delta_expands_series_and_removes_items_outside_the_window() {
    let t = start().await;
    let cal = t.emu.default_calendar();
    let (_, cals) = t.get("/me/calendars").await;
    assert_eq!(cals["value"][0]["isDefaultCalendar"], true);
    let series = t
        .emu
        .insert_event(
            &cal,
            json!({"subject": "Standup", "start": {"dateTime": "2024-03-04T09:00:00", "timeZone": "China Standard Time"},
                   "end": {"dateTime": "2024-03-04T09:15:00", "timeZone": "China Standard Time"},
                   "recurrence": {"pattern": {"type": "daily", "interval": 1},
                                  "range": {"type": "numbered", "startDate": "2024-03-04", "numberOfOccurrences": 5}}}),
        )
        .unwrap();
    let outside = t
        .emu
        .insert_event(&cal, json!({"subject": "Later", "start": {"dateTime": "2024-06-01T10:00:00", "timeZone": "UTC"}, "end": {"dateTime": "2024-06-01T11:00:00", "timeZone": "UTC"}}))
        .unwrap();
    let first = "/me/calendarView/delta?startDateTime=2024-03-01T00:00:00Z&endDateTime=2024-03-31T00:00:00Z";
    let (rows, delta, _) = walk_delta(&t, first, "odata.maxpagesize=3").await;
    let occ: Vec<&Value> = rows.iter().filter(|r| r["type"] == "occurrence").collect();
    assert_eq!(occ.len(), 5);
    assert!(occ[0].get("subject").is_none());
    assert_eq!(occ[0]["seriesMasterId"], series["id"]);
    assert_eq!(
        occ[0]["start"],
        json!({"dateTime": "2024-03-04T01:00:00.0000000", "timeZone": "UTC"})
    );
    let master = rows.iter().find(|r| r["type"] == "seriesMaster").unwrap();
    assert_eq!(master["subject"], "Standup");
    assert!(!rows.iter().any(|r| r["id"] == outside["id"]));
    t.emu
        .update_event(outside["id"].as_str().unwrap(), json!({"subject": "Moved"}))
        .unwrap();
    let (rows, _, _) = walk_delta(&t, &delta, "outlook.timezone=\"Tokyo Standard Time\"").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["@removed"]["reason"], "deleted");
    let (s, _) = t.get(&format!("{first}&$select=subject")).await;
    assert_eq!(s, StatusCode::NOT_IMPLEMENTED);
    let (_, view) = t
        .get_h(
            "/me/calendarView?startDateTime=2024-03-01T00:00:00Z&endDateTime=2024-03-31T00:00:00Z",
            &[("Prefer", "outlook.timezone=\"Tokyo Standard Time\"")],
        )
        .await;
    assert_eq!(view["value"].as_array().unwrap().len(), 5);
    assert_eq!(view["value"][0]["subject"], "Standup");
    assert_eq!(
        view["value"][0]["start"],
        json!({"dateTime": "2024-03-04T10:00:00.0000000", "timeZone": "Tokyo Standard Time"})
    );
}

#[tokio::test]
async fn event_bodies_come_back_html_unless_text_is_preferred() {
    let t = start().await;
    let (s, ev) = t.post("/me/events", json!({"subject": "S", "body": {"contentType": "text", "content": "a < b"}, "start": {"dateTime": "2024-01-01T10:00:00", "timeZone": "UTC"}, "end": {"dateTime": "2024-01-01T11:00:00", "timeZone": "UTC"}})).await;
    assert_eq!(s, StatusCode::CREATED, "{ev}");
    assert_eq!(ev["body"]["contentType"], "html");
    let id = ev["id"].as_str().unwrap();
    let (_, txt) = t
        .get_h(
            &format!("/me/events/{id}"),
            &[("Prefer", "outlook.body-content-type=\"text\"")],
        )
        .await;
    assert_eq!(
        txt["body"],
        json!({"contentType": "text", "content": "a < b"})
    );
}

#[tokio::test]
async fn master_categories_reject_duplicates_case_insensitively() {
    let t = start().await;
    let (s, c) = t
        .post(
            "/me/outlook/masterCategories",
            json!({"displayName": "Zoho", "color": "preset9"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(c["id"].is_string());
    let (s, _) = t
        .post(
            "/me/outlook/masterCategories",
            json!({"displayName": "zoho", "color": "preset1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(
        t.get("/me/outlook/masterCategories").await.1["value"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn extended_properties_filter_and_expand_forms() {
    let t = start().await;
    let f = t.emu.create_contact_folder(None, "Zoho").unwrap();
    let (s, c) = t.post(&format!("/me/contactFolders/{f}/contacts"), json!({"givenName": "Ext", "singleValueExtendedProperties": [{"id": EXT_ID, "value": "Z-42"}]})).await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(
        c.get("singleValueExtendedProperties").is_none(),
        "not in the create response"
    );
    t.emu
        .insert_contact(&f, json!({"givenName": "Other"}))
        .unwrap();
    let id = c["id"].as_str().unwrap();
    let (_, got) = t
        .get(&format!(
            "/me/contacts/{id}?$expand=singleValueExtendedProperties($filter=id eq '{EXT_ID}')"
        ))
        .await;
    assert_eq!(got["singleValueExtendedProperties"][0]["value"], "Z-42");
    let filter = format!(
        "singleValueExtendedProperties/Any(ep: ep/id eq '{EXT_ID}' and ep/value eq 'z-42')"
    );
    let (s, found) = t
        .get(&format!(
            "/me/contactFolders/{f}/contacts?$filter={}",
            urlenc(&filter)
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{found}");
    assert_eq!(ids(&found), vec![id.to_string()]);
    let (_, wide) = t
        .get(&format!("/me/contacts?$filter={}", urlenc(&filter)))
        .await;
    assert_eq!(
        ids(&wide),
        vec![id.to_string()],
        "the filter runs over the whole mailbox"
    );
    let (s, ev) = t.post("/me/events", json!({"subject": "E", "categories": ["Zoho"], "start": {"dateTime": "2024-01-01T10:00:00", "timeZone": "UTC"}, "end": {"dateTime": "2024-01-01T11:00:00", "timeZone": "UTC"}, "singleValueExtendedProperties": [{"id": EXT_ID, "value": "E-1"}]})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, evs) = t
        .get(&format!(
            "/me/events?$filter={}",
            urlenc("categories/any(a:a eq 'Zoho')")
        ))
        .await;
    assert_eq!(ids(&evs), vec![ev["id"].as_str().unwrap().to_string()]);
}

fn urlenc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn batch_mixed_statuses_dependencies_throttling_and_cap() {
    let t = start().await;
    let c = t
        .emu
        .insert_contact(&t.emu.default_contact_folder(), json!({"givenName": "B"}))
        .unwrap();
    let cid = c["id"].as_str().unwrap();
    let body = json!({"requests": [
        {"id": "1", "method": "GET", "url": format!("/me/contacts/{cid}")},
        {"id": "2", "method": "GET", "url": "/me/contacts/AAMkNOPE"},
        {"id": "3", "method": "PATCH", "url": "/me/contacts/AAMkNOPE", "dependsOn": ["2"], "headers": {"Content-Type": "application/json"}, "body": {"jobTitle": "x"}},
        {"id": "4", "method": "POST", "url": "/me/contacts", "headers": {"Content-Type": "application/json"}, "body": {"givenName": "New"}},
    ]});
    let (s, r) = t.post("/$batch", body).await;
    assert_eq!(s, StatusCode::OK);
    let status = |id: &str| {
        r["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .unwrap()["status"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(
        (status("1"), status("2"), status("3"), status("4")),
        (200, 404, 424, 201)
    );
    let too_many: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/me"}))
        .collect();
    assert_eq!(
        t.post("/$batch", json!({"requests": too_many})).await.0,
        StatusCode::BAD_REQUEST
    );
    let dup = json!({"requests": [{"id": "a", "method": "GET", "url": "/me"}, {"id": "A", "method": "GET", "url": "/me"}]});
    assert_eq!(t.post("/$batch", dup).await.0, StatusCode::BAD_REQUEST);

    let twenty: Vec<Value> = (0..20)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/me"}))
        .collect();
    let (_, r) = t.post("/$batch", json!({"requests": twenty.clone()})).await;
    let order: Vec<String> = r["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect();
    assert_ne!(
        order,
        (0..20).map(|i| i.to_string()).collect::<Vec<_>>(),
        "responses come back in any order"
    );

    t.emu.set_faults(GraphFaults {
        throttle_rate: 1.0,
        retry_after_secs: 1.5,
        ..GraphFaults::default()
    });
    let (s, r) = t.post("/$batch", json!({"requests": twenty[..3]})).await;
    assert_eq!(s, StatusCode::OK);
    for item in r["responses"].as_array().unwrap() {
        assert_eq!(item["status"], 429);
        assert_eq!(item["headers"]["Retry-After"], "1.5");
    }
    let counters = t.emu.counters();
    assert_eq!(counters.get("$batch GET /me"), 23);
    assert_eq!(counters.get("POST /$batch"), 5);
}

#[tokio::test]
async fn stale_if_match_gives_412() {
    let t = start().await;
    let c = t
        .emu
        .insert_contact(&t.emu.default_contact_folder(), json!({"givenName": "E"}))
        .unwrap();
    let id = c["id"].as_str().unwrap();
    let etag = c["@odata.etag"].as_str().unwrap().to_string();
    let (s, u, _) = t
        .send(
            reqwest::Method::PATCH,
            &format!("/me/contacts/{id}"),
            &[("If-Match", &etag)],
            Some(json!({"surname": "One"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_ne!(u["@odata.etag"].as_str().unwrap(), etag);
    let (s, e, _) = t
        .send(
            reqwest::Method::PATCH,
            &format!("/me/contacts/{id}"),
            &[("If-Match", &etag)],
            Some(json!({"surname": "Two"})),
        )
        .await;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
    assert_eq!(e["error"]["code"], "ErrorIrresolvableConflict");
    let (s, _, _) = t
        .send(
            reqwest::Method::DELETE,
            &format!("/me/contacts/{id}"),
            &[("If-Match", &etag)],
            None,
        )
        .await;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn faults_throttle_fail_drop_and_limit_concurrency() {
    let t = start().await;
    t.emu.set_faults(GraphFaults {
        throttle_rate: 1.0,
        retry_after_secs: 2.128,
        ..GraphFaults::default()
    });
    let r = t
        .http
        .get(t.url("/me"))
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "2.128");
    t.emu.set_faults(GraphFaults {
        unavailable_rate: 1.0,
        ..GraphFaults::default()
    });
    let (s, _) = t.get("/me").await;
    assert!(s == StatusCode::SERVICE_UNAVAILABLE || s == StatusCode::GATEWAY_TIMEOUT);
    t.emu.set_faults(GraphFaults {
        drop_rate: 1.0,
        ..GraphFaults::default()
    });
    assert!(t
        .http
        .get(t.url("/me"))
        .bearer_auth(&t.token)
        .send()
        .await
        .is_err());
    // A long server time, so the requests overlap even on a loaded CI machine.
    t.emu.set_faults(GraphFaults {
        service_ms: 1_000,
        ..GraphFaults::default()
    });
    let mut handles = Vec::new();
    for _ in 0..8 {
        let http = t.http.clone();
        let url = t.url("/me");
        let tok = t.token.clone();
        handles.push(tokio::spawn(async move {
            http.get(url)
                .bearer_auth(tok)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }));
    }
    let mut limited = 0;
    for h in handles {
        let v = h.await.unwrap();
        if v["error"]["code"] == "ApplicationThrottled" {
            limited += 1;
        }
    }
    assert!(limited >= 1, "8 concurrent requests against a limit of 4");
    assert!(t.emu.counters().get("throttled: MailboxConcurrency") >= 1);
    assert!(
        t.emu.concurrency().peak_items > 4,
        "{:?}",
        t.emu.concurrency()
    );
}

#[tokio::test]
async fn control_api_over_http_seeds_and_inspects() {
    let t = start().await;
    let base = format!("{}/_emulator", t.emu.base_url());
    let d: Value = t
        .http
        .get(format!("{base}/defaults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let folder = d["contact_folder"].as_str().unwrap();
    let c: Value = t
        .http
        .post(format!("{base}/contact_folders/{folder}/contacts"))
        .json(&json!({"givenName": "Py"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(c["givenName"], "Py");
    let all: Value = t
        .http
        .get(format!("{base}/contact_folders/{folder}/contacts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all.as_array().unwrap().len(), 1);
    let f: Value = t
        .http
        .patch(format!("{base}/faults"))
        .json(&json!({"latency_ms": 1, "service_ms": 2}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(f["latency_ms"], 1);
    assert_eq!(t.emu.faults().latency_ms, 1);
    assert_eq!(t.emu.faults().service_ms, 2);
    t.get("/me/contacts").await;
    let counters: Value = t
        .http
        .get(format!("{base}/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["by_endpoint"]["GET /me/contacts"], 1);
    let peaks: Value = t
        .http
        .get(format!("{base}/concurrency"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(peaks["peak_requests"], 1, "{peaks}");
    assert_eq!(peaks["peak_items"], 1, "{peaks}");
    assert_eq!(peaks["peak_batches"], 0, "{peaks}");
    t.http
        .post(format!("{base}/counters/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(t.emu.counters().get("GET /me/contacts"), 0);
    let tok: Value = t
        .http
        .post(format!("{base}/tokens"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(tok["access_token"].is_string() && tok["refresh_token"].is_string());
}

#[tokio::test]
async fn paging_with_top_and_next_link() {
    let t = start().await;
    let f = t.emu.default_contact_folder();
    for i in 0..23 {
        t.emu
            .insert_contact(&f, json!({"givenName": format!("N{i}")}))
            .unwrap();
    }
    let (_, p1) = t.get("/me/contacts").await;
    assert_eq!(
        p1["value"].as_array().unwrap().len(),
        10,
        "default page size"
    );
    let (_, p) = t.get("/me/contacts?$top=20&$select=givenName").await;
    assert_eq!(p["value"].as_array().unwrap().len(), 20);
    assert!(p["value"][0].get("surname").is_none());
    let (_, p2) = t.get(p["@odata.nextLink"].as_str().unwrap()).await;
    assert_eq!(p2["value"].as_array().unwrap().len(), 3);
    assert!(p2.get("@odata.nextLink").is_none());
}

#[tokio::test]
async fn delta_replays_on_demand_and_batch_items_share_the_mailbox_limit() {
    let t = start().await;
    let f = t.emu.default_contact_folder();
    for i in 0..6 {
        t.emu
            .insert_contact(&f, json!({"givenName": format!("R{i}")}))
            .unwrap();
    }
    t.emu.set_faults(GraphFaults {
        delta_replay_rate: 1.0,
        ..GraphFaults::default()
    });
    let (rows, _, _) = walk_delta(&t, "/me/contacts/delta", "odata.maxpagesize=50").await;
    assert_eq!(rows.len(), 12, "every item repeated once");
    let distinct: std::collections::HashSet<&str> =
        rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(distinct.len(), 6);

    t.emu.set_faults(GraphFaults {
        service_ms: 1_000,
        ..GraphFaults::default()
    });
    let reqs: Vec<Value> = (0..4)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/me"}))
        .collect();
    let batch = |t: &T| {
        let http = t.http.clone();
        let url = t.url("/$batch");
        let tok = t.token.clone();
        let body = json!({"requests": reqs.clone()});
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(tok)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    let (a, b) = (batch(&t), batch(&t));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    let limited = [a, b]
        .iter()
        .flat_map(|r| r["responses"].as_array().unwrap().clone())
        .filter(|x| x["status"] == 429 && x["body"]["error"]["code"] == "ApplicationThrottled")
        .count();
    assert!(
        limited >= 1,
        "two full batches at once exceed 4 concurrent requests"
    );
}

/// Sends `n` batches of `items` `GET /me` at once; returns every item's answer.
async fn concurrent_batches(t: &T, n: usize, items: usize) -> Vec<Value> {
    let reqs: Vec<Value> = (0..items)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/me"}))
        .collect();
    let mut handles = Vec::new();
    for _ in 0..n {
        let http = t.http.clone();
        let url = t.url("/$batch");
        let tok = t.token.clone();
        let body = json!({"requests": reqs.clone()});
        handles.push(tokio::spawn(async move {
            http.post(url)
                .bearer_auth(tok)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.extend(h.await.unwrap()["responses"].as_array().unwrap().clone());
    }
    out
}

#[tokio::test]
async fn latency_is_paid_per_request_outside_the_mailbox_slots() {
    let t = start().await;
    // A long round trip, so the batches overlap even on a loaded CI machine. It holds no slot:
    // three batches of 8 items in flight together never exceed the mailbox's 4.
    t.emu.set_faults(GraphFaults {
        latency_ms: 400,
        ..GraphFaults::default()
    });
    let answers = concurrent_batches(&t, 3, 8).await;
    assert_eq!(answers.len(), 24);
    assert!(
        answers.iter().all(|a| a["status"] == 200),
        "{:?}",
        answers.iter().map(|a| &a["status"]).collect::<Vec<_>>()
    );
    let c = t.emu.counters();
    assert_eq!(c.get("throttled: MailboxConcurrency"), 0, "{c:?}");
    assert_eq!(c.get("POST /$batch"), 3);
    assert_eq!(c.batch_items(), 24);
    let peaks = t.emu.concurrency();
    assert_eq!(peaks.peak_batches, 3, "{peaks:?}");
    assert_eq!(peaks.peak_requests, 3, "{peaks:?}");
    assert!(peaks.peak_items <= 4, "{peaks:?}");
    // The peaks start again from what is in flight.
    t.emu.reset_counters();
    assert_eq!(
        t.emu.concurrency(),
        crmsync_emulator::GraphConcurrency::default()
    );
}

#[tokio::test]
async fn service_time_holds_the_slot_so_two_batches_exceed_the_limit() {
    let t = start().await;
    t.emu.set_faults(GraphFaults {
        service_ms: 400,
        retry_after_secs: 0.05,
        ..GraphFaults::default()
    });
    // One batch runs 4 items at a time: exactly the mailbox's limit, never over it.
    let alone = concurrent_batches(&t, 1, 8).await;
    assert!(alone.iter().all(|a| a["status"] == 200));
    assert_eq!(t.emu.concurrency().peak_items, 4);
    t.emu.reset_counters();
    // Two at once hold 8 slots: the items over 4 are answered 429 MailboxConcurrency.
    let both = concurrent_batches(&t, 2, 8).await;
    let limited: Vec<&Value> = both.iter().filter(|a| a["status"] == 429).collect();
    assert!(!limited.is_empty());
    assert!(limited
        .iter()
        .all(|a| a["body"]["error"]["innerError"]["code"] == "MailboxConcurrency"));
    assert!(limited
        .iter()
        .all(|a| a["headers"]["Retry-After"] == "0.05"));
    assert_eq!(
        t.emu.counters().get("throttled: MailboxConcurrency"),
        limited.len() as u64
    );
    let peaks = t.emu.concurrency();
    assert!(peaks.peak_items > 4, "{peaks:?}");
    assert_eq!(peaks.peak_batches, 2, "{peaks:?}");
}

#[tokio::test]
async fn an_edited_occurrence_becomes_an_exception_in_views_and_delta() {
    let t = start().await;
    let cal = t.emu.default_calendar();
    let series = t
        .emu
        .insert_event(
            &cal,
            json!({"subject": "Standup", "start": {"dateTime": "2024-03-04T09:00:00", "timeZone": "UTC"},
                   "end": {"dateTime": "2024-03-04T09:15:00", "timeZone": "UTC"},
                   "recurrence": {"pattern": {"type": "daily", "interval": 1},
                                  "range": {"type": "numbered", "startDate": "2024-03-04", "numberOfOccurrences": 5}}}),
        )
        .unwrap();
    let sid = series["id"].as_str().unwrap();
    let first = "/me/calendarView/delta?startDateTime=2024-03-01T00:00:00Z&endDateTime=2024-03-31T00:00:00Z";
    let (_, delta, _) = walk_delta(&t, first, "odata.maxpagesize=50").await;
    let ex = t
        .emu
        .edit_occurrence(
            sid,
            "2024-03-06",
            json!({"subject": "Standup (moved)", "start": {"dateTime": "2024-03-06T15:00:00", "timeZone": "UTC"},
                   "end": {"dateTime": "2024-03-06T15:30:00", "timeZone": "UTC"}}),
        )
        .unwrap();
    assert_eq!(ex["type"], "exception");
    assert_eq!(ex["subject"], "Standup (moved)");
    assert_eq!(ex["seriesMasterId"], series["id"]);
    assert!(ex["recurrence"].is_null());
    let ex_id = ex["id"].as_str().unwrap();
    // By id, in the view and in the series' instances.
    let (s, got) = t.get(&format!("/me/events/{ex_id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["type"], "exception");
    assert_eq!(
        got["start"],
        json!({"dateTime": "2024-03-06T15:00:00.0000000", "timeZone": "UTC"})
    );
    let (_, view) = t
        .get("/me/calendarView?startDateTime=2024-03-01T00:00:00Z&endDateTime=2024-03-31T00:00:00Z")
        .await;
    let types: Vec<&str> = view["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "occurrence",
            "occurrence",
            "exception",
            "occurrence",
            "occurrence"
        ]
    );
    // The series changed: the next delta round carries the exception in full.
    let (rows, _, _) = walk_delta(&t, &delta, "odata.maxpagesize=50").await;
    let exc: Vec<&Value> = rows.iter().filter(|r| r["type"] == "exception").collect();
    assert_eq!(exc.len(), 1, "{rows:#?}");
    assert_eq!(exc[0]["subject"], "Standup (moved)");
    assert_eq!(exc[0]["id"], ex["id"]);
    assert_eq!(rows.iter().filter(|r| r["type"] == "occurrence").count(), 4);
    // The series' own listing does not show exceptions; the master is unchanged in content.
    let (_, listed) = t.get("/me/events").await;
    assert_eq!(listed["value"].as_array().unwrap().len(), 1);
    assert_eq!(listed["value"][0]["subject"], "Standup");
    // Editing a series' occurrence never gives it a recurrence of its own.
    let (s, _, _) = t
        .send(
            reqwest::Method::PATCH,
            &format!("/me/events/{ex_id}"),
            &[],
            Some(json!({"recurrence": {"pattern": {"type": "daily", "interval": 1}, "range": {"type": "noEnd", "startDate": "2024-03-06"}}})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Cancelling it removes it.
    let (s, _, _) = t
        .send(
            reqwest::Method::DELETE,
            &format!("/me/events/{ex_id}"),
            &[],
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = t.get(&format!("/me/events/{ex_id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
