//! The state file at rest, through the real binary: created readable by its owner only, and an
//! existing one that others can read is used with a warning saying how to fix it.

use std::os::unix::fs::PermissionsExt;

use crate::util::{root, run, sandbox_dir};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn a_new_state_file_is_private_and_a_readable_one_is_warned_about() {
    let dir = sandbox_dir(&[(&root().join("mappings/hubspot.yaml"), "mapping.yaml")]);
    // `oauth-link` creates the store (it keeps the link there).
    let link = [
        "oauth-link",
        "hubspot",
        "--mapping",
        "mapping.yaml",
        "--public-url",
        "https://sync.example.com",
    ];
    let out = run(dir.path(), &link, &[]);
    assert!(out.starts_with("exit: 0\n"), "{out}");
    assert!(
        out.contains("https://sync.example.com/oauth/hubspot/start?link="),
        "{out}"
    );
    let status = ["status", "--mapping", "mapping.yaml"];
    let db = dir.path().join("mapping.state.db");
    assert_eq!(mode(&db), 0o600);
    for side in ["mapping.state.db-wal", "mapping.state.db-shm"] {
        let p = dir.path().join(side);
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{side}");
        }
    }
    assert!(!out.contains("chmod"), "{out}");

    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = run(dir.path(), &status, &[]);
    assert!(out.starts_with("exit: 0\n"), "{out}");
    assert!(out.contains("readable by other users"), "{out}");
    assert!(out.contains("chmod 600"), "{out}");
}
