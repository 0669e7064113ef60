//! The `phylax` command line: `serve` and the operator commands.

pub mod audit;
pub mod bundle;
pub mod check;
pub mod keys;
pub mod rewrap;
pub mod store;
pub mod tenants;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use phylax_core::crypto::{RootKey, RootKeys};
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat, ServeArgs};

/// Phylax: policy and crypto service for multi-tenant apps holding sensitive data.
#[derive(Debug, Parser)]
#[command(name = "phylax", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve(Box<ServeArgs>),
    /// Build, sign and verify policy bundles.
    #[command(subcommand)]
    Bundle(bundle::BundleCommand),
    /// Generate keys, rotate the root key.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Re-encrypt an exported JSON Lines file of records to the active key version.
    Rewrap(rewrap::RewrapArgs),
    /// Audit chain tools.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Validate policies against the schema, with file:line:column diagnostics.
    Check(check::CheckArgs),
    /// Store tools: copy an installation between SQLite and PostgreSQL.
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Tenant lifecycle: list, offboard, cancel-offboarding, shred, export, decrypt.
    #[command(subcommand)]
    Tenants(tenants::TenantsCommand),
}

/// Runs the CLI.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(&args),
        Command::Bundle(c) => bundle::run(c),
        Command::Keys(c) => keys::run(&c),
        Command::Rewrap(a) => rewrap::run(&a),
        Command::Audit(c) => audit::run(&c),
        Command::Check(a) => check::run(&a),
        Command::Store(c) => store::run(&c),
        Command::Tenants(c) => tenants::run(&c),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: &ServeArgs) -> Result<ExitCode, String> {
    let config = Config::resolve(args).map_err(|e| e.to_string())?;
    init_logging(config.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    match runtime.block_on(crate::server::serve(config)) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(message) if message.starts_with(crate::server::STORE_UNREACHABLE) => {
            eprintln!("error: {message}");
            Ok(ExitCode::from(crate::server::EXIT_STORE_UNREACHABLE))
        }
        Err(message) => Err(message),
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Reads a text file.
pub(crate) fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("`{}`: {e}", path.display()))
}

/// Writes to a file, or stdout when `path` is `None`.
pub(crate) fn write_out(path: Option<&PathBuf>, text: &str) -> Result<(), String> {
    match path {
        Some(p) => {
            std::fs::write(p, format!("{text}\n")).map_err(|e| format!("`{}`: {e}", p.display()))
        }
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

/// The root keys from `PHYLAX_ROOT_KEYS`, `PHYLAX_ROOT_KEY`, a key file, or the dev key
/// already in a data dir (never generated here).
pub(crate) fn existing_root_keys(
    file: Option<&Path>,
    data_dir: Option<&Path>,
) -> Result<RootKeys, String> {
    if let Ok(v) = std::env::var("PHYLAX_ROOT_KEYS") {
        return RootKeys::parse_list(v.trim()).map_err(|e| format!("PHYLAX_ROOT_KEYS: {e}"));
    }
    if let Ok(v) = std::env::var("PHYLAX_ROOT_KEY") {
        return RootKey::parse(v.trim())
            .map(RootKeys::single)
            .map_err(|e| format!("PHYLAX_ROOT_KEY: {e}"));
    }
    let path = match (file, data_dir) {
        (Some(f), _) => f.to_path_buf(),
        (None, Some(d)) => d.join("root.key"),
        (None, None) => return Err(
            "give the root key: PHYLAX_ROOT_KEYS, PHYLAX_ROOT_KEY, --root-key-file or --data-dir"
                .to_owned(),
        ),
    };
    let text = zeroize::Zeroizing::new(read(&path)?);
    RootKeys::parse_list(text.trim()).map_err(|e| format!("`{}`: {e}", path.display()))
}

/// The bundle signing key a server already has (never generated here).
pub(crate) fn existing_signing_key(
    data_dir: Option<&Path>,
) -> Result<phylax_core::policy::BundleSigningKey, String> {
    if let Ok(v) = std::env::var("PHYLAX_BUNDLE_SIGNING_KEY") {
        return phylax_core::policy::BundleSigningKey::parse(v.trim())
            .map_err(|e| format!("PHYLAX_BUNDLE_SIGNING_KEY: {e}"));
    }
    let dir = data_dir.ok_or("give PHYLAX_BUNDLE_SIGNING_KEY or --data-dir")?;
    let text = zeroize::Zeroizing::new(read(&dir.join("bundle-signing.key"))?);
    phylax_core::policy::BundleSigningKey::parse(text.trim()).map_err(|e| e.to_string())
}
