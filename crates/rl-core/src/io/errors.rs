//! Error helpers shared by the loaders: every failure is `InvalidModel` and names the file.

use std::path::Path;

use crate::error::{CoreError, ErrorCode, Result};

pub fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::new(ErrorCode::InvalidModel, message)
}

/// Reads a UTF-8 text file, or says which file could not be read and why.
pub fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| invalid(format!("cannot read {} ({e})", path.display())))
}

/// Parses a JSON file, or says which file is not valid JSON.
pub fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = read_text(path)?;
    serde_json::from_str(&text).map_err(|e| invalid(format!("{} is not valid JSON ({e})", path.display())))
}

/// The message of a library error without the backtrace candle appends when
/// RUST_BACKTRACE is set: users need the reason, not candle's call stack.
pub fn reason(e: impl std::fmt::Display) -> String {
    let text = e.to_string();
    text.lines().next().unwrap_or_default().to_string()
}
