//! Who may use the model, and what each call cost.

use async_trait::async_trait;

/// Tokens reported by the upstream for one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

/// Why a user's request is not forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    UnknownUser,
    Disabled,
    BudgetSpent { used: u64, budget: u64 },
    /// The check itself failed; the request is refused rather than forwarded unmetered.
    Unavailable,
}

/// The hub's side of metering: admission before a call, recording after it.
#[async_trait]
pub trait Accounting: Send + Sync + 'static {
    async fn admit(&self, user_id: i64) -> Result<(), Refusal>;
    async fn record(&self, user_id: i64, usage: Usage);
    /// Notes an egress proxy decision; the default does nothing.
    async fn egress(&self, _user_id: i64, _host: &str, _port: u16, _allowed: bool) {}
}

/// Admits everyone and records nothing, for tests of the forwarding alone.
pub struct NoAccounting;

#[async_trait]
impl Accounting for NoAccounting {
    async fn admit(&self, _user_id: i64) -> Result<(), Refusal> {
        Ok(())
    }

    async fn record(&self, _user_id: i64, _usage: Usage) {}
}
