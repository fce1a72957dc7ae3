//! argon2id password hashing, run on the blocking pool because one hash takes tens of
//! milliseconds of CPU on purpose.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Shortest and longest accepted passwords, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Checks the password policy; the error message names what to change.
pub fn check_policy(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(format!("the password must have at least {MIN_PASSWORD_CHARS} characters"));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(format!("the password must have at most {MAX_PASSWORD_CHARS} characters"));
    }
    if password.chars().any(|c| c.is_control()) {
        return Err("the password must not contain control characters".into());
    }
    Ok(())
}

/// Hashes with argon2id and the crate's default cost (19 MiB, 2 passes).
pub fn hash_blocking(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| format!("password hashing failed: {e}"))
}

/// Hashes and checks that may run at once. Each takes 19 MiB and a core for tens of
/// milliseconds, so without a bound a burst of sign-ins could take the host's memory.
/// Requests beyond it wait their turn.
const MAX_CONCURRENT_HASHES: usize = 4;

static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_CONCURRENT_HASHES);

async fn hashing_permit() -> tokio::sync::SemaphorePermit<'static> {
    HASHING.acquire().await.expect("the hashing semaphore is never closed")
}

pub async fn hash(password: String) -> Result<String, String> {
    let _permit = hashing_permit().await;
    tokio::task::spawn_blocking(move || {
        let hash = hash_blocking(&password);
        release_freed_memory();
        hash
    })
    .await
    .map_err(|e| format!("password hashing task failed: {e}"))?
}

/// Returns the memory of a finished hash to the system. Each hash takes 19 MiB; glibc keeps
/// freed memory in per-thread arenas, and the blocking pool's threads would otherwise hold
/// up to that much each, long after the sign-ins are over.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages back to the kernel; it touches no
    // memory that is in use and has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn verify_blocking(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Verifies `password`; with `hash == None` (unknown user) it still spends the time of a
/// real check, so response times do not reveal which user names exist.
pub async fn verify(password: String, hash: Option<String>) -> bool {
    let _permit = hashing_permit().await;
    tokio::task::spawn_blocking(move || {
        let valid = match hash {
            Some(hash) => verify_blocking(&password, &hash),
            None => {
                verify_blocking(&password, dummy_hash());
                false
            }
        };
        release_freed_memory();
        valid
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_blocking("cchub-dummy-password-for-timing").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_checks_are_bounded() {
        let hash = hash_blocking("correct horse").unwrap();
        let checks: Vec<_> = (0..12).map(|_| tokio::spawn(verify("correct horse".into(), Some(hash.clone())))).collect();
        // While they run, never more than the bound hold a permit.
        let mut peak = 0;
        for _ in 0..200 {
            let busy = MAX_CONCURRENT_HASHES - HASHING.available_permits();
            peak = peak.max(busy);
            if checks.iter().all(|c| c.is_finished()) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        for check in checks {
            assert!(check.await.unwrap());
        }
        assert!(peak <= MAX_CONCURRENT_HASHES, "peak {peak}");
        assert!(peak > 0, "the checks took permits");
    }

    #[test]
    fn hash_and_verify() {
        let hash = hash_blocking("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_blocking("correct horse", &hash));
        assert!(!verify_blocking("wrong horse", &hash));
        assert!(!verify_blocking("correct horse", "not a hash"));
    }

    #[test]
    fn policy() {
        assert!(check_policy("short").is_err());
        assert!(check_policy("long enough").is_ok());
        assert!(check_policy(&"x".repeat(300)).is_err());
        assert!(check_policy("with\nnewline").is_err());
        assert!(check_policy("密码密码密码密码").is_ok());
    }
}
