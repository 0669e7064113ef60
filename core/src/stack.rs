//! Room on the stack for Cedar's recursion, natively.
//!
//! [`crate::limits`] bounds how deep Cedar can recurse on any input, but the stack that
//! bound needs depends on the build: a debug build of Cedar's parser takes several times
//! the stack of a release build per nesting level, and callers run on threads of any
//! size (tokio's are 2 MiB). So the entry points that hand caller input to Cedar run
//! through [`deep`]: when the current thread has less than the red zone left, the work
//! continues on a fresh stack (`stacker`, the crate Cedar itself uses to check its
//! evaluator's stack) on the same thread. On WebAssembly the stack cannot be measured;
//! there the limits alone keep recursion within the module's stack.

/// Stack the engine build (parsing, validation) may use on the largest accepted input.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) const BUILD_RED_ZONE: usize = 8 * 1024 * 1024;
/// Stack a decision (entity parsing, evaluation) may use on the largest accepted input.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) const DECISION_RED_ZONE: usize = 1024 * 1024;

/// The size of a fresh stack (mapped lazily: only pages touched cost memory).
#[cfg(not(target_arch = "wasm32"))]
const GROWN_STACK: usize = 16 * 1024 * 1024;

/// Runs `f` with at least `red_zone` bytes of stack.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn deep<R>(red_zone: usize, f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(red_zone, GROWN_STACK, f)
}

/// Runs `f` (on WebAssembly, where the limits alone bound the stack).
#[cfg(target_arch = "wasm32")]
pub(crate) fn deep<R>(_red_zone: usize, f: impl FnOnce() -> R) -> R {
    f()
}

/// Stack for an engine build.
#[cfg(target_arch = "wasm32")]
pub(crate) const BUILD_RED_ZONE: usize = 0;
/// Stack for a decision.
#[cfg(target_arch = "wasm32")]
pub(crate) const DECISION_RED_ZONE: usize = 0;
