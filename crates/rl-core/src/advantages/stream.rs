//! Writing large outputs with streaming (non-temporal) stores.
//!
//! At millions of elements a kernel's output does not fit in cache and is not read back
//! soon. Ordinary stores first read each destination line (read-for-ownership), so a kernel
//! that reads two arrays and writes two moves 24 bytes per element instead of 16: measured
//! at 16M elements, a plain two-array copy loop reached about half of memmove's bandwidth,
//! and about 0.9 of it with streaming stores, which write lines without reading them
//! (memmove uses them too for large copies). Kernels compute a block in cache, then stream
//! it out.

/// Outputs of at least this many bytes are streamed; smaller ones stay in cache, where the
/// caller will likely read them next.
const STREAM_MIN_BYTES: usize = 4 << 20;

/// Elements computed in cache before being streamed out.
pub(crate) const STREAM_CHUNK: usize = 1024;

/// Whether an output of `len` f32 is large enough to stream.
pub(crate) fn should_stream(len: usize) -> bool {
    len.saturating_mul(4) >= STREAM_MIN_BYTES
}

/// Copies `src` to `dst` with streaming stores, and fences them: they are weakly ordered,
/// and the output is read next by another thread or by JavaScript.
#[cfg(target_arch = "x86_64")]
pub(crate) fn stream_copy(src: &[f32], dst: &mut [f32]) {
    use std::arch::x86_64::{_mm_loadu_ps, _mm_sfence, _mm_stream_ps};
    assert_eq!(src.len(), dst.len(), "stream_copy needs equal lengths");
    // Ordinary stores up to dst's first 16-byte boundary and for the last < 4 elements.
    let head = dst.as_ptr().align_offset(16).min(dst.len());
    let body_end = head + (dst.len() - head) / 4 * 4;
    dst[..head].copy_from_slice(&src[..head]);
    for i in (head..body_end).step_by(4) {
        // SAFETY: SSE is part of x86_64. i + 4 <= body_end <= len bounds both accesses;
        // dst + i is 16-byte aligned (dst + head is, and i - head is a multiple of 4);
        // the load from src is unaligned.
        unsafe { _mm_stream_ps(dst.as_mut_ptr().add(i), _mm_loadu_ps(src.as_ptr().add(i))) };
    }
    dst[body_end..].copy_from_slice(&src[body_end..]);
    // SAFETY: SSE is part of x86_64.
    unsafe { _mm_sfence() };
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn stream_copy(src: &[f32], dst: &mut [f32]) {
    dst.copy_from_slice(src);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_copy_writes_every_element_at_every_alignment() {
        let src: Vec<f32> = (0..41).map(|i| i as f32 * 0.5 - 3.0).collect();
        for start in 0..5 {
            for len in [0, 1, 3, 4, 5, 17, 36] {
                let mut dst = vec![f32::NAN; 41 + 8];
                stream_copy(&src[..len], &mut dst[start..start + len]);
                assert_eq!(&dst[start..start + len], &src[..len], "start {start}, len {len}");
                assert!(dst[..start].iter().chain(&dst[start + len..]).all(|x| x.is_nan()), "wrote outside: start {start}, len {len}");
            }
        }
    }
}
