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

/// Runs `work`, turning core errors into coded JS errors and a panic into a
/// `GenericFailure` error (which JavaScript reports as ERR_NATIVE_PANIC). For async task
/// bodies: napi does not catch panics there, and one would abort Node.
pub fn guarded<T>(work: impl FnOnce() -> rl_core::error::Result<T>) -> napi::Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
        Ok(result) => result.map_err(to_napi),
        Err(panic) => {
            let what = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
            Err(napi::Error::new(napi::Status::GenericFailure, what.unwrap_or_else(|| "unknown panic".into())))
        }
    }
}

pub struct PanicTask;

impl napi::Task for PanicTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<()> {
        guarded(|| panic!("deliberate panic raised inside an async task"))
    }

    fn resolve(&mut self, _env: napi::Env, _output: ()) -> napi::Result<()> {
        Ok(())
    }
}

/// Panics inside an async task, so the tests can check that the promise rejects.
#[napi_derive::napi(js_name = "__panicInTaskForTests", ts_return_type = "Promise<void>")]
pub fn panic_in_task_for_tests() -> napi::bindgen_prelude::AsyncTask<PanicTask> {
    napi::bindgen_prelude::AsyncTask::new(PanicTask)
}
