//! wasm-bindgen bindings of `phylax-core` for the npm package `phylax`.
//!
//! Thin by design: each method converts its arguments, calls the core, and converts the
//! answer. Stateful handles (`Keyring`, `Engine`, ...) keep parsed state in WASM memory
//! so a call only converts its own request. Errors cross as `{code, message, hint}`.

mod audit;
mod convert;
mod engine;
mod identity;
mod keyring;

pub use audit::AuditChain;
pub use engine::Engine;
pub use identity::TokenVerifier;
pub use keyring::{Keyring, RootKey};
