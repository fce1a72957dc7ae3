//! Encryption at rest for secrets kept in the database, with a key in `secrets/`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;

/// XChaCha20-Poly1305 with a random nonce per value; a stored value is
/// base64(nonce ‖ ciphertext ‖ tag).
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl SecretBox {
    /// Loads the data-encryption key from `path`, creating it (mode 0600) when missing.
    pub fn load_or_generate(path: &Path) -> Result<Self, String> {
        let engine = base64::engine::general_purpose::STANDARD;
        let key = match std::fs::read_to_string(path) {
            Ok(text) => engine.decode(text.trim()).map_err(|e| format!("{} is not a base64 key: {e}", path.display()))?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let mut key = vec![0u8; KEY_BYTES];
                rand::rngs::OsRng.fill_bytes(&mut key);
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                file.write_all(engine.encode(&key).as_bytes())
                    .and_then(|_| file.sync_all())
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                key
            }
            Err(err) => return Err(format!("cannot read {}: {err}", path.display())),
        };
        if key.len() != KEY_BYTES {
            return Err(format!("{} holds {} bytes; a data-encryption key has {KEY_BYTES}", path.display(), key.len()));
        }
        Ok(Self {
            cipher: XChaCha20Poly1305::new_from_slice(&key).map_err(|e| e.to_string())?,
        })
    }

    pub fn seal(&self, plaintext: &str) -> Result<String, String> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext.as_bytes())
            .map_err(|_| "encryption failed".to_string())?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(base64::engine::general_purpose::STANDARD.encode(out))
    }

    pub fn open(&self, stored: &str) -> Result<String, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(stored)
            .map_err(|_| "the stored value is not base64".to_string())?;
        if bytes.len() <= NONCE_BYTES {
            return Err("the stored value is too short".into());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), sealed)
            .map_err(|_| "the stored value does not decrypt with the key in secrets/ (wrong key or damaged value)".to_string())?;
        String::from_utf8(plain).map_err(|_| "the stored value is not text".into())
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn seal_and_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.key");
        let secrets = SecretBox::load_or_generate(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let sealed = secrets.seal("sk-ant-secret").unwrap();
        assert!(!sealed.contains("sk-ant"));
        assert_ne!(sealed, secrets.seal("sk-ant-secret").unwrap(), "every seal uses a fresh nonce");
        let again = SecretBox::load_or_generate(&path).unwrap();
        assert_eq!(again.open(&sealed).unwrap(), "sk-ant-secret");
    }

    #[test]
    fn tampering_and_other_keys_fail() {
        let dir = tempfile::tempdir().unwrap();
        let first = SecretBox::load_or_generate(&dir.path().join("a.key")).unwrap();
        let second = SecretBox::load_or_generate(&dir.path().join("b.key")).unwrap();
        let sealed = first.seal("value").unwrap();
        assert!(second.open(&sealed).is_err());
        let mut bytes = base64::engine::general_purpose::STANDARD.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(first.open(&base64::engine::general_purpose::STANDARD.encode(bytes)).is_err());
        assert!(first.open("not base64!").is_err());
    }
}
