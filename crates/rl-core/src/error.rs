//! Errors carry a stable machine-readable code (surfaced to JavaScript as `error.code`)
//! and a message that names the problem and what to do about it.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Two arrays that must have the same length do not.
    LengthMismatch,
    /// A trajectory `offsets` array is not a valid partition of the buffer.
    InvalidOffsets,
    /// A scalar parameter (gamma, lambda, eps, ...) is out of range or not finite.
    InvalidParameter,
    /// The group layout (groupSize / groupIds) does not fit the batch.
    InvalidGroups,
    /// Any other malformed argument.
    InvalidArgument,
    /// A model folder or file is missing, corrupt, or describes something unsupported.
    InvalidModel,
    /// An input value that must be finite is NaN or infinite.
    NonFinite,
    /// A saved optimizer or training state is missing, corrupt, or does not fit.
    InvalidCheckpoint,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::LengthMismatch => "ERR_LENGTH_MISMATCH",
            ErrorCode::InvalidOffsets => "ERR_INVALID_OFFSETS",
            ErrorCode::InvalidParameter => "ERR_INVALID_PARAMETER",
            ErrorCode::InvalidGroups => "ERR_INVALID_GROUPS",
            ErrorCode::InvalidArgument => "ERR_INVALID_ARGUMENT",
            ErrorCode::InvalidModel => "ERR_INVALID_MODEL",
            ErrorCode::NonFinite => "ERR_NON_FINITE",
            ErrorCode::InvalidCheckpoint => "ERR_INVALID_CHECKPOINT",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreError {
    pub code: ErrorCode,
    pub message: String,
}

impl CoreError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        CoreError { code, message: message.into() }
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for CoreError {}

pub type Result<T> = std::result::Result<T, CoreError>;

/// Fails with `LengthMismatch` unless `actual == expected`.
pub fn check_len(name: &str, actual: usize, expected_name: &str, expected: usize) -> Result<()> {
    if actual == expected {
        return Ok(());
    }
    Err(CoreError::new(
        ErrorCode::LengthMismatch,
        format!("{name} has length {actual} but {expected_name} has length {expected}; they must be equal"),
    ))
}

/// Fails with `InvalidParameter` unless `value` is finite and inside `[lo, hi]`.
pub fn check_range(name: &str, value: f64, lo: f64, hi: f64) -> Result<()> {
    if value.is_finite() && value >= lo && value <= hi {
        return Ok(());
    }
    Err(CoreError::new(
        ErrorCode::InvalidParameter,
        format!("{name} must be a finite number in [{lo}, {hi}], got {value}"),
    ))
}
