//! `phylax`: the server and the operator CLI.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    phylax_host::cli::main()
}
