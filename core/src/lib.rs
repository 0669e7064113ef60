#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod audit;
pub mod calls;
pub mod crypto;
pub mod error;
pub mod identity;
pub mod limits;
#[cfg(feature = "policy")]
pub mod policy;
#[cfg(feature = "policy")]
mod stack;
pub mod webhook;

pub use calls::{Answer, ErrorBody};
pub use error::Diagnostic;

/// The repository README's Rust quickstart, compiled and run by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
