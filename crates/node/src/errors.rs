//! Core errors cross to JavaScript as `"[CODE] message"`; `src/native.ts` turns the
//! prefix back into `error.code`.

use rl_core::CoreError;

pub fn to_napi(err: CoreError) -> napi::Error {
    napi::Error::new(napi::Status::InvalidArg, format!("[{}] {}", err.code.as_str(), err.message))
}

/// Panics on purpose, so the tests can check that panics reach JavaScript as errors.
#[napi_derive::napi(catch_unwind, js_name = "__panicForTests")]
pub fn panic_for_tests() -> napi::Result<()> {
    panic!("deliberate panic raised by __panicForTests");
}
