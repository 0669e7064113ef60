//! `phylax-core` as a WebAssembly component: the world `phylax:core/phylax` of
//! `wasm/wit/phylax.wit`, for wasmtime and other component hosts (DESIGN.md §2).
//!
//! Thin by design: each export hands its JSON text to the core's JSON call and returns
//! the core's answer text unchanged, so a host running this component gets byte for byte
//! the answers of the native core. Handles (`engine`, `keyring`, `root-key`, `audit-key`) are
//! resources that keep the parsed state in component memory; a call converts only its
//! own request. Errors come back as `{"error": {...}}` text or as `err(text)` from a
//! constructor; nothing here panics, so bad input never traps the instance.
//!
//! Build (wasm32-wasip2 links a component directly):
//!
//! ```text
//! cargo build -p phylax-component --target wasm32-wasip2 --release
//! # → $CARGO_TARGET_DIR/wasm32-wasip2/release/phylax_component.wasm
//! ```
//!
//! Randomness (keyring creation and rotation, AES-GCM nonces) comes from `getrandom`
//! 0.2, whose WASI backend calls preview-1 `random_get`; the wasip2 linker's built-in
//! preview-1 adapter turns that into `wasi:random/random.get-random-bytes`, which the
//! host provides.

mod audit;
mod crypto;
mod identity;
mod policy;

/// The generated canonical-ABI glue. The only place in this crate that uses `unsafe`.
#[allow(
    unsafe_code,
    reason = "wit-bindgen's generated lifting/lowering and export shims are unsafe by nature"
)]
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_debug_implementations,
    reason = "generated code"
)]
mod bindings {
    wit_bindgen::generate!({
        world: "phylax",
        path: "../wit",
    });

    use super::Component;
    export!(Component);
}

/// The component: implements every exported interface.
#[derive(Debug)]
struct Component;

/// The error answer text of any core error: `{"error":{"code","message","hint"}}`.
fn error_text(err: &impl phylax_core::Diagnostic) -> String {
    phylax_core::Answer::<()>::Error(phylax_core::ErrorBody::from_diagnostic(err)).to_json()
}

/// A value that is not an answer (a verdict, an info record) as JSON text. Serializing
/// Phylax's own types cannot fail; if it ever did, the caller still gets an error answer.
fn plain_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|err| {
        phylax_core::Answer::<()>::Error(phylax_core::ErrorBody {
            code: "internal.serialize".to_owned(),
            message: format!("could not serialize the answer: {err}"),
            hint: "report this as a bug".to_owned(),
        })
        .to_json()
    })
}
