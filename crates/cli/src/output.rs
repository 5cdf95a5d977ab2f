//! What the commands print: human text on standard output, or JSON with `--json`.

use std::process::ExitCode;

use crmsync::app::{Account, FileConfig, Status};
use crmsync_core::report::KindReport;
use crmsync_core::{Container, Plan, QueuedConflict, SyncReport};
use serde::Serialize;

pub fn json<T: Serialize>(v: &T) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot write JSON: {e}"),
    }
}

pub fn account(a: &Account, as_json: bool) {
    if as_json {
        return json(a);
    }
    println!(
        "signed in to {} as user {} ({})",
        a.service, a.user_id, a.api
    );
}

pub fn accounts(list: &[Account], as_json: bool) {
    if as_json {
        return json(&list);
    }
    if list.is_empty() {
        println!("not signed in; run `crmsync login zoho` and `crmsync login outlook`");
    }
    for a in list {
        match &a.problem {
            None => println!("{:<8} user {} at {}", a.service.as_str(), a.user_id, a.api),
            Some(p) => println!("{:<8} signed in, but: {p}", a.service.as_str()),
        }
    }
}

pub fn containers(list: &[Container], as_json: bool) {
    if as_json {
        return json(&list);
    }
    for c in list {
        println!(
            "{}{}\t{}",
            if c.is_default { "* " } else { "  " },
            c.name,
            c.id
        );
    }
    if list.is_empty() {
        println!("(none)");
    }
}

pub fn categories(list: &[String], as_json: bool) {
    if as_json {
        return json(&list);
    }
    for c in list {
        println!("{c}");
    }
}

pub fn config(c: &FileConfig, as_json: bool) {
    if as_json {
        return json(c);
    }
    for (k, v) in c.entries() {
        println!("{k} = {v}");
    }
}

pub fn status(s: &Status, as_json: bool) {
    if as_json {
        return json(s);
    }
    println!("home: {} (secrets: {})", s.home, s.secret_store);
    let signed: Vec<&str> = s.signed_in.iter().map(|x| x.as_str()).collect();
    println!(
        "signed in: {}",
        if signed.is_empty() {
            "nobody".to_string()
        } else {
            signed.join(", ")
        }
    );
    for k in &s.kinds {
        let cur = |b: bool| if b { "incremental" } else { "full listing" };
        println!(
            "{:<8} {}  linked {:>6}  next read: zoho {}, outlook {}",
            k.kind.as_str(),
            if k.enabled { "on " } else { "off" },
            k.mapped,
            cur(k.zoho_cursor),
            cur(k.outlook_cursor)
        );
    }
    println!(
        "conflicts: {} waiting, {} decided (applied at the next sync)",
        s.pending_conflicts, s.resolved_conflicts
    );
    match &s.last_run {
        Some(r) => println!(
            "last run: {} — {} writes, {} errors{}",
            r.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
            r.writes(),
            r.errors(),
            if r.completed() { "" } else { ", stopped early" }
        ),
        None => println!("last run: never"),
    }
}

pub fn conflicts(list: &[QueuedConflict], as_json: bool) {
    if as_json {
        return json(&list);
    }
    if list.is_empty() {
        println!("no conflicts");
    }
    for c in list {
        let fields: Vec<String> = c.fields.iter().map(|f| format!("{f:?}")).collect();
        println!(
            "{:>4}  {:<8} {:?}  fields {}  {}",
            c.id,
            c.kind.as_str(),
            c.zoho.title(),
            fields.join(","),
            match c.resolution {
                Some(s) => format!("decided: {s} wins at the next sync"),
                None => "waiting: `crmsync conflicts resolve ID zoho|outlook`".into(),
            }
        );
    }
}

pub fn history(list: &[SyncReport], as_json: bool) {
    if as_json {
        return json(&list);
    }
    if list.is_empty() {
        println!("no runs yet");
    }
    for r in list {
        let kinds: Vec<String> = r
            .kinds
            .iter()
            .map(|k| {
                format!(
                    "{} {}w/{}e",
                    k.kind.as_str(),
                    k.counts.writes,
                    k.counts.errors
                )
            })
            .collect();
        println!(
            "{}  {:>6} writes  {}{}",
            r.started_at.format("%Y-%m-%d %H:%M:%S"),
            r.writes(),
            kinds.join("  "),
            if r.completed() {
                ""
            } else {
                "  (stopped early)"
            }
        );
    }
}

