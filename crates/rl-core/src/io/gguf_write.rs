//! The GGUF container, version 3, as llama.cpp reads it: a header (magic, version, counts),
//! the metadata key/values, one info record per tensor (name, dimensions innermost first,
//! type, offset), then the tensor data, each tensor starting on a 32-byte boundary.
//!
//! The file is written beside its destination and renamed into place at the end, so an
//! interrupted export never leaves a truncated `.gguf` that looks complete.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::Value;
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::Tensor;

use crate::error::{CoreError, ErrorCode, Result};

const MAGIC: &[u8; 4] = b"GGUF";
const VERSION: u32 = 3;
/// llama.cpp's default `general.alignment`: tensor data starts on multiples of 32 bytes.
pub const ALIGNMENT: u64 = 32;

/// How a tensor's numbers are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GgmlType {
    F32,
    F16,
    /// Blocks of 32 values: an f16 scale d = max|x| / 127, then 32 signed bytes round(x / d).
    Q8_0,
}

impl GgmlType {
    /// ggml's `ggml_type` number.
    fn id(self) -> u32 {
        match self {
            GgmlType::F32 => 0,
            GgmlType::F16 => 1,
            GgmlType::Q8_0 => 8,
        }
    }

    fn candle(self) -> GgmlDType {
        match self {
            GgmlType::F32 => GgmlDType::F32,
            GgmlType::F16 => GgmlDType::F16,
            GgmlType::Q8_0 => GgmlDType::Q8_0,
        }
    }

    /// Values per block: a row's length must be a multiple of it.
    pub fn block_len(self) -> usize {
        self.candle().block_size()
    }

    /// Bytes that `elements` values take.
    fn bytes(self, elements: usize) -> u64 {
        let t = self.candle();
        (elements / t.block_size() * t.type_size()) as u64
    }
}

/// A tensor to write: f32 values in their final row-major layout, and the type to store.
pub struct TensorEntry {
    pub name: String,
    pub tensor: Tensor,
    pub ggml_type: GgmlType,
}

/// Writes `metadata` and `tensors` to `path` as a GGUF file; returns its size in bytes.
pub fn write_gguf(path: &Path, metadata: &[(String, Value)], tensors: &[TensorEntry]) -> Result<u64> {
    let partial = partial_path(path);
    let written = write_file(&partial, metadata, tensors).and_then(|size| {
        std::fs::rename(&partial, path).map_err(|e| write_error(path, e))?;
        Ok(size)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

fn write_file(path: &Path, metadata: &[(String, Value)], tensors: &[TensorEntry]) -> Result<u64> {
    let file = File::create(path).map_err(|e| write_error(path, e))?;
    let mut out = Counting { inner: BufWriter::new(file), written: 0 };
    let io = |e: std::io::Error| write_error(path, e);
    out.write_all(MAGIC).map_err(io)?;
    out.write_all(&VERSION.to_le_bytes()).map_err(io)?;
    out.write_all(&(tensors.len() as u64).to_le_bytes()).map_err(io)?;
    out.write_all(&(metadata.len() as u64).to_le_bytes()).map_err(io)?;
    for (key, value) in metadata {
        write_string(&mut out, key).map_err(io)?;
        out.write_all(&type_code(value).to_le_bytes()).map_err(io)?;
        write_value(&mut out, value).map_err(io)?;
    }
    let mut offset = 0u64;
    for entry in tensors {
        write_string(&mut out, &entry.name).map_err(io)?;
        let dims = entry.tensor.dims();
        out.write_all(&(dims.len() as u32).to_le_bytes()).map_err(io)?;
        // ggml lists dimensions innermost first: a [rows, cols] matrix is ne = [cols, rows].
        for &d in dims.iter().rev() {
            out.write_all(&(d as u64).to_le_bytes()).map_err(io)?;
        }
        out.write_all(&entry.ggml_type.id().to_le_bytes()).map_err(io)?;
        out.write_all(&offset.to_le_bytes()).map_err(io)?;
        offset = aligned(offset + entry.ggml_type.bytes(entry.tensor.elem_count()));
    }
    pad(&mut out).map_err(io)?;
    for entry in tensors {
        let data = encode(entry)?;
        out.write_all(&data).map_err(io)?;
        pad(&mut out).map_err(io)?;
    }
    out.inner.flush().map_err(io)?;
    out.inner.get_ref().sync_all().map_err(io)?;
    Ok(out.written)
}

/// The tensor's bytes in its ggml type (candle's quantizers follow ggml's reference ones).
fn encode(entry: &TensorEntry) -> Result<Vec<u8>> {
    let q = QTensor::quantize(&entry.tensor, entry.ggml_type.candle())?;
    let data = q.data()?.into_owned();
    if data.len() as u64 != entry.ggml_type.bytes(entry.tensor.elem_count()) {
        return Err(CoreError::new(ErrorCode::Compute, format!("tensor {} encoded to {} bytes, not the size its header announces; this is a bug", entry.name, data.len())));
    }
    Ok(data)
}

fn aligned(n: u64) -> u64 {
    n.div_ceil(ALIGNMENT) * ALIGNMENT
}

fn pad(out: &mut Counting) -> std::io::Result<()> {
    let padding = aligned(out.written) - out.written;
    out.write_all(&vec![0u8; padding as usize])
}

/// gguf's value type numbers.
fn type_code(v: &Value) -> u32 {
    match v {
        Value::U8(_) => 0,
        Value::I8(_) => 1,
        Value::U16(_) => 2,
        Value::I16(_) => 3,
        Value::U32(_) => 4,
        Value::I32(_) => 5,
        Value::F32(_) => 6,
        Value::Bool(_) => 7,
        Value::String(_) => 8,
        Value::Array(_) => 9,
        Value::U64(_) => 10,
        Value::I64(_) => 11,
        Value::F64(_) => 12,
    }
}

fn write_string(out: &mut impl Write, s: &str) -> std::io::Result<()> {
    out.write_all(&(s.len() as u64).to_le_bytes())?;
    out.write_all(s.as_bytes())
}

fn write_value(out: &mut impl Write, v: &Value) -> std::io::Result<()> {
    match v {
        Value::U8(x) => out.write_all(&x.to_le_bytes()),
        Value::I8(x) => out.write_all(&x.to_le_bytes()),
        Value::U16(x) => out.write_all(&x.to_le_bytes()),
        Value::I16(x) => out.write_all(&x.to_le_bytes()),
        Value::U32(x) => out.write_all(&x.to_le_bytes()),
        Value::I32(x) => out.write_all(&x.to_le_bytes()),
        Value::U64(x) => out.write_all(&x.to_le_bytes()),
        Value::I64(x) => out.write_all(&x.to_le_bytes()),
        Value::F32(x) => out.write_all(&x.to_le_bytes()),
        Value::F64(x) => out.write_all(&x.to_le_bytes()),
        Value::Bool(x) => out.write_all(&[u8::from(*x)]),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            let element = items.first().map_or(type_code(&Value::U32(0)), type_code);
            if items.iter().any(|item| type_code(item) != element) {
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "a metadata array mixes value types"));
            }
            out.write_all(&element.to_le_bytes())?;
            out.write_all(&(items.len() as u64).to_le_bytes())?;
            items.iter().try_for_each(|item| write_value(out, item))
        }
    }
}

/// A writer that counts its bytes, for padding to the alignment.
struct Counting {
    inner: BufWriter<File>,
    written: u64,
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn write_error(path: &Path, e: std::io::Error) -> CoreError {
    CoreError::new(ErrorCode::InvalidArgument, format!("cannot write {} ({e}); check that the folder exists, is writable and has room", path.display()))
}
