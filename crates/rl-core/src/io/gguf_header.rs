//! Reads the header of a GGUF file (metadata and tensor directory) with every size it
//! declares checked against the file before anything is allocated: counts, string and
//! array lengths, the alignment, and each tensor's extent. candle's reader divides by
//! `general.alignment` unchecked (0 panics) and multiplies tensor dimensions unchecked;
//! this one returns errors, and hands candle a `Content` whose every tensor fits the file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use candle_core::quantized::gguf_file::{Content, TensorInfo, Value, VersionedMagic};
use candle_core::quantized::GgmlDType;

use super::errors::invalid;
use crate::error::{CoreError, Result};

/// GGUF's default alignment of the tensor data, when `general.alignment` is absent.
const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml's GGML_MAX_DIMS.
const MAX_DIMS: u32 = 4;
/// Tokenizer metadata is flat arrays; nothing needs arrays nested deeper than this.
const MAX_ARRAY_DEPTH: usize = 4;
/// Array elements over all the metadata. The largest tokenizers hold a few hundred
/// thousand tokens and merges; each element takes 32+ bytes in memory, so this bounds the
/// header's memory whatever the file claims.
const MAX_METADATA_ELEMENTS: u64 = 1 << 24;

/// The header of the GGUF file at `path`, and a reader over the file for its tensors.
pub fn read_header(path: &Path) -> Result<(Content, BufReader<File>)> {
    let source = path.display().to_string();
    let file = File::open(path).map_err(|e| invalid(format!("cannot open {source} ({e})")))?;
    let file_len = file.metadata().map_err(|e| invalid(format!("cannot read {source} ({e})")))?.len();
    let mut header = Header { reader: BufReader::new(file), file_len, position: 0, wide_lengths: true, elements: 0, source };
    let content = header.content()?;
    Ok((content, header.reader))
}

struct Header {
    reader: BufReader<File>,
    file_len: u64,
    /// Bytes read so far.
    position: u64,
    /// Lengths and counts are u64 since GGUF v2, u32 in v1.
    wide_lengths: bool,
    /// Array elements read so far.
    elements: u64,
    source: String,
}

impl Header {
    fn content(&mut self) -> Result<Content> {
        if self.bytes(4, "the magic number")? != b"GGUF" {
            return Err(self.malformed("it does not start with the GGUF magic number".into()));
        }
        let magic = match self.u32()? {
            1 => VersionedMagic::GgufV1,
            2 => VersionedMagic::GgufV2,
            3 => VersionedMagic::GgufV3,
            v => return Err(self.malformed(format!("GGUF version {v} is not supported (1 to 3 are)"))),
        };
        self.wide_lengths = magic != VersionedMagic::GgufV1;
        let tensor_count = self.length()?;
        let metadata_count = self.length()?;
        // The smallest entries: a key and a one-byte value; a name, one dimension, a type
        // and an offset.
        let prefix = if self.wide_lengths { 8 } else { 4 };
        let least = metadata_count.saturating_mul(prefix + 4 + 1).saturating_add(tensor_count.saturating_mul(prefix + 4 + 8 + 4 + 8));
        if least > self.remaining() {
            return Err(self.malformed(format!(
                "its header declares {tensor_count} tensors and {metadata_count} metadata entries, which cannot fit in its {} bytes",
                self.file_len
            )));
        }
        let mut metadata = HashMap::new();
        for _ in 0..metadata_count {
            let key = self.string("a metadata key")?;
            let value_type = self.u32()?;
            let value = self.value(value_type, 0, &key)?;
            if metadata.insert(key.clone(), value).is_some() {
                return Err(self.malformed(format!("metadata '{key}' appears twice")));
            }
        }
        let mut tensors = Vec::new();
        for _ in 0..tensor_count {
            tensors.push(self.tensor_entry()?);
        }
        let alignment = self.alignment(&metadata)?;
        let data_offset = self.position.div_ceil(alignment).saturating_mul(alignment);
        let mut tensor_infos = HashMap::new();
        for (name, info) in tensors {
            self.check_extent(&name, &info, data_offset, alignment)?;
            if tensor_infos.insert(name.clone(), info).is_some() {
                return Err(self.malformed(format!("tensor '{name}' appears twice")));
            }
        }
        Ok(Content { magic, metadata, tensor_infos, tensor_data_offset: data_offset })
    }