fn kind_line(k: &KindReport) -> String {
    let c = &k.counts;
    format!(
        "{:<8} created {}/{}  updated {}/{}  deleted {}/{}  linked {}  unlinked {}  merged {}  conflicts {} decided, {} queued  skipped {}  errors {}  writes {}",
        k.kind.as_str(),
        c.created_in_zoho,
        c.created_in_outlook,
        c.updated_in_zoho,
        c.updated_in_outlook,
        c.deleted_in_zoho,
        c.deleted_in_outlook,
        c.linked + c.relinked,
        c.unlinked,
        c.merged,
        c.conflicts_resolved,
        c.conflicts_queued,
        c.skipped,
        c.errors,
        c.writes
    )
}

/// The human report of a run (counts are zoho/outlook).
pub fn report(r: &SyncReport) {
    if r.dry_run {
        println!("dry run: nothing was written");
    }
    println!("counts are in Zoho / in Outlook");
    for k in &r.kinds {
        println!("  {}", kind_line(k));
        if !k.full_listing.is_empty() {
            let sides: Vec<&str> = k.full_listing.iter().map(|s| s.as_str()).collect();
            println!("    full listing of {}", sides.join(" and "));
        }
        for c in &k.conflicts {
            let fields: Vec<String> = c.fields.iter().map(|f| format!("{f:?}")).collect();
            println!(
                "    conflict {:?} on {}: rule {:?} → {}",
                c.title,
                fields.join(","),
                c.rule,
                match c.winner {
                    Some(s) => format!("{s} kept"),
                    None => "queued for you (`crmsync conflicts list`)".into(),
                }
            );
        }
        for s in &k.skipped {
            println!("    skipped {} {:?}: {}", s.side, s.title, s.reason);
        }
        for e in &k.errors {
            println!(
                "    error writing {:?} to {}{}: {}{}",
                e.title,
                e.side,
                e.field
                    .as_ref()
                    .map(|f| format!(" (field {f})"))
                    .unwrap_or_default(),
                e.reason,
                if e.will_retry {
                    " — retried next run"
                } else {
                    ""
                }
            );
        }
        for d in &k.deletes {
            println!(
                "    deleted in {}: {:?}",
                d.side,
                d.before
                    .as_ref()
                    .map(|b| b.title())
                    .unwrap_or_else(|| format!("id {}", d.id))
            );
        }
        for w in &k.warnings {
            println!("    warning: {w}");
        }
        if let Some(g) = &k.guard {
            println!(
                "    STOPPED before any write: this sync would delete {} of {} linked {}s. {}",
                g.deletions,
                g.mapped,
                k.kind.as_str(),
                g.message
            );
            println!(
                "    If that is what you want, run `crmsync sync --yes`; if not, check the chosen folders and filters with `crmsync config show`."
            );
        }
        if let Some(f) = &k.failure {
            println!("    FAILED: {f}");
        }
    }
    if r.cancelled {
        println!("cancelled: what finished is saved; run `crmsync sync` to continue");
    }
    println!("total writes: {}", r.writes());
}

pub fn plans(plans: &[Plan]) {
    for p in plans {
        println!("plan ({} steps):", p.steps.len());
        for s in p.steps.iter().take(200) {
            let sides: Vec<&str> = s.writes.iter().map(|(side, _)| side.as_str()).collect();
            println!(
                "  {:?}: {:?} (writes to {})",
                s.title,
                s.action,
                if sides.is_empty() {
                    "nothing".to_string()
                } else {
                    sides.join(", ")
                }
            );
        }
        if p.steps.len() > 200 {
            println!("  … {} more (use --json for all)", p.steps.len() - 200);
        }
    }
}

/// 0 when every kind completed, 3 when the guard stopped one, 1 when a kind failed, 130 when
/// the run was cancelled (Ctrl-C).
pub fn exit_for(r: &SyncReport) -> Result<ExitCode, crmsync::app::AppError> {
    if r.kinds.iter().any(|k| k.failure.is_some()) {
        return Ok(ExitCode::FAILURE);
    }
    if r.cancelled {
        return Ok(ExitCode::from(130));
    }
    if r.kinds.iter().any(|k| k.guard.is_some()) {
        return Ok(ExitCode::from(crate::EXIT_GUARD));
    }
    Ok(ExitCode::SUCCESS)
}
