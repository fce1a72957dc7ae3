//! Claude Code sessions, read from the JSON lines files the CLI keeps in the user's home:
//! `~/.claude/projects/<folder>/<session id>.jsonl`. Every read goes through cap-std
//! beneath the home folder, which the user controls.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use cap_std::fs::Dir;
use serde::Serialize;
use serde_json::Value;

use crate::agent::SessionId;

const PROJECTS: &str = ".claude/projects";
/// Largest session file read; a longer history is cut off at this size.
const MAX_SESSION_BYTES: u64 = 64 << 20;
/// Longest title kept, in characters.
const MAX_TITLE_CHARS: usize = 120;

/// One session in the list.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SessionSummary {
    pub id: String,
    /// The project folder name the CLI chose (the working folder with `/` as `-`).
    pub project: String,
    pub title: String,
    /// First and last activity, as the CLI wrote them (RFC 3339).
    pub started_at: Option<String>,
    pub last_activity: Option<String>,
    /// User and assistant messages, tool results included.
    pub message_count: usize,
}

/// One message of a session's history.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SessionMessage {
    pub uuid: Option<String>,
    pub parent_uuid: Option<String>,
    /// `user` or `assistant`.
    pub role: String,
    pub timestamp: Option<String>,
    /// The Messages API message: `{role, content}`.
    pub message: Value,
}

/// The projects folder, or `None` when it is missing or is a link out of the home.
fn projects_dir(home: &Path) -> std::io::Result<Option<Dir>> {
    let home = Dir::open_ambient_dir(home, cap_std::ambient_authority())?;
    match home.open_dir(PROJECTS) {
        Ok(dir) => Ok(Some(dir)),
        Err(err) => {
            if err.kind() != std::io::ErrorKind::NotFound {
                tracing::debug!(error = %err, "session folder cannot be opened beneath the home");
            }
            Ok(None)
        }
    }
}

/// Calls `visit(project, session id, file)` for every session file.
fn for_each_session(home: &Path, mut visit: impl FnMut(&str, &str, cap_std::fs::File)) -> std::io::Result<()> {
    let Some(projects) = projects_dir(home)? else { return Ok(()) };
    for project in projects.entries()? {
        let project = project?;
        if !project.file_type()?.is_dir() {
            continue;
        }
        let project_name = project.file_name().to_string_lossy().to_string();
        let Ok(dir) = projects.open_dir(&project_name) else { continue };
        for entry in dir.entries()? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            let Some(stem) = name.strip_suffix(".jsonl") else { continue };
            if SessionId::parse(stem).is_err() || !entry.file_type()?.is_file() {
                continue;
            }
            if let Ok(file) = dir.open(&name) {
                visit(&project_name, stem, file);
            }
        }
    }
    Ok(())
}

fn lines(file: cap_std::fs::File) -> impl Iterator<Item = Value> {
    BufReader::new(file.take(MAX_SESSION_BYTES))
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str::<Value>(&line).ok())
}

/// The text a user typed, or `None` for tool results and other generated content.
fn typed_text(entry: &Value) -> Option<String> {
    if entry["isMeta"] == true {
        return None;
    }
    match &entry["message"]["content"] {
        Value::String(text) => Some(text.clone()),
        Value::Array(blocks) => {
            let texts: Vec<&str> = blocks.iter().filter(|b| b["type"] == "text").filter_map(|b| b["text"].as_str()).collect();
            (!texts.is_empty() && !blocks.iter().any(|b| b["type"] == "tool_result")).then(|| texts.join("\n"))
        }
        _ => None,
    }
}

fn summarize(project: &str, id: &str, file: cap_std::fs::File) -> Option<SessionSummary> {
    let mut summary = SessionSummary {
        id: id.to_string(),
        project: project.to_string(),
        title: String::new(),
        started_at: None,
        last_activity: None,
        message_count: 0,
    };
    let mut named_title = None;
    for entry in lines(file) {
        let kind = entry["type"].as_str().unwrap_or_default();
        if kind == "summary" || kind == "ai-title" || kind == "custom-title" {
            let title = entry["summary"].as_str().or(entry["title"].as_str()).or(entry["customTitle"].as_str());
            if let Some(title) = title {
                named_title = Some(title.to_string());
            }
        }
        if kind != "user" && kind != "assistant" {
            continue;
        }
        summary.message_count += 1;
        if let Some(timestamp) = entry["timestamp"].as_str() {
            summary.started_at.get_or_insert_with(|| timestamp.to_string());
            summary.last_activity = Some(timestamp.to_string());
        }
        if summary.title.is_empty() && kind == "user" {
            if let Some(text) = typed_text(&entry) {
                summary.title = text.split_whitespace().collect::<Vec<_>>().join(" ");
            }
        }
    }
    if summary.message_count == 0 {
        return None;
    }
    if let Some(title) = named_title {
        summary.title = title;
    }
    summary.title = summary.title.chars().take(MAX_TITLE_CHARS).collect();
    Some(summary)
}

/// Every session with at least one message, the most recent first.
pub fn list_sessions(home: &Path) -> std::io::Result<Vec<SessionSummary>> {
    let mut sessions = Vec::new();
    for_each_session(home, |project, id, file| sessions.extend(summarize(project, id, file)))?;
    sessions.sort_by(|a, b| b.last_activity.cmp(&a.last_activity));
    Ok(sessions)
}

/// The user and assistant messages of session `id`, in order; `None` when the user has
/// no such session.
pub fn read_messages(home: &Path, id: &SessionId) -> std::io::Result<Option<Vec<SessionMessage>>> {
    let mut found = None;
    for_each_session(home, |_, session, file| {
        if found.is_some() || session != id.as_str() {
            return;
        }
        let messages = lines(file)
            .filter(|entry| matches!(entry["type"].as_str(), Some("user" | "assistant")))
            .map(|entry| SessionMessage {
                uuid: entry["uuid"].as_str().map(str::to_string),
                parent_uuid: entry["parentUuid"].as_str().map(str::to_string),
                role: entry["type"].as_str().unwrap_or_default().to_string(),
                timestamp: entry["timestamp"].as_str().map(str::to_string),
                message: entry["message"].clone(),
            })
            .collect();
        found = Some(messages);
    })?;
    Ok(found)
}

/// Whether the user has a session with this id.
pub fn session_exists(home: &Path, id: &SessionId) -> std::io::Result<bool> {
    let mut exists = false;
    for_each_session(home, |_, session, _| exists |= session == id.as_str())?;
    Ok(exists)
}

#[cfg(test)]
mod tests;
