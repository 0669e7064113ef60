//! Shared by the test files that read `core/tests/data`.

/// The package directory, read at run time (`cargo test` sets it) so that a test binary
/// reused from another checkout's build cache reads this checkout's data.
pub fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned())
}
