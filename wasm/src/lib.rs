//! wasm-bindgen bindings of `phylax-core` for the npm package `phylax`.
//!
//! Thin by design: each method converts its arguments, calls the core, and converts the
//! answer. Stateful handles (`Keyring`, `Engine`, ...) keep parsed state in WASM memory
//! so a call only converts its own request. Errors cross as `{code, message, hint}`.

mod audit;
mod convert;
#[cfg(feature = "policy")]
mod engine;
mod identity;
mod keyring;

pub use audit::AuditChain;
#[cfg(feature = "policy")]
pub use engine::Engine;
pub use identity::TokenVerifier;
pub use keyring::{Keyring, RootKey};

/// On instantiation: the platform's Unicode NFKC for casefold blind indexes (the module
/// is built without unicode-normalization's tables; see `crypto::blind_index`).
#[wasm_bindgen::prelude::wasm_bindgen(start)]
fn start() {
    phylax_core::crypto::blind_index::set_platform_nfkc(platform_nfkc);
}

fn platform_nfkc(value: &str) -> Option<String> {
    js_sys::JsString::from(value).normalize("NFKC").as_string()
}
