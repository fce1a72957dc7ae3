use std::io::IsTerminal;

use cchub_config::{LogFormat, LoggingConfig};
use tracing_subscriber::fmt::writer::MakeWriterExt;
use tracing_subscriber::EnvFilter;

use crate::rotating::RotatingFile;

/// Opens the configured log file; a failure is reported and the logs stay on stdout.
fn open_log_file(config: &LoggingConfig) -> Option<RotatingFile> {
    let file = config.file.as_ref()?;
    match RotatingFile::open(&file.path, file.max_size.as_u64(), file.keep) {
        Ok(rotating) => Some(rotating),
        Err(err) => {
            eprintln!("warning: cannot open the log file {}: {err}; logging to stdout only", file.path.display());
            None
        }
    }
}

/// Sends logs to stdout: JSON lines, or text on a terminal when the format is `auto`;
/// also to a rotated file when `logging.file` is set.
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
    let file = open_log_file(config);
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    // A log file gets JSON lines, so stdout does too while one is set.
    let result = match (file, json) {
        (Some(file), _) => builder.json().flatten_event(true).with_writer(std::io::stdout.and(file)).try_init(),
        (None, true) => builder.json().flatten_event(true).try_init(),
        (None, false) => builder.try_init(),
    };
    if let Err(err) = result {
        eprintln!("warning: logging already initialised: {err}");
    }
}
