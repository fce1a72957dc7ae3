//! Token metering and budgets, and the organisation key set at run time.

mod accounting;
mod key_store;
mod secret_box;

pub use accounting::StoreAccounting;
pub use key_store::{load_model_key, KeySource, MODEL_KEY_SETTING};
pub use secret_box::SecretBox;
