//! A home directory, both emulators in this process, and the built `crmsync` binary pointed at
//! them through the environment.

use std::process::{Output, Stdio};

use crmsync_emulator::graph::{GraphConfig, GraphEmulator};
use crmsync_emulator::zoho::{ZohoConfig, ZohoEmulator, DEFAULT_CLIENT_ID};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_crmsync");
pub const GRAPH_CLIENT: &str = "crmsync-tests";

pub struct Env {
    pub home: tempfile::TempDir,
    pub zemu: ZohoEmulator,
    pub gemu: GraphEmulator,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.stdout, self.stderr))
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Env {
    pub async fn new() -> Env {
        Self::with(ZohoConfig::default(), GraphConfig::default()).await
    }

    pub async fn with(z: ZohoConfig, g: GraphConfig) -> Env {
        Env {
            home: tempfile::tempdir().expect("temp dir"),
            zemu: ZohoEmulator::start(z).await.expect("zoho emulator"),
            gemu: GraphEmulator::start(g).await.expect("graph emulator"),
        }
    }

    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(BIN);
        c.args(args)
            .env("CRMSYNC_HOME", self.home.path())
            .env("CRMSYNC_ZOHO_ACCOUNTS_URL", self.zemu.accounts_url())
            .env("CRMSYNC_ZOHO_API_URL", self.zemu.api_url())
            .env("CRMSYNC_MS_LOGIN_URL", self.gemu.login_url())
            .env("CRMSYNC_GRAPH_URL", self.gemu.graph_url())
            .env("CRMSYNC_SECRET_STORE", "file")
            .env("CRMSYNC_NO_BROWSER", "1")
            .env_remove("RUST_LOG")
            .env_remove("CRMSYNC_ZOHO_REFRESH_TOKEN")
            .env_remove("CRMSYNC_MS_REFRESH_TOKEN")
            .stdin(Stdio::null());
        c
    }

    /// Runs the binary to completion (off the runtime's worker, so the emulators keep serving).
    pub async fn run(&self, args: &[&str]) -> Run {
        let mut c = self.command(args);
        let out: Output = tokio::task::spawn_blocking(move || c.output().expect("runs crmsync"))
            .await
            .expect("join");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs and expects success.
    pub async fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args).await;
        assert_eq!(r.code, 0, "crmsync {args:?} failed: {r:?}");
        r
    }

    /// Signs in to both emulators through the refresh-token paths.
    pub async fn login(&self) -> (String, String) {
        let z = self
            .zemu
            .issue_refresh_token("owner@example.com")
            .expect("seeded user");
        let g = self.gemu.issue_refresh_token(GRAPH_CLIENT);
        self.ok(&[
            "login",
            "zoho",
            "--client-id",
            DEFAULT_CLIENT_ID,
            "--refresh-token",
            &z,
        ])
        .await;
        self.ok(&[
            "login",
            "outlook",
            "--client-id",
            GRAPH_CLIENT,
            "--refresh-token",
            &g,
        ])
        .await;
        (z, g)
    }

    pub fn outlook_contacts(&self) -> Vec<Value> {
        self.gemu.contacts(&self.gemu.default_contact_folder())
    }
}

pub fn by<'a>(v: &'a [Value], key: &str, value: &str) -> Vec<&'a Value> {
    v.iter()
        .filter(|r| r[key].as_str() == Some(value))
        .collect()
}

pub fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}
