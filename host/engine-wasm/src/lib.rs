#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod error;
#[cfg(feature = "insecure-fixed-random")]
mod fixed_random;
mod instance;
mod keyring;
mod locate;
mod policy;

pub use error::Error;
#[cfg(feature = "insecure-fixed-random")]
#[doc(hidden)]
pub use fixed_random::InsecureRandomQueue;
pub use instance::WasmRuntime;
pub use keyring::WasmKeyring;
pub use locate::{component_path, COMPONENT_ENV};
pub use policy::WasmEngine;
