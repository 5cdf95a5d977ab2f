//! Architecture Invariant: the core performs no IO. Its normal dependency tree has no runtime,
//! HTTP client or database.

#[test]
fn core_depends_on_no_io_crate() {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "crmsync-core",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    for banned in [
        "tokio ",
        "reqwest ",
        "hyper ",
        "rusqlite ",
        "mio ",
        "socket2 ",
    ] {
        assert!(
            !tree.lines().any(|l| l.starts_with(banned)),
            "crmsync-core must not depend on {banned}:\n{tree}"
        );
    }
}
