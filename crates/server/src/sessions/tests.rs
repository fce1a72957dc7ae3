use std::os::unix::fs::symlink;

use super::*;

const FIRST: &str = "0fdc9f67-2232-4483-aa84-f96b5b15ad1c";
const SECOND: &str = "11111111-2222-4333-8444-555555555555";

fn write_session(home: &Path, id: &str, lines: &[&str]) {
    let dir = home.join(".claude/projects/-workspace");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{id}.jsonl")), lines.join("\n")).unwrap();
}

fn sample(home: &Path) {
    write_session(home, FIRST, &[
        r#"{"type":"mode","sessionId":"x"}"#,
        r#"{"type":"user","timestamp":"2026-12-04T10:00:00Z","uuid":"u1","message":{"role":"user","content":"Fix the   build\nplease"}}"#,
        r#"{"type":"assistant","timestamp":"2026-12-04T10:00:05Z","uuid":"a1","parentUuid":"u1","message":{"role":"assistant","content":[{"type":"text","text":"Done."}]}}"#,
        "not json at all",
    ]);
    write_session(home, SECOND, &[
        r#"{"type":"user","timestamp":"2026-12-04T11:00:00Z","message":{"role":"user","content":[{"type":"text","text":"Second task"}]}}"#,
        r#"{"type":"user","timestamp":"2026-12-04T11:00:01Z","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"x"}]}}"#,
    ]);
}

#[test]
fn sessions_are_listed_newest_first() {
    let home = tempfile::tempdir().unwrap();
    sample(home.path());
    let sessions = list_sessions(home.path()).unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0].id, SECOND);
    assert_eq!(sessions[0].title, "Second task");
    assert_eq!(sessions[0].message_count, 2);
    assert_eq!(sessions[1].title, "Fix the build please");
    assert_eq!(sessions[1].started_at.as_deref(), Some("2026-12-04T10:00:00Z"));
    assert_eq!(sessions[1].last_activity.as_deref(), Some("2026-12-04T10:00:05Z"));
    assert_eq!(sessions[1].project, "-workspace");
}

#[test]
fn messages_keep_their_order() {
    let home = tempfile::tempdir().unwrap();
    sample(home.path());
    let messages = read_messages(home.path(), &SessionId::parse(FIRST).unwrap()).unwrap().unwrap();
    let roles: Vec<&str> = messages.iter().map(|m| m.role.as_str()).collect();
    assert_eq!(roles, ["user", "assistant"]);
    assert_eq!(messages[1].parent_uuid.as_deref(), Some("u1"));
    let unknown = SessionId::parse("99999999-2222-4333-8444-555555555555").unwrap();
    assert!(read_messages(home.path(), &unknown).unwrap().is_none());
    assert!(!session_exists(home.path(), &unknown).unwrap());
    assert!(session_exists(home.path(), &SessionId::parse(FIRST).unwrap()).unwrap());
}

#[test]
fn missing_folder_means_no_sessions() {
    let home = tempfile::tempdir().unwrap();
    assert!(list_sessions(home.path()).unwrap().is_empty());
}

#[test]
fn planted_links_are_not_followed() {
    let home = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    sample(outside.path());
    std::fs::create_dir_all(home.path().join(".claude")).unwrap();
    symlink(outside.path().join(".claude/projects"), home.path().join(".claude/projects")).unwrap();
    assert!(list_sessions(home.path()).unwrap().is_empty());

    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".claude/projects/-workspace");
    std::fs::create_dir_all(&dir).unwrap();
    symlink(outside.path().join(format!(".claude/projects/-workspace/{FIRST}.jsonl")), dir.join(format!("{FIRST}.jsonl"))).unwrap();
    assert!(list_sessions(home.path()).unwrap().is_empty());
}