    fn tensor_entry(&mut self) -> Result<(String, TensorInfo)> {
        let name = self.string("a tensor name")?;
        let rank = self.u32()?;
        if rank > MAX_DIMS {
            return Err(self.malformed(format!("tensor '{name}' has {rank} dimensions; GGUF allows at most {MAX_DIMS}")));
        }
        let mut dims = Vec::with_capacity(rank as usize);
        for _ in 0..rank {
            let d = self.length()?;
            dims.push(usize::try_from(d).map_err(|_| self.malformed(format!("tensor '{name}' has a dimension of {d}")))?);
        }
        // GGUF lists the fastest-varying dimension first; candle's shapes list it last.
        dims.reverse();
        let code = self.u32()?;
        let ggml_dtype = ggml_dtype(code).ok_or_else(|| self.malformed(format!("tensor '{name}' has an unknown type {code}")))?;
        let offset = self.u64()?;
        Ok((name, TensorInfo { ggml_dtype, shape: dims.into(), offset }))
    }

    /// `general.alignment`, which must be a power of two (ggml's rule; 0 would divide by zero).
    fn alignment(&self, metadata: &HashMap<String, Value>) -> Result<u64> {
        let Some(value) = metadata.get("general.alignment") else { return Ok(DEFAULT_ALIGNMENT) };
        let alignment = match *value {
            Value::U8(x) => Some(x as u64),
            Value::U16(x) => Some(x as u64),
            Value::U32(x) => Some(x as u64),
            Value::U64(x) => Some(x),
            Value::I8(x) => u64::try_from(x).ok(),
            Value::I16(x) => u64::try_from(x).ok(),
            Value::I32(x) => u64::try_from(x).ok(),
            Value::I64(x) => u64::try_from(x).ok(),
            _ => None,
        };
        match alignment {
            Some(a) if a.is_power_of_two() && a <= self.file_len.max(DEFAULT_ALIGNMENT) => Ok(a),
            _ => {
                let shown = alignment.map_or_else(|| format!("{value:?}"), |a| a.to_string());
                Err(invalid(format!(
                    "{}: metadata 'general.alignment' is {shown}; it must be a power of two no larger than the file (GGUF's default is {DEFAULT_ALIGNMENT})",
                    self.source
                )))
            }
        }
    }

    /// The tensor's bytes must lie inside the file, at an aligned offset.
    fn check_extent(&self, name: &str, info: &TensorInfo, data_offset: u64, alignment: u64) -> Result<()> {
        let dims = info.shape.dims();
        let Some(elements) = dims.iter().try_fold(1usize, |p, &d| p.checked_mul(d)) else {
            return Err(self.malformed(format!("tensor '{name}' has shape {dims:?}, more elements than memory can address")));
        };
        let (block, block_bytes) = (info.ggml_dtype.block_size(), info.ggml_dtype.type_size());
        if elements % block != 0 {
            return Err(self.malformed(format!("tensor '{name}' has shape {dims:?}, which is not a whole number of {:?} blocks of {block}", info.ggml_dtype)));
        }
        let bytes = (elements / block).checked_mul(block_bytes).and_then(|b| u64::try_from(b).ok());
        let end = bytes.and_then(|b| data_offset.checked_add(info.offset)?.checked_add(b));
        if info.offset % alignment != 0 || end.is_none_or(|end| end > self.file_len) {
            return Err(self.malformed(format!(
                "tensor '{name}' ({:?}, shape {dims:?}) at offset {} does not lie inside the file's {} bytes at a multiple of the alignment {alignment}; the file may be truncated",
                info.ggml_dtype, info.offset, self.file_len
            )));
        }
        Ok(())
    }

