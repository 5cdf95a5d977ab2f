//! `crmsync demo`: the whole job against the loopback emulators, in a temporary home directory.
//!
//! Seeds both sides, signs in through the real browser flows (a scripted browser follows the
//! emulators' authorization redirects), syncs with progress bars, edits both sides, syncs again,
//! and checks that both sides agree and that a third sync writes nothing.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use crmsync::app::{AppConfig, AppError, SecretBackend, SyncClient};
use crmsync_core::{CancelToken, SyncOptions, SyncReport};
use crmsync_emulator::graph::{GraphConfig, GraphEmulator};
use crmsync_emulator::zoho::{ZohoConfig, ZohoEmulator, DEFAULT_CLIENT_ID};
use serde::Serialize;
use serde_json::{json, Value};

use crate::{output, progress, seed};

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Scale: about this many contacts in all (tasks and events scale with it).
    #[arg(long, default_value_t = 300)]
    pub records: usize,
    /// Keep the demo's home directory (settings, state) at this path instead of a temporary one.
    #[arg(long)]
    pub home: Option<std::path::PathBuf>,
}

#[derive(Debug, Serialize)]
struct Check {
    name: String,
    ok: bool,
    detail: String,
}

/// A browser for the emulators: follows the authorization redirect to the loopback listener.
pub async fn scripted_browser(url: String) {
    let client = reqwest::Client::new();
    match client.get(&url).send().await {
        Ok(r) => tracing::debug!(status = r.status().as_u16(), "scripted browser done"),
        Err(e) => tracing::warn!("scripted browser failed: {e}"),
    }
}

fn say(json: bool, line: &str) {
    if !json {
        println!("{line}");
    }
}

pub async fn run(args: &DemoArgs, json: bool, _verbose: u8) -> Result<ExitCode, AppError> {
    let started = Instant::now();
    let tmp;
    let home = match &args.home {
        Some(h) => h.clone(),
        None => {
            tmp = tempfile::tempdir()
                .map_err(|e| AppError::Io(format!("cannot create a temporary directory: {e}")))?;
            tmp.path().to_path_buf()
        }
    };
    let io = |what: &str, e: std::io::Error| AppError::Io(format!("cannot start {what}: {e}"));
    let zemu = ZohoEmulator::start(ZohoConfig::default())
        .await
        .map_err(|e| io("the Zoho emulator", e))?;
    let gemu = GraphEmulator::start(GraphConfig::default())
        .await
        .map_err(|e| io("the Graph emulator", e))?;
    say(
        json,
        "== crmsync demo: Zoho CRM ↔ Outlook, both emulated on 127.0.0.1",
    );
    say(
        json,
        &format!(
            "   Zoho API {}  ·  Graph {}  ·  home {}",
            zemu.api_url(),
            gemu.graph_url(),
            home.display()
        ),
    );
    let sizes = seed::seed(&zemu, &gemu, args.records).map_err(AppError::Service)?;
    say(
        json,
        &format!(
            "   seeded Zoho: {} contacts, {} tasks, {} events · Outlook: {} contacts ({} also in Zoho), {} tasks, {} events (+{} personal)",
            sizes.zoho_contacts, sizes.tasks, sizes.events, sizes.outlook_contacts, sizes.twins,
            sizes.tasks, sizes.events, sizes.personal_events
        ),
    );

    let mut config = AppConfig::new(&home);
    config.overrides.secret_store = Some(SecretBackend::File);
    let client = SyncClient::open(config)?;
    for (k, v) in [
        ("zoho.client_id", DEFAULT_CLIENT_ID.to_string()),
        ("zoho.accounts_url", zemu.accounts_url()),
        ("zoho.api_url", zemu.api_url()),
        ("zoho.redirect_port", "0".into()),
        ("outlook.client_id", "crmsync-demo".into()),
        ("outlook.login_url", gemu.login_url()),
        ("outlook.graph_url", gemu.graph_url()),
        ("secrets.store", "file".into()),
    ] {
        client.set(k, &v)?;
    }
    let z = client.login_zoho_browser(scripted_browser).await?;
    let o = client.login_outlook_browser(scripted_browser).await?;
    say(
        json,
        &format!(
            "   signed in (browser flow with PKCE) to Zoho as user {} and to Outlook as {}",
            z.user_id, o.user_id
        ),
    );

    let mut runs: Vec<(String, SyncReport)> = vec![];
    let first = sync(&client, json).await?;
    say(json, "\n== first sync (twins linked, both sides filled)");
    if !json {
        output::report(&first);
    }
    runs.push(("first".into(), first));

    let edits = edit(&zemu, &gemu).map_err(AppError::Service)?;
    say(json, "\n== edits on both sides");
    for e in &edits {
        say(json, &format!("   {e}"));
    }
    let second = sync(&client, json).await?;
    say(json, "\n== second sync (edits merged, deletes propagated)");
    if !json {
        output::report(&second);
    }
    runs.push(("second".into(), second));
    let third = sync(&client, json).await?;
    say(json, "\n== third sync (nothing to do)");
    if !json {
        output::report(&third);
    }
    let third_writes = third.writes();
    runs.push(("third".into(), third));

    let mut checks = agree(&zemu, &gemu);
    checks.push(Check {
        name: "third sync writes nothing".into(),
        ok: third_writes == 0,
        detail: format!("{third_writes} writes"),
    });
    for (name, r) in &runs {
        let bad: Vec<String> = r
            .kinds
            .iter()
            .filter(|k| k.failure.is_some() || k.guard.is_some() || !k.errors.is_empty())
            .map(|k| {
                format!(
                    "{}: {:?} {:?} {} errors",
                    k.kind.as_str(),
                    k.failure,
                    k.guard.as_ref().map(|g| &g.message),
                    k.errors.len()
                )
            })
            .collect();
        checks.push(Check {
            name: format!("{name} sync completed without errors"),
            ok: bad.is_empty(),
            detail: bad.join("; "),
        });
    }
    let ok = checks.iter().all(|c| c.ok);
    let secs = started.elapsed().as_secs_f64();
    if json {
        output::json(&json!({
            "runs": runs.iter().map(|(n, r)| json!({"name": n, "report": r})).collect::<Vec<_>>(),
            "checks": checks,
            "ok": ok,
            "seconds": secs,
        }));
    } else {
        println!("\n== final check");
        for c in &checks {
            println!(
                "   [{}] {}{}",
                if c.ok { "ok" } else { "FAILED" },
                c.name,
                if c.detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", c.detail)
                }
            );
        }
        println!(
            "{} in {secs:.1} s",
            if ok { "demo passed" } else { "demo FAILED" }
        );
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::EXIT_CHECK)
    })
}

