//! The one error type of this crate.

/// What can go wrong running the component.
///
/// A call that the core answers, even with `{"error": ...}`, is not an [`Error`]: those
/// answers come back as `Ok(text)`, exactly as the native JSON calls return them. Only a
/// constructor's refusal ([`Error::Rejected`]) and failures of the runtime itself are.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The component file could not be read. Build it first
    /// (`cargo build -p phylax-component --target wasm32-wasip2 --release`) or point
    /// `PHYLAX_COMPONENT_WASM` at it.
    #[error("could not read the component `{path}`: {source}")]
    Read {
        /// The path tried.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a loadable component, or it does not export the `phylax` world
    /// of `wasm/wit/phylax.wit` (built from another version of the WIT?).
    #[error("could not load the component: {0:#}")]
    Load(wasmtime::Error),
    /// The core refused to make a handle (bad spec, bad bundle signature, bad root key
    /// ...). The text is the core's error answer, `{"error":{"code","message","hint"}}`,
    /// byte for byte what the native `*_json` constructor returns.
    #[error("{0}")]
    Rejected(String),
    /// The instance trapped or the runtime failed a call. This is a bug in the component
    /// (it must answer bad input with an error answer); the instance is discarded and an
    /// engine rebuilds it on its next call.
    #[error("the component failed: {0:#}")]
    Trap(wasmtime::Error),
    /// A keyring whose instance trapped holds no keys any more: open it again from its
    /// last stored state.
    #[error(
        "this keyring's instance failed earlier; open the keyring again from its stored state"
    )]
    KeyringLost,
}
