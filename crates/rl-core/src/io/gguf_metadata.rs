//! Typed access to GGUF metadata, with errors that name the file and the key.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;

use super::errors::invalid;
use crate::error::Result;

pub struct Metadata<'a> {
    pub values: &'a HashMap<String, Value>,
    /// The file, for error messages.
    pub source: String,
}

impl Metadata<'_> {
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>> {
        let Some(v) = self.values.get(key) else { return Ok(None) };
        as_u64(v).map(Some).ok_or_else(|| self.wrong_type(key, "a non-negative integer", v))
    }

    pub fn usize(&self, key: &str) -> Result<usize> {
        match self.opt_u64(key)? {
            Some(n) if n > 0 => Ok(n as usize),
            Some(_) => Err(invalid(format!("{}: metadata '{key}' must be positive, got 0", self.source))),
            None => Err(invalid(format!("{} has no metadata '{key}', which describes the model's shape", self.source))),
        }
    }

    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>> {
        let Some(v) = self.values.get(key) else { return Ok(None) };
        let x = match v {
            // Through the shortest decimal form, so that 1e-6 stored as f32 reads as 1e-6.
            Value::F32(x) => x.to_string().parse().ok(),
            Value::F64(x) => Some(*x),
            other => as_u64(other).map(|n| n as f64),
        };
        x.map(Some).ok_or_else(|| self.wrong_type(key, "a number", v))
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<&str>> {
        match self.values.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.wrong_type(key, "a string", v)),
        }
    }

    pub fn opt_array(&self, key: &str) -> Result<Option<&[Value]>> {
        match self.values.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(v) => Err(self.wrong_type(key, "an array", v)),
        }
    }

    pub fn strings(&self, key: &str) -> Result<Vec<&str>> {
        let items = self.opt_array(key)?.ok_or_else(|| invalid(format!("{} has no metadata '{key}'", self.source)))?;
        items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.as_str()),
                other => Err(self.wrong_type(key, "an array of strings", other)),
            })
            .collect()
    }

    pub fn integers(&self, key: &str) -> Result<Option<Vec<i64>>> {
        let Some(items) = self.opt_array(key)? else { return Ok(None) };
        let ints = items.iter().map(|v| as_i64(v).ok_or_else(|| self.wrong_type(key, "an array of integers", v)));
        ints.collect::<Result<Vec<_>>>().map(Some)
    }

    fn wrong_type(&self, key: &str, expected: &str, got: &Value) -> crate::error::CoreError {
        invalid(format!("{}: metadata '{key}' should be {expected}, got {:?}", self.source, got.value_type()))
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    match *v {
        Value::U8(x) => Some(x as i64),
        Value::I8(x) => Some(x as i64),
        Value::U16(x) => Some(x as i64),
        Value::I16(x) => Some(x as i64),
        Value::U32(x) => Some(x as i64),
        Value::I32(x) => Some(x as i64),
        Value::U64(x) => i64::try_from(x).ok(),
        Value::I64(x) => Some(x),
        _ => None,
    }
}

fn as_u64(v: &Value) -> Option<u64> {
    as_i64(v).and_then(|x| u64::try_from(x).ok())
}