async fn sync(client: &SyncClient, json: bool) -> Result<SyncReport, AppError> {
    let bars = Arc::new(progress::Bars::new(json));
    let out = client
        .sync(
            &SyncOptions::default(),
            Some(bars.clone()),
            CancelToken::new(),
        )
        .await;
    bars.finish();
    Ok(out?.report)
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_default()
}

fn outlook_email(c: &Value) -> String {
    c["emailAddresses"][0]["address"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase()
}

/// Edits both sides: one-side updates, both-side edits of the same record, deletes, creates,
/// a completed task and an event that loses its Zoho category.
fn edit(zemu: &ZohoEmulator, gemu: &GraphEmulator) -> Result<Vec<String>, String> {
    let mut done = vec![];
    let zc = zemu.records("Contacts");
    let folder = gemu.default_contact_folder();
    let oc = gemu.contacts(&folder);
    let o_by_email: BTreeMap<String, &Value> = oc.iter().map(|c| (outlook_email(c), c)).collect();
    // Pairs present on both sides, in a stable order.
    let mut pairs: Vec<(&Value, &Value)> = zc
        .iter()
        .filter_map(|z| {
            o_by_email
                .get(&s(z, "Email").to_lowercase())
                .map(|o| (z, *o))
        })
        .collect();
    pairs.sort_by_key(|(z, _)| s(z, "Email").to_string());
    if pairs.len() < 12 {
        return Err(format!("only {} linked contacts to edit", pairs.len()));
    }
    let e = |e: &dyn std::fmt::Display| e.to_string();
    for (z, _) in &pairs[0..3] {
        zemu.update_record(
            "Contacts",
            s(z, "id"),
            json!({"Title": "Head of Partnerships", "Department": "Partners"}),
        )
        .map_err(|x| e(&x))?;
    }
    done.push("Zoho: 3 contacts got a new title and department".into());
    for (_, o) in &pairs[3..6] {
        gemu.update_contact(
            s(o, "id"),
            json!({"mobilePhone": "+86 138 0000 0000", "personalNotes": "见面于上海 🎉"}),
        )
        .map_err(|x| e(&x))?;
    }
    done.push("Outlook: 3 contacts got a mobile phone and notes".into());
    for (z, o) in &pairs[6..8] {
        zemu.update_record(
            "Contacts",
            s(z, "id"),
            json!({"Title": "VP Sales", "Mailing_City": "Hangzhou"}),
        )
        .map_err(|x| e(&x))?;
        gemu.update_contact(
            s(o, "id"),
            json!({"jobTitle": "Chief Revenue Officer", "personalNotes": "Prefers WeChat"}),
        )
        .map_err(|x| e(&x))?;
    }
    done.push("both sides: 2 contacts edited on both sides (title on both → conflict, Zoho wins; other fields merge)".into());
    for (z, _) in &pairs[8..9] {
        zemu.delete_record("Contacts", s(z, "id"), false);
    }
    done.push("Zoho: 1 contact deleted".into());
    for (_, o) in &pairs[9..10] {
        gemu.delete_contact(s(o, "id")).map_err(|x| e(&x))?;
    }
    done.push("Outlook: 1 contact deleted".into());
    zemu.insert_record("Contacts", json!({"First_Name": "Hui", "Last_Name": "林", "Email": "lin.hui@example.cn", "Title": "CTO"}))
        .map_err(|x| e(&x))?;
    gemu.insert_contact(&folder, json!({"givenName": "Barbara", "surname": "Liskov", "emailAddresses": [{"address": "barbara.new@example.com"}]}))
        .map_err(|x| e(&x))?;
    done.push("new contacts: 1 in Zoho, 1 in Outlook".into());

    let zt = zemu.records("Tasks");
    if let Some(t) = zt.first() {
        zemu.update_record("Tasks", s(t, "id"), json!({"Status": "Completed"}))
            .map_err(|x| e(&x))?;
        done.push("Zoho: 1 task completed".into());
    }
    let list = gemu.default_task_list();
    let ot = gemu.tasks(&list);
    if let Some(t) = ot.last() {
        gemu.delete_task(s(t, "id")).map_err(|x| e(&x))?;
        done.push("Outlook: 1 task deleted".into());
    }

    let cal = gemu.default_calendar();
    let mut events: Vec<Value> = gemu
        .events(&cal)
        .into_iter()
        .filter(|v| {
            v["categories"]
                .as_array()
                .is_some_and(|c| c.iter().any(|x| x == "Zoho"))
                && v["recurrence"].is_null()
        })
        .collect();
    events.sort_by_key(|v| s(v, "subject").to_string());
    if events.len() >= 2 {
        gemu.update_event(s(&events[0], "id"), json!({"categories": ["Customer"]}))
            .map_err(|x| e(&x))?;
        done.push(format!(
            "Outlook: the Zoho category removed from {:?} (it leaves the sync, nothing is deleted)",
            s(&events[0], "subject")
        ));
        gemu.update_event(
            s(&events[1], "id"),
            json!({"subject": format!("{} (moved online)", s(&events[1], "subject"))}),
        )
        .map_err(|x| e(&x))?;
        done.push("Outlook: 1 event renamed".into());
    }
    Ok(done)
}

/// Both sides hold the same records in scope, with no duplicates.
fn agree(zemu: &ZohoEmulator, gemu: &GraphEmulator) -> Vec<Check> {
    let mut checks = vec![];
    let zc = zemu.records("Contacts");
    let oc = gemu.contacts(&gemu.default_contact_folder());
    let z: BTreeMap<String, (String, String, String)> = zc
        .iter()
        .map(|c| {
            (
                s(c, "Email").to_lowercase(),
                (
                    s(c, "First_Name").to_string(),
                    s(c, "Last_Name").to_string(),
                    s(c, "Title").to_string(),
                ),
            )
        })
        .collect();
    let o: BTreeMap<String, (String, String, String)> = oc
        .iter()
        .map(|c| {
            (
                outlook_email(c),
                (
                    s(c, "givenName").to_string(),
                    s(c, "surname").to_string(),
                    s(c, "jobTitle").to_string(),
                ),
            )
        })
        .collect();
    let differing = z.iter().filter(|(k, v)| o.get(*k) != Some(*v)).count()
        + o.keys().filter(|k| !z.contains_key(*k)).count();
    checks.push(Check {
        name: "contacts agree (name, e-mail, title)".into(),
        ok: differing == 0 && z.len() == o.len(),
        detail: format!(
            "Zoho {} · Outlook {} · differing {differing}",
            zc.len(),
            oc.len()
        ),
    });
    checks.push(Check {
        name: "no duplicate contacts".into(),
        ok: z.len() == zc.len() && o.len() == oc.len(),
        detail: format!("{} + {} duplicates", zc.len() - z.len(), oc.len() - o.len()),
    });

    let mut zt: Vec<String> = zemu
        .records("Tasks")
        .iter()
        .map(|t| s(t, "Subject").to_string())
        .collect();
    let mut ot: Vec<String> = gemu
        .tasks(&gemu.default_task_list())
        .iter()
        .map(|t| s(t, "title").to_string())
        .collect();
    zt.sort();
    ot.sort();
    checks.push(Check {
        name: "tasks agree (no duplicates)".into(),
        ok: zt == ot,
        detail: format!("Zoho {} · Outlook {}", zt.len(), ot.len()),
    });

    let mut ze: Vec<String> = zemu
        .records("Events")
        .iter()
        .map(|e| s(e, "Event_Title").to_string())
        .collect();
    let mut oe: Vec<String> = gemu
        .events(&gemu.default_calendar())
        .iter()
        .map(|e| s(e, "subject").to_string())
        .filter(|t| !t.starts_with("Personal:"))
        .collect();
    ze.sort();
    oe.sort();
    checks.push(Check {
        name: "events agree; personal events stayed out of Zoho".into(),
        ok: ze == oe,
        detail: format!("Zoho {} · Outlook {} (+personal)", ze.len(), oe.len()),
    });
    checks
}
