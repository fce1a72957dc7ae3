//! HS256 access tokens signed with a key kept in `secrets/`.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

/// Shortest signing key accepted, in bytes (HS256 wants at least its output size).
const MIN_KEY_BYTES: usize = 32;
const GENERATED_KEY_BYTES: usize = 64;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    /// User id.
    pub sub: String,
    pub name: String,
    pub role: String,
    /// The user's token version when the token was issued.
    pub ver: i64,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    pub fn from_secret(secret: &[u8]) -> Result<Self, String> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(format!("the JWT signing key has {} bytes; at least {MIN_KEY_BYTES} are required", secret.len()));
        }
        // Only HS256 is accepted: tokens with `alg: none` or another algorithm fail.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        })
    }

    /// Loads the key from `path`, generating a random one (mode 0600) on first start.
    /// The file holds the key in base64.
    pub fn load_or_generate(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let mode = std::fs::metadata(path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
                if mode & 0o077 != 0 {
                    warn!(path = %path.display(), mode = format!("{mode:o}"), "JWT key file is readable by other users; chmod 600 it");
                }
                let secret = base64::engine::general_purpose::STANDARD
                    .decode(text.trim())
                    .map_err(|e| format!("{} is not a base64 key: {e}", path.display()))?;
                Self::from_secret(&secret)
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let mut secret = vec![0u8; GENERATED_KEY_BYTES];
                rand::rngs::OsRng.fill_bytes(&mut secret);
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                }
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                let encoded = base64::engine::general_purpose::STANDARD.encode(&secret);
                file.write_all(encoded.as_bytes())
                    .and_then(|_| file.sync_all())
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                info!(path = %path.display(), "generated a new JWT signing key");
                Self::from_secret(&secret)
            }
            Err(err) => Err(format!("cannot read {}: {err}", path.display())),
        }
    }

    pub fn encode(&self, claims: &Claims) -> Result<String, String> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding).map_err(|e| e.to_string())
    }

    /// Checks signature, algorithm and expiry.
    pub fn decode(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> Claims {
        Claims {
            sub: "1".into(),
            name: "alice".into(),
            role: "user".into(),
            ver: 0,
            iat: exp.saturating_sub(900),
            exp,
            jti: "j".into(),
        }
    }

    fn now() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
    }

    #[test]
    fn round_trip() {
        let keys = JwtKeys::from_secret(&[7u8; 64]).unwrap();
        let token = keys.encode(&claims(now() + 60)).unwrap();
        assert_eq!(keys.decode(&token).unwrap(), claims(now() + 60));
    }

    #[test]
    fn expired_wrong_key_and_none_are_rejected() {
        let keys = JwtKeys::from_secret(&[7u8; 64]).unwrap();
        let expired = keys.encode(&claims(now() - 120)).unwrap();
        assert!(keys.decode(&expired).is_err());

        let other = JwtKeys::from_secret(&[8u8; 64]).unwrap();
        let foreign = other.encode(&claims(now() + 60)).unwrap();
        assert!(keys.decode(&foreign).is_err());

        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = engine.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = engine.encode(serde_json::to_vec(&claims(now() + 60)).unwrap());
        assert!(keys.decode(&format!("{header}.{payload}.")).is_err());
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(JwtKeys::from_secret(&[1u8; 16]).is_err());
    }

    #[test]
    fn generated_key_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets").join("jwt.key");
        let first = JwtKeys::load_or_generate(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let token = first.encode(&claims(now() + 60)).unwrap();
        let again = JwtKeys::load_or_generate(&path).unwrap();
        assert!(again.decode(&token).is_ok(), "the same key must be loaded on the next start");
    }
}
