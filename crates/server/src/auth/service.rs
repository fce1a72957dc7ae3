use std::time::{SystemTime, UNIX_EPOCH};

use cchub_store::{Store, User};
use serde::Serialize;
use tracing::warn;

use super::{hash_refresh_token, new_refresh_token, Claims, JwtKeys, LoginLimiter};
use crate::error::ApiError;

/// What a login or refresh returns.
#[derive(Debug, Serialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    /// Lifetime of the access token in seconds.
    pub expires_in: u64,
}

pub struct AuthService {
    keys: JwtKeys,
    store: Store,
    access_ttl_secs: u64,
    refresh_ttl_secs: u64,
    pub limiter: LoginLimiter,
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl AuthService {
    pub fn new(keys: JwtKeys, store: Store, access_ttl_secs: u64, refresh_ttl_secs: u64, limiter: LoginLimiter) -> Self {
        Self {
            keys,
            store,
            access_ttl_secs,
            refresh_ttl_secs,
            limiter,
        }
    }

    /// Issues an access token and a refresh token; `family` continues a rotated login.
    pub async fn issue(&self, user: &User, family: Option<String>) -> Result<TokenPair, ApiError> {
        let now = unix_now();
        let claims = Claims {
            sub: user.id.to_string(),
            name: user.username.to_string(),
            role: user.role.as_str().to_string(),
            ver: user.token_version,
            iat: now,
            exp: now + self.access_ttl_secs,
            jti: new_refresh_token()[..16].to_string(),
        };
        let access_token = self.keys.encode(&claims).map_err(|e| ApiError::internal("signing a token", e))?;

        let refresh_token = new_refresh_token();
        let family = family.unwrap_or_else(new_refresh_token);
        let expires_at = ((now + self.refresh_ttl_secs) * 1000) as i64;
        self.store
            .insert_refresh_token(user.id, &hash_refresh_token(&refresh_token), &family, expires_at)
            .await?;
        Ok(TokenPair {
            access_token,
            refresh_token,
            token_type: "Bearer",
            expires_in: self.access_ttl_secs,
        })
    }

    /// Resolves an access token to its user, rejecting a disabled account or a token
    /// issued before the account's last password change, disable or role change.
    pub async fn authenticate(&self, token: &str) -> Result<User, ApiError> {
        let claims = self.keys.decode(token).map_err(|err| {
            let expired = matches!(err.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature);
            if expired {
                ApiError::unauthorized("token_expired", "the access token has expired; refresh it or sign in again")
            } else {
                ApiError::unauthorized("invalid_token", "the access token is invalid; sign in again")
            }
        })?;
        let user_id: i64 = claims
            .sub
            .parse()
            .map_err(|_| ApiError::unauthorized("invalid_token", "the access token is invalid; sign in again"))?;
        let user = self
            .store
            .user_by_id(user_id)
            .await?
            .ok_or_else(|| ApiError::unauthorized("invalid_token", "the account of this token no longer exists"))?;
        if user.disabled {
            return Err(ApiError::unauthorized("account_disabled", "this account is disabled; ask an administrator"));
        }
        if user.token_version != claims.ver {
            warn!(user_id, "access token from before a password, role or status change was rejected");
            return Err(ApiError::unauthorized("token_revoked", "the session was ended; sign in again"));
        }
        Ok(user)
    }
}
