use std::sync::Arc;

use async_trait::async_trait;
use cchub_config::Config;
use cchub_gateway::{Accounting, Refusal, Usage};
use cchub_policy::TierName;
use cchub_store::{month_start, now_ms, utc_day, Store, TokenUsage};
use tracing::warn;

/// Admission and metering against the store and the tiers of the configuration.
pub struct StoreAccounting {
    pub store: Store,
    pub config: Arc<Config>,
}

#[async_trait]
impl Accounting for StoreAccounting {
    async fn admit(&self, user_id: i64) -> Result<(), Refusal> {
        let user = match self.store.user_by_id(user_id).await {
            Ok(Some(user)) => user,
            Ok(None) => return Err(Refusal::UnknownUser),
            Err(err) => {
                warn!(user_id, error = %err, "cannot look up the user of a model call");
                return Err(Refusal::Unavailable);
            }
        };
        if user.disabled {
            return Err(Refusal::Disabled);
        }
        let budget = TierName::parse(&user.tier).ok().and_then(|t| self.config.resources.tier(&t)).and_then(|t| t.monthly_tokens);
        let Some(budget) = budget else { return Ok(()) };
        // NOTE: calls admitted together are checked against the same total, so a burst of
        // parallel calls can pass the budget by what they use between them.
        let month = month_start(&utc_day(now_ms()));
        match self.store.usage_since(user_id, &month).await {
            Ok(usage) if usage.total() as u64 >= budget => {
                crate::metrics::metrics().budget_rejection();
                Err(Refusal::BudgetSpent { used: usage.total() as u64, budget })
            }
            Ok(_) => Ok(()),
            Err(err) => {
                warn!(user_id, error = %err, "cannot read the user's usage");
                Err(Refusal::Unavailable)
            }
        }
    }

    async fn egress(&self, user_id: i64, host: &str, port: u16, allowed: bool) {
        let actor = self.store.user_by_id(user_id).await.ok().flatten().map(|u| u.username.to_string());
        let event = cchub_store::AuditEvent {
            actor_id: Some(user_id),
            actor,
            action: if allowed { "egress.allow" } else { "egress.deny" },
            target: Some(format!("{host}:{port}")),
            outcome: if allowed { "success" } else { "denied" },
            ..Default::default()
        };
        if let Err(err) = self.store.record_audit(&event).await {
            warn!(user_id, error = %err, "cannot record an egress decision");
        }
    }

    async fn record(&self, user_id: i64, usage: Usage) {
        let row = TokenUsage {
            requests: 1,
            input_tokens: usage.input_tokens as i64,
            output_tokens: usage.output_tokens as i64,
            cache_creation_tokens: usage.cache_creation_input_tokens as i64,
            cache_read_tokens: usage.cache_read_input_tokens as i64,
        };
        let tier = self.store.user_by_id(user_id).await.ok().flatten().map(|u| u.tier).unwrap_or_else(|| "unknown".into());
        let metrics = crate::metrics::metrics();
        metrics.tokens(&tier, "input", usage.input_tokens);
        metrics.tokens(&tier, "output", usage.output_tokens);
        metrics.tokens(&tier, "cache_write", usage.cache_creation_input_tokens);
        metrics.tokens(&tier, "cache_read", usage.cache_read_input_tokens);
        if let Err(err) = self.store.add_usage(user_id, &utc_day(now_ms()), &row).await {
            warn!(user_id, error = %err, "cannot record model usage");
        }
    }
}
