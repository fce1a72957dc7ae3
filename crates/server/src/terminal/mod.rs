//! Terminal sessions: bash in the user's container with a TTY.

mod utf8;

pub use utf8::Utf8Carry;

/// Largest terminal size accepted in a resize message.
pub const MAX_COLS: u16 = 1000;
pub const MAX_ROWS: u16 = 500;
