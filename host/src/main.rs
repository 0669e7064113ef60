//! `phylax`: the server and the operator CLI.
#![forbid(unsafe_code)]

/// mimalloc as the process allocator (see host/Cargo.toml for why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    phylax_host::cli::main()
}
