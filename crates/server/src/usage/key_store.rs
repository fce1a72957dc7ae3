use cchub_config::Secret;
use cchub_store::Store;

use super::SecretBox;

/// Settings row holding the organisation key set through the admin API, encrypted.
pub const MODEL_KEY_SETTING: &str = "model.api_key";

/// Source of the key the gateway uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeySource {
    /// Set by an administrator through the API; it wins over the environment.
    Admin,
    /// `ANTHROPIC_API_KEY` or `model.api_key_file`.
    Environment,
}

/// Returns the key to use at start-up: the stored one when present, else the configured one.
pub async fn load_model_key(store: &Store, secrets: &SecretBox, configured: Option<Secret>) -> Result<(Option<Secret>, Option<KeySource>), String> {
    let stored = store.setting(MODEL_KEY_SETTING).await.map_err(|e| e.to_string())?;
    if let Some(sealed) = stored {
        let key = secrets.open(&sealed).map_err(|e| format!("the stored model key cannot be read: {e}"))?;
        return Ok((Some(Secret::new(key)), Some(KeySource::Admin)));
    }
    let source = configured.as_ref().map(|_| KeySource::Environment);
    Ok((configured, source))
}
