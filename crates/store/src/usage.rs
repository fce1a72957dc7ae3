use serde::Serialize;
use sqlx::Row;

use crate::{now_ms, Store, StoreError};

/// Tokens of one or more Messages API calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TokenUsage {
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_creation_tokens: i64,
    pub cache_read_tokens: i64,
}

impl TokenUsage {
    /// Every token counted against a budget: input, cache writes and reads, and output.
    pub fn total(&self) -> i64 {
        self.input_tokens + self.output_tokens + self.cache_creation_tokens + self.cache_read_tokens
    }
}

/// One user's usage on one UTC day (`YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageRow {
    pub user_id: i64,
    pub username: String,
    pub day: String,
    #[serde(flatten)]
    pub usage: TokenUsage,
}

fn usage_from(row: &sqlx::any::AnyRow) -> Result<TokenUsage, StoreError> {
    let corrupt = |e: sqlx::Error| StoreError::Corrupt(format!("usage row: {e}"));
    Ok(TokenUsage {
        requests: row.try_get("requests").map_err(corrupt)?,
        input_tokens: row.try_get("input_tokens").map_err(corrupt)?,
        output_tokens: row.try_get("output_tokens").map_err(corrupt)?,
        cache_creation_tokens: row.try_get("cache_creation_tokens").map_err(corrupt)?,
        cache_read_tokens: row.try_get("cache_read_tokens").map_err(corrupt)?,
    })
}

impl Store {
    /// Adds `usage` to the user's row for `day`.
    pub async fn add_usage(&self, user_id: i64, day: &str, usage: &TokenUsage) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO usage_daily (user_id, day, requests, input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (user_id, day) DO UPDATE SET requests = usage_daily.requests + excluded.requests, \
             input_tokens = usage_daily.input_tokens + excluded.input_tokens, \
             output_tokens = usage_daily.output_tokens + excluded.output_tokens, \
             cache_creation_tokens = usage_daily.cache_creation_tokens + excluded.cache_creation_tokens, \
             cache_read_tokens = usage_daily.cache_read_tokens + excluded.cache_read_tokens",
        )
        .bind(user_id)
        .bind(day)
        .bind(usage.requests)
        .bind(usage.input_tokens)
        .bind(usage.output_tokens)
        .bind(usage.cache_creation_tokens)
        .bind(usage.cache_read_tokens)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::query("add_usage", e))?;
        Ok(())
    }

    /// The user's usage summed over the days from `first_day` on.
    pub async fn usage_since(&self, user_id: i64, first_day: &str) -> Result<TokenUsage, StoreError> {
        let row = sqlx::query(
            // PostgreSQL sums BIGINT columns to NUMERIC, which the Any driver cannot decode,
            // so each sum is cast back to BIGINT.
            "SELECT CAST(COALESCE(SUM(requests), 0) AS BIGINT) AS requests, \
             CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input_tokens, \
             CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS output_tokens, \
             CAST(COALESCE(SUM(cache_creation_tokens), 0) AS BIGINT) AS cache_creation_tokens, \
             CAST(COALESCE(SUM(cache_read_tokens), 0) AS BIGINT) AS cache_read_tokens \
             FROM usage_daily WHERE user_id = $1 AND day >= $2",
        )
        .bind(user_id)
        .bind(first_day)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::query("usage_since", e))?;
        usage_from(&row)
    }

    /// Every user's daily rows from `first_day` on, newest day first.
    pub async fn usage_rows(&self, first_day: &str) -> Result<Vec<UsageRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.user_id, users.username, u.day, u.requests, u.input_tokens, u.output_tokens, u.cache_creation_tokens, \
             u.cache_read_tokens FROM usage_daily u JOIN users ON users.id = u.user_id WHERE u.day >= $1 ORDER BY u.day DESC, users.username",
        )
        .bind(first_day)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::query("usage_rows", e))?;
        rows.iter()
            .map(|row| {
                let corrupt = |e: sqlx::Error| StoreError::Corrupt(format!("usage row: {e}"));
                Ok(UsageRow {
                    user_id: row.try_get("user_id").map_err(corrupt)?,
                    username: row.try_get("username").map_err(corrupt)?,
                    day: row.try_get("day").map_err(corrupt)?,
                    usage: usage_from(row)?,
                })
            })
            .collect()
    }

    pub async fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| StoreError::query("setting", e))?;
        row.map(|r| r.try_get("value").map_err(|e| StoreError::Corrupt(e.to_string()))).transpose()
    }

    pub async fn set_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(value)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::query("set_setting", e))?;
        Ok(())
    }

    pub async fn delete_setting(&self, name: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM settings WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::query("delete_setting", e))?;
        Ok(result.rows_affected() > 0)
    }
}

/// The UTC date of a Unix time in milliseconds, as `YYYY-MM-DD`.
pub fn utc_day(unix_ms: i64) -> String {
    // Days since 1970-01-01 to a proleptic Gregorian date: shift the epoch to
    // 0000-03-01 so leap days fall at the end of each 400-year era, then split into
    // era, year of era, day of year and month (March first).
    let days = unix_ms.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The first day of the month of `day` (`YYYY-MM-01`).
pub fn month_start(day: &str) -> String {
    format!("{}-01", &day[..7.min(day.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_dates() {
        assert_eq!(utc_day(0), "1970-01-01");
        assert_eq!(utc_day(951_782_400_000), "2000-02-29");
        assert_eq!(utc_day(1_796_415_428_084), "2026-12-04");
        assert_eq!(utc_day(1_709_164_799_999), "2024-02-28");
        assert_eq!(month_start("2026-12-04"), "2026-12-01");
    }
}
