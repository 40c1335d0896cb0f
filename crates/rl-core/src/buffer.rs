//! Output buffers for kernels that return fresh arrays.
//!
//! Writing to freshly mapped memory costs one page fault per 4 KiB page, which on
//! virtual machines can take longer than the kernel's own work. Large buffers ask the OS
//! for transparent huge pages first, so one fault maps 2 MiB.

/// Buffers at least this large ask for huge pages.
const HUGE_PAGE_MIN_BYTES: usize = 4 << 20;

pub fn zeroed_f32(len: usize) -> Vec<f32> {
    let mut buffer = Vec::<f32>::with_capacity(len);
    advise_huge_pages(buffer.as_mut_ptr() as *mut u8, len * std::mem::size_of::<f32>());
    buffer.resize(len, 0.0);
    buffer
}

#[cfg(target_os = "linux")]
fn advise_huge_pages(ptr: *mut u8, bytes: usize) {
    if bytes < HUGE_PAGE_MIN_BYTES {
        return;
    }
    const PAGE: usize = 4096;
    let start = (ptr as usize).div_ceil(PAGE) * PAGE;
    let end = (ptr as usize + bytes) / PAGE * PAGE;
    if end > start {
        // Advice only: if the kernel declines, the buffer simply uses normal pages.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_ptr: *mut u8, _bytes: usize) {}
