//! The `cchub` binary's account commands and start-up checks, without a Docker Engine.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn cchub(data_dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cchub"))
        .args(args)
        .env("CCHUB_DATA_DIR", data_dir)
        .env_remove("CCHUB_CONFIG")
        .env_remove("CCHUB_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

#[test]
fn user_commands_manage_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("workspace");

    let added = cchub(&data, &["user", "add", "root", "--admin", "--password-stdin"], Some("a-long-password\n"));
    assert!(added.status.success(), "{}", text(&added.stderr));
    assert!(text(&added.stdout).contains("created admin root"), "{}", text(&added.stdout));

    let added = cchub(&data, &["user", "add", "dev1", "--tier", "pro", "--password-stdin"], Some("another-password\n"));
    assert!(added.status.success(), "{}", text(&added.stderr));

    let set = cchub(&data, &["user", "set", "dev1", "--disable"], None);
    assert!(set.status.success(), "{}", text(&set.stderr));

    let listed = cchub(&data, &["user", "list", "--json"], None);
    let users: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(users[0]["username"], "root");
    assert_eq!(users[0]["role"], "admin");
    assert_eq!(users[1]["tier"], "pro");
    assert_eq!(users[1]["disabled"], true);
    assert!(users[0].get("password_hash").is_none());

    assert!(data.join("database/cchub.db").is_file());
}

#[test]
fn user_commands_reject_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("workspace");
    let cases: [(&[&str], Option<&str>, &str); 6] = [
        (&["user", "add", "Bad Name", "--password-stdin"], Some("a-long-password\n"), "invalid user name"),
        (&["user", "add", "ok", "--password-stdin"], Some("short\n"), "at least 8 characters"),
        (&["user", "add", "ok", "--tier", "gold", "--password-stdin"], Some("a-long-password\n"), "tier \"gold\" is not configured"),
        (&["user", "add", "ok"], None, "--password-stdin"),
        (&["user", "set", "nobody", "--tier", "pro"], None, "does not exist"),
        (&["user", "set", "nobody"], None, "nothing to change"),
    ];
    for (args, stdin, expected) in cases {
        let output = cchub(&data, args, stdin);
        assert!(!output.status.success(), "{args:?} should fail");
        let stderr = text(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let duplicate = cchub(&data, &["user", "add", "twice", "--password-stdin"], Some("a-long-password\n"));
    assert!(duplicate.status.success());
    let duplicate = cchub(&data, &["user", "add", "twice", "--password-stdin"], Some("a-long-password\n"));
    assert!(text(&duplicate.stderr).contains("already exists"), "{}", text(&duplicate.stderr));
}

#[test]
fn invalid_configuration_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cchub.yml");
    let cases = [
        ("security:\n  allow_privileged: true\n", "security.allow_privileged"),
        ("resources:\n  tiers:\n    free:\n      memory: 1G\n      memory_reservation: 4G\n", "memory_reservation"),
        ("server:\n  listen: everywhere\n", "server.listen"),
        ("serverr: {}\n", "serverr"),
    ];
    for (yaml, key) in cases {
        std::fs::write(&config, yaml).unwrap();
        let output = cchub(&dir.path().join("workspace"), &["--config", config.to_str().unwrap(), "serve"], None);
        assert!(!output.status.success());
        let stderr = text(&output.stderr);
        assert!(stderr.contains(key), "{yaml:?}: {stderr}");
    }
}

#[test]
fn seccomp_profile_is_printed() {
    let dir = tempfile::tempdir().unwrap();
    let output = cchub(&dir.path().join("workspace"), &["policy", "seccomp"], None);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let profile: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(profile["defaultAction"], "SCMP_ACT_ERRNO");
    let output = cchub(&dir.path().join("workspace"), &["policy", "seccomp", "--profile", "none"], None);
    assert!(!output.status.success());
}

#[test]
fn wrong_folder_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let output = cchub(&dir.path().join("workspace"), &["user", "list"], None);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("no cchub database"), "{}", text(&output.stderr));
    assert!(!dir.path().join("workspace/database/cchub.db").exists(), "listing must not create a database");
}

#[test]
fn last_admin_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("workspace");
    let added = cchub(&data, &["user", "add", "root", "--admin", "--password-stdin"], Some("a-long-password\n"));
    assert!(added.status.success(), "{}", text(&added.stderr));
    for args in [&["user", "set", "root", "--role", "user"][..], &["user", "set", "root", "--disable"][..]] {
        let output = cchub(&data, args, None);
        assert!(!output.status.success(), "{args:?}");
        assert!(text(&output.stderr).contains("only active administrator"), "{}", text(&output.stderr));
    }
}

#[test]
fn user_list_table_is_aligned() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("workspace");
    cchub(&data, &["user", "add", "root", "--admin", "--password-stdin"], Some("a-long-password\n"));
    let listed = text(&cchub(&data, &["user", "list"], None).stdout);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines[0].find("ROLE"), lines[1].find("admin"), "{listed}");
}
