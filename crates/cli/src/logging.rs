use std::io::IsTerminal;

use cchub_config::{LogFormat, LoggingConfig};
use tracing_subscriber::EnvFilter;

/// Sends logs to stdout: JSON lines, or text on a terminal when the format is `auto`.
pub fn init(config: &LoggingConfig) {
    let filter = EnvFilter::try_new(&config.level).unwrap_or_else(|err| {
        eprintln!("warning: invalid log level {:?} ({err}); using info", config.level);
        EnvFilter::new("info")
    });
    let json = match config.format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let result = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
    if let Err(err) = result {
        eprintln!("warning: logging already initialised: {err}");
    }
}
