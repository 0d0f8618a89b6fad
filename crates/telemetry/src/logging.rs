//! The one logging setup: `tracing` events as text (stderr) or JSON lines (stdout), chosen by
//! `--log-format` / `EBB_LOG_FORMAT`, filtered by `RUST_LOG` (default `info`).
//!
//! JSON lines are flat: `{"timestamp":…,"level":"INFO","target":…,"message":…,"namespace":…,
//! "name":…}`, so an event's fields (object, trigger) are top-level keys.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use tracing_subscriber::EnvFilter;

/// The environment variable that sets the format when no flag does.
pub const LOG_FORMAT_ENV: &str = "EBB_LOG_FORMAT";

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl FromStr for LogFormat {
    type Err = UnknownLogFormat;

    fn from_str(s: &str) -> Result<LogFormat, UnknownLogFormat> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(UnknownLogFormat(s.to_owned())),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

/// A `--log-format` that is neither `text` nor `json`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log format {0:?}: use text or json")]
pub struct UnknownLogFormat(pub String);

/// The global subscriber could not be installed (one was already).
#[derive(Debug, thiserror::Error)]
#[error("installing the log subscriber: {0}")]
pub struct LoggingError(String);

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Installs the global `tracing` subscriber in `format`. Call once, first thing in `main`.
pub fn init(format: LogFormat) -> Result<(), LoggingError> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let installed = match format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(std::io::stdout)
            .try_init(),
    };
    installed.map_err(|e| LoggingError(e.to_string()))?;
    let _ = FORMAT.set(format);
    Ok(())
}

/// The format `init` installed (`Text` before, or without, `init`): local mode's view prints
/// JSON lines through `tracing` when this is `Json`.
pub fn format() -> LogFormat {
    FORMAT.get().copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_case_insensitively_and_name_themselves() {
        assert_eq!("JSON".parse(), Ok(LogFormat::Json));
        assert_eq!(" text ".parse(), Ok(LogFormat::Text));
        assert_eq!(
            "yaml".parse::<LogFormat>().unwrap_err().to_string(),
            "unknown log format \"yaml\": use text or json"
        );
        assert_eq!(LogFormat::Json.to_string(), "json");
        assert_eq!(format(), LogFormat::Text, "nothing installed in unit tests");
    }
}
