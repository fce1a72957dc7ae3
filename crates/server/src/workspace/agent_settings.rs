//! Claude Code's own settings in the user's home, so that `claude` typed in the terminal
//! starts at once: no first-run onboarding (which would try to reach api.anthropic.com
//! from a container without network), no trust question for /workspace, and no question
//! about the placeholder API key.

use std::path::Path;

use cchub_policy::{CONTAINER_WORKSPACE, PLACEHOLDER_API_KEY};
use serde_json::{json, Map, Value};

use crate::files::{read_file, write_file, FileError, WorkspacePath};

const SETTINGS_FILE: &str = ".claude.json";
/// Claude Code remembers an approved key by its last 20 characters.
const KEY_SUFFIX_CHARS: usize = 20;
const MAX_SETTINGS_BYTES: u64 = 4 << 20;

/// Adds the fields above to `~/.claude.json` where they are missing, keeping everything
/// else the user or the CLI wrote. Goes through the confined file operations, because the
/// user controls the home folder and may have planted a link there. Returns whether the
/// file changed; a file that is not a JSON object is left alone.
pub fn seed(home: &Path, chown: bool) -> Result<bool, FileError> {
    let path = WorkspacePath::parse(SETTINGS_FILE).expect("a constant relative path");
    let mut settings = match read_file(home, &path, MAX_SETTINGS_BYTES) {
        Ok(content) => match serde_json::from_slice::<Value>(&content.bytes) {
            Ok(Value::Object(map)) => map,
            _ => return Ok(false),
        },
        Err(FileError::NotFound(_)) => Map::new(),
        Err(err) => return Err(err),
    };
    if !apply_defaults(&mut settings) {
        return Ok(false);
    }
    let bytes = serde_json::to_vec_pretty(&Value::Object(settings)).expect("a JSON map serializes");
    write_file(home, &path, &bytes, chown)?;
    Ok(true)
}

/// Sets the missing fields; returns whether anything changed.
fn apply_defaults(settings: &mut Map<String, Value>) -> bool {
    let mut changed = false;
    if settings.get("hasCompletedOnboarding") != Some(&Value::Bool(true)) {
        settings.insert("hasCompletedOnboarding".into(), Value::Bool(true));
        changed = true;
    }

    let projects = settings.entry("projects").or_insert_with(|| json!({}));
    if let Value::Object(projects) = projects {
        let project = projects.entry(CONTAINER_WORKSPACE).or_insert_with(|| json!({}));
        if let Value::Object(project) = project {
            if project.get("hasTrustDialogAccepted") != Some(&Value::Bool(true)) {
                project.insert("hasTrustDialogAccepted".into(), Value::Bool(true));
                changed = true;
            }
        }
    }

    let suffix: String = {
        let chars: Vec<char> = PLACEHOLDER_API_KEY.chars().collect();
        chars[chars.len().saturating_sub(KEY_SUFFIX_CHARS)..].iter().collect()
    };
    let responses = settings
        .entry("customApiKeyResponses")
        .or_insert_with(|| json!({"approved": [], "rejected": []}));
    if let Value::Object(responses) = responses {
        let approved = responses.entry("approved").or_insert_with(|| json!([]));
        if let Value::Array(approved) = approved {
            if !approved.iter().any(|v| v.as_str() == Some(suffix.as_str())) {
                approved.push(Value::String(suffix));
                changed = true;
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_home_gets_every_field() {
        let home = tempfile::tempdir().unwrap();
        assert!(seed(home.path(), false).unwrap());
        let written: Value = serde_json::from_slice(&std::fs::read(home.path().join(".claude.json")).unwrap()).unwrap();
        assert_eq!(written["hasCompletedOnboarding"], true);
        assert_eq!(written["projects"]["/workspace"]["hasTrustDialogAccepted"], true);
        assert_eq!(written["customApiKeyResponses"]["approved"][0], "ay-adds-the-real-key");
        assert!(!seed(home.path(), false).unwrap(), "a second call changes nothing");
    }

    #[test]
    fn existing_fields_are_kept() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join(".claude.json"), r#"{"theme":"light","projects":{"/other":{"x":1}}}"#).unwrap();
        seed(home.path(), false).unwrap();
        let written: Value = serde_json::from_slice(&std::fs::read(home.path().join(".claude.json")).unwrap()).unwrap();
        assert_eq!(written["theme"], "light");
        assert_eq!(written["projects"]["/other"]["x"], 1);
    }

    #[test]
    fn planted_link_is_not_followed() {
        let home = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("victim");
        std::fs::write(&target, "{}").unwrap();
        std::os::unix::fs::symlink(&target, home.path().join(".claude.json")).unwrap();
        let _ = seed(home.path(), false);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "{}", "the link target must not change");
    }

    #[test]
    fn broken_json_is_left_alone() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join(".claude.json"), "{not json").unwrap();
        assert!(!seed(home.path(), false).unwrap());
        assert_eq!(std::fs::read_to_string(home.path().join(".claude.json")).unwrap(), "{not json");
    }
}
