use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new random refresh token (256 bits, base64url).
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the store keeps instead of the token: a database leak gives no usable token.
pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
