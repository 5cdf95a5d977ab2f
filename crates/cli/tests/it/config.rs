use crate::support::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_set_validates_and_show_lists_every_key() {
    let env = Env::new().await;
    env.ok(&["config", "set", "contacts.direction", "zoho_to_outlook"])
        .await;
    env.ok(&["config", "set", "all.winner", "newest"]).await;
    env.ok(&["config", "set", "events.categories", "chosen:Zoho,Customer"])
        .await;
    env.ok(&["config", "set", "tasks.guard.max_share", "0.5"])
        .await;
    env.ok(&["config", "set", "zoho.dc", "eu"]).await;
    let show = env.ok(&["config", "show"]).await.stdout;
    for line in [
        "contacts.direction = zoho_to_outlook",
        "events.conflict.winner = newest",
        "events.category_filter = chosen:Zoho,Customer",
        "tasks.guard.max_share = 0.5",
        "events.window.days_back = 30",
        "contacts.delete_policy = edit_wins",
        "zoho.dc = eu",
        "outlook.tenant = common",
    ] {
        assert!(show.contains(line), "{line:?} missing in:\n{show}");
    }
    let json = env.ok(&["config", "show", "--json"]).await.json();
    assert_eq!(json["sync"]["contacts"]["direction"], "zoho_to_outlook");
    let path = env.ok(&["config", "path"]).await.stdout;
    let before = std::fs::read_to_string(path.trim()).unwrap();

    for (key, value, says) in [
        ("contacts.direction", "sideways", "contacts.direction"),
        ("events.window.days_ahead", "forever", "whole number"),
        (
            "contacts.guard.max_share",
            "1.5",
            "contacts.guard.max_share",
        ),
        ("events.categories", "chosen:", "events.category_filter"),
        ("zoho.dc", "mars", "zoho.dc"),
        ("contacts.colour", "blue", "unknown setting"),
    ] {
        let r = env.run(&["config", "set", key, value]).await;
        assert_ne!(r.code, 0, "{key}={value} accepted: {r:?}");
        let last = r.stderr.trim().lines().last().unwrap_or_default();
        assert!(
            last.starts_with("error: ") && last.contains(says),
            "{key}: {r:?}"
        );
        assert_eq!(
            r.stderr
                .trim()
                .lines()
                .filter(|l| l.starts_with("error"))
                .count(),
            1
        );
    }
    let after = std::fs::read_to_string(path.trim()).unwrap();
    assert_eq!(before, after, "a bad value leaves the file unchanged");
}
