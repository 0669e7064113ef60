//! What every error in Phylax can say about itself.
//!
//! Each module has its own error enum (`thiserror`), documented per variant. They all
//! implement [`Diagnostic`], so every transport (JS, wasm component, HTTP) can turn any
//! of them into the same `{code, message, hint}` triple without knowing the module.
//! Codes are stable API: clients match on them, so never rename one.

/// A stable machine code and a hint on how to fix the problem, beside the message.
pub trait Diagnostic: std::error::Error {
    /// Stable, lowercase, dot-separated code, e.g. `crypto.decrypt_failed`.
    fn code(&self) -> &'static str;
    /// One sentence telling the caller what to do about it.
    fn hint(&self) -> &'static str;
}
