//! `phylax keys generate`: new root, audit or bundle-signing keys.

use std::path::PathBuf;
use std::process::ExitCode;

use phylax_core::crypto::Secret32;
use phylax_core::policy::calls::generate_signing_key;

/// Key commands.
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Generate a key. Writes it to `--out` (created with mode 0600) or prints it.
    Generate {
        /// Which key.
        #[arg(long, value_enum, default_value = "root")]
        kind: Kind,
        /// File to create (must not exist).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Kinds of key.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Kind {
    /// 32 random bytes for `PHYLAX_ROOT_KEY` (base64url).
    Root,
    /// 32 random bytes for `PHYLAX_AUDIT_KEY` (base64url).
    Audit,
    /// An Ed25519 bundle signing key pair (JSON: secretKey, publicKey).
    Signing,
}

/// Runs a keys command.
pub fn run(cmd: &KeysCommand) -> Result<ExitCode, String> {
    let KeysCommand::Generate { kind, out } = cmd;
    let text = zeroize::Zeroizing::new(match kind {
        Kind::Root | Kind::Audit => Secret32::random()
            .map_err(|e| e.to_string())?
            .to_base64url(),
        Kind::Signing => {
            let pair = generate_signing_key().map_err(|e| e.to_string())?;
            serde_json::to_string_pretty(&pair).map_err(|e| e.to_string())?
        }
    });
    match out {
        Some(path) => {
            crate::secrets::write_secret_file(path, &text)
                .map_err(|e| format!("`{}`: {e}", path.display()))?;
            eprintln!("wrote {} (mode 0600)", path.display());
        }
        None => println!("{}", text.as_str()),
    }
    Ok(ExitCode::SUCCESS)
}
