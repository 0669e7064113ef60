#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod error;
mod instance;
mod keyring;
mod locate;
mod policy;

pub use error::Error;
pub use instance::WasmRuntime;
pub use keyring::WasmKeyring;
pub use locate::{component_path, COMPONENT_ENV};
pub use policy::WasmEngine;