    fn value(&mut self, value_type: u32, depth: usize, key: &str) -> Result<Value> {
        Ok(match value_type {
            0 => Value::U8(self.array::<1>()?[0]),
            1 => Value::I8(self.array::<1>()?[0] as i8),
            2 => Value::U16(u16::from_le_bytes(self.array()?)),
            3 => Value::I16(i16::from_le_bytes(self.array()?)),
            4 => Value::U32(self.u32()?),
            5 => Value::I32(i32::from_le_bytes(self.array()?)),
            6 => Value::F32(f32::from_le_bytes(self.array()?)),
            7 => match self.array::<1>()?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(self.malformed(format!("metadata '{key}' holds the boolean byte {b}"))),
            },
            8 => Value::String(self.string(&format!("metadata '{key}'"))?),
            9 => self.array_value(depth, key)?,
            10 => Value::U64(self.u64()?),
            11 => Value::I64(i64::from_le_bytes(self.array()?)),
            12 => Value::F64(f64::from_le_bytes(self.array()?)),
            other => return Err(self.malformed(format!("metadata '{key}' has an unknown value type {other}"))),
        })
    }

    fn array_value(&mut self, depth: usize, key: &str) -> Result<Value> {
        if depth >= MAX_ARRAY_DEPTH {
            return Err(self.malformed(format!("metadata '{key}' nests arrays more than {MAX_ARRAY_DEPTH} deep")));
        }
        let item_type = self.u32()?;
        let len = self.length()?;
        let least_item_bytes = match item_type {
            0 | 1 | 7 => 1,
            2 | 3 => 2,
            4 | 5 | 6 => 4,
            10..=12 => 8,
            8 if self.wide_lengths => 8,
            8 => 4,
            _ => 4 + if self.wide_lengths { 8 } else { 4 },
        };
        if len.saturating_mul(least_item_bytes) > self.remaining() {
            return Err(self.malformed(format!("metadata '{key}' declares {len} elements, more than the rest of the file holds")));
        }
        self.elements = self.elements.saturating_add(len);
        if self.elements > MAX_METADATA_ELEMENTS {
            return Err(self.malformed(format!("its metadata arrays hold more than {MAX_METADATA_ELEMENTS} elements (at '{key}')")));
        }
        // Bounded by the checks above: at most the file's remaining bytes, and the total cap.
        let mut items = Vec::with_capacity(len as usize);
        for _ in 0..len {
            items.push(self.value(item_type, depth + 1, key)?);
        }
        Ok(Value::Array(items))
    }

    fn string(&mut self, what: &str) -> Result<String> {
        let len = self.length()?;
        let mut bytes = self.bytes(len, what)?;
        // GGUF strings are not NUL-terminated, but some writers add one.
        while bytes.last() == Some(&0) {
            bytes.pop();
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn length(&mut self) -> Result<u64> {
        if self.wide_lengths {
            self.u64()
        } else {
            self.u32().map(u64::from)
        }
    }

    fn u32(&mut self) -> Result<u32> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64> {
        self.array().map(u64::from_le_bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        self.read_into(&mut out, "a number")?;
        Ok(out)
    }

    /// `len` bytes, allocated only once the file is known to hold them.
    fn bytes(&mut self, len: u64, what: &str) -> Result<Vec<u8>> {
        if len > self.remaining() {
            return Err(self.malformed(format!("{what} of {len} bytes at offset {} runs past the end of the file ({} bytes)", self.position, self.file_len)));
        }
        let mut out = vec![0u8; len as usize];
        self.read_into(&mut out, what)?;
        Ok(out)
    }

    fn read_into(&mut self, out: &mut [u8], what: &str) -> Result<()> {
        if let Err(e) = self.reader.read_exact(out) {
            return Err(self.malformed(format!("cannot read {what} at offset {} ({e})", self.position)));
        }
        self.position += out.len() as u64;
        Ok(())
    }

    fn remaining(&self) -> u64 {
        self.file_len.saturating_sub(self.position)
    }

    fn malformed(&self, reason: String) -> CoreError {
        invalid(format!("{} is not a valid GGUF file ({reason}); it may be truncated or not a GGUF model", self.source))
    }
}

/// ggml's type codes of the tensor types candle reads.
fn ggml_dtype(code: u32) -> Option<GgmlDType> {
    Some(match code {
        0 => GgmlDType::F32,
        1 => GgmlDType::F16,
        2 => GgmlDType::Q4_0,
        3 => GgmlDType::Q4_1,
        6 => GgmlDType::Q5_0,
        7 => GgmlDType::Q5_1,
        8 => GgmlDType::Q8_0,
        9 => GgmlDType::Q8_1,
        10 => GgmlDType::Q2K,
        11 => GgmlDType::Q3K,
        12 => GgmlDType::Q4K,
        13 => GgmlDType::Q5K,
        14 => GgmlDType::Q6K,
        15 => GgmlDType::Q8K,
        30 => GgmlDType::BF16,
        _ => return None,
    })
}
