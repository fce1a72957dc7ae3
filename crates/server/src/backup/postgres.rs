//! The database part of a backup when the hub's database is PostgreSQL: `pg_dump` in its
//! custom format, checked by `pg_restore --list`. Both tools come from the PostgreSQL
//! client package and must be at least the server's major version.

use std::path::Path;
use std::process::Stdio;

use tokio::process::Command;

use super::BackupError;

/// Name of the dump inside a backup folder.
pub const DUMP_FILE: &str = "database.pgdump";

/// Splits the password out of a `postgres://user:password@host/db` URL, so that it
/// reaches `pg_dump` through `PGPASSWORD` instead of its command line, which other
/// local users can read.
fn split_password(url: &str) -> (String, Option<String>) {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return (url.to_string(), None) };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some((userinfo, host)) = authority.rsplit_once('@') else { return (url.to_string(), None) };
    let Some((user, password)) = userinfo.split_once(':') else { return (url.to_string(), None) };
    let stripped = format!("{}{user}@{host}{}", &url[..scheme_end], &rest[authority_end..]);
    (stripped, Some(percent_decode(password)))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn run(mut command: Command, what: &str) -> Result<Vec<u8>, BackupError> {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let output = command.output().await.map_err(|e| {
        BackupError::Invalid(format!("cannot run {what} ({e}); install the PostgreSQL client tools, e.g. apt-get install postgresql-client"))
    })?;
    if !output.status.success() {
        return Err(BackupError::Invalid(format!("{what} failed: {}", String::from_utf8_lossy(&output.stderr).trim())));
    }
    Ok(output.stdout)
}

/// Writes a consistent dump of the database at `url` to `target`. `pg_dump` reads in one
/// snapshot, so the hub keeps serving while it runs.
pub async fn dump(url: &str, target: &Path) -> Result<(), BackupError> {
    let (url, password) = split_password(url);
    let mut command = Command::new("pg_dump");
    command.arg("--format=custom").arg("--no-owner").arg("--file").arg(target).arg("--dbname").arg(&url);
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    run(command, "pg_dump").await.map(|_| ())
}

/// Reads the dump's table of contents; a truncated or foreign file fails here.
pub async fn check(dump: &Path) -> Result<usize, BackupError> {
    let mut command = Command::new("pg_restore");
    command.arg("--list").arg(dump);
    let listing = run(command, "pg_restore --list").await?;
    let entries = String::from_utf8_lossy(&listing).lines().filter(|line| !line.starts_with(';') && !line.trim().is_empty()).count();
    if entries == 0 {
        return Err(BackupError::Invalid("the dump lists no database objects".into()));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::split_password;

    #[test]
    fn password_leaves_the_url() {
        assert_eq!(
            split_password("postgres://cchub:s%40cret@127.0.0.1:5432/cchub?sslmode=disable"),
            ("postgres://cchub@127.0.0.1:5432/cchub?sslmode=disable".to_string(), Some("s@cret".to_string()))
        );
        assert_eq!(split_password("postgres://cchub@db/cchub"), ("postgres://cchub@db/cchub".to_string(), None));
        assert_eq!(split_password("postgres://db/cchub"), ("postgres://db/cchub".to_string(), None));
    }
}
