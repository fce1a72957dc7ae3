use cchub_config::{Config, PermissionMode};

use crate::error::ApiError;

/// A Claude Code session id (a UUID as the CLI prints it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionId(String);

impl SessionId {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let valid = (8..=64).contains(&raw.len()) && raw.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        if !valid {
            return Err(ApiError::bad_request("invalid_session_id", format!("{raw:?} is not a session id; use the session_id of an earlier run")));
        }
        Ok(Self(raw.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Longest prompt accepted, in bytes.
pub const MAX_PROMPT_BYTES: usize = 256 * 1024;

/// A validated request to run the agent once.
#[derive(Debug, Clone)]
pub struct AgentCommand {
    pub prompt: String,
    pub session: Option<SessionId>,
    pub model: Option<String>,
    pub permission_mode: PermissionMode,
}

impl AgentCommand {
    /// Checks a prompt message's fields against the configuration.
    pub fn from_request(config: &Config, text: String, session_id: Option<String>, model: Option<String>, permission_mode: Option<String>) -> Result<Self, ApiError> {
        if text.trim().is_empty() {
            return Err(ApiError::bad_request("empty_prompt", "the prompt is empty; type what the agent should do"));
        }
        if text.len() > MAX_PROMPT_BYTES {
            return Err(ApiError::bad_request("prompt_too_long", format!("the prompt is longer than {MAX_PROMPT_BYTES} bytes; attach large content as a file instead")));
        }
        let session = session_id.as_deref().map(SessionId::parse).transpose()?;
        if let Some(model) = &model {
            if !config.model.allowed_models.contains(model) {
                return Err(ApiError::bad_request(
                    "model_not_allowed",
                    format!("model {model:?} is not allowed; choose one of {}", config.model.allowed_models.join(", ")),
                ));
            }
        }
        let permission_mode = match permission_mode {
            None => config.model.default_permission_mode,
            Some(text) => {
                let allowed = &config.model.allowed_permission_modes;
                PermissionMode::parse(&text).filter(|m| allowed.contains(m)).ok_or_else(|| {
                    let names: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
                    ApiError::bad_request("permission_mode_not_allowed", format!("permission mode {text:?} is not allowed; choose one of {}", names.join(", ")))
                })?
            }
        };
        Ok(Self {
            prompt: text,
            session,
            model,
            permission_mode,
        })
    }

    /// The command line run in the container. The prompt goes through stdin, so it is
    /// never parsed as an option and has no length limit from the argument list.
    pub fn argv(&self, program: &str) -> Vec<String> {
        let mut argv = vec![
            program.to_string(),
            "-p".into(),
            "--output-format".into(),
            "stream-json".into(),
            "--verbose".into(),
            "--permission-mode".into(),
            self.permission_mode.as_str().into(),
        ];
        if let Some(model) = &self.model {
            argv.extend(["--model".into(), model.clone()]);
        }
        if let Some(session) = &self.session {
            argv.extend(["--resume".into(), session.as_str().into()]);
        }
        argv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::load(None, &|_| None).unwrap()
    }

    #[test]
    fn defaults_and_resume() {
        let command = AgentCommand::from_request(&config(), "hi".into(), Some("0fdc9f67-2232-4483-aa84-f96b5b15ad1c".into()), None, None).unwrap();
        let argv = command.argv("claude");
        assert_eq!(&argv[..5], ["claude", "-p", "--output-format", "stream-json", "--verbose"]);
        assert!(argv.windows(2).any(|w| w == ["--permission-mode", "bypassPermissions"]));
        assert!(argv.windows(2).any(|w| w == ["--resume", "0fdc9f67-2232-4483-aa84-f96b5b15ad1c"]));
        assert!(!argv.contains(&"hi".to_string()), "the prompt travels on stdin");
    }

    #[test]
    fn bad_fields_are_rejected() {
        let config = config();
        let cases = [
            ("", None, None, None, "empty_prompt"),
            ("x", Some("--help"), None, None, "invalid_session_id"),
            ("x", Some("../../etc"), None, None, "invalid_session_id"),
            ("x", None, Some("gpt-4"), None, "model_not_allowed"),
            ("x", None, None, Some("yolo"), "permission_mode_not_allowed"),
        ];
        for (text, session, model, mode, code) in cases {
            let err = AgentCommand::from_request(&config, text.into(), session.map(Into::into), model.map(Into::into), mode.map(Into::into)).unwrap_err();
            assert_eq!(err.code, code);
        }
        let long = "x".repeat(MAX_PROMPT_BYTES + 1);
        assert_eq!(AgentCommand::from_request(&config, long, None, None, None).unwrap_err().code, "prompt_too_long");
    }
}
