//! Loading (or, for development, generating) the server's keys. Nothing here logs a key.
//!
//! | key | production source | without one |
//! | --- | --- | --- |
//! | root key (wraps tenant keys) | `PHYLAX_ROOT_KEY`, `PHYLAX_ROOT_KEYS` (several, during a rotation) or `--root-key-file` | `root.key` generated in the data dir, with a loud warning at every start |
//! | audit key (HMAC of the chains) | `PHYLAX_AUDIT_KEY` | `audit.key` generated in the data dir |
//! | bundle signing key (Ed25519) | `PHYLAX_BUNDLE_SIGNING_KEY` | `bundle-signing.key` generated in the data dir |
//! | admin token | `PHYLAX_ADMIN_TOKEN` | generated on first start, printed once, only its SHA-256 stored |
//!
//! Generated files are created with mode 0600.

use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use phylax_core::audit::AuditKey;
use phylax_core::crypto::{RootKey, RootKeys, Secret32};
use phylax_core::policy::BundleSigningKey;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::store::Store;

/// A key that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {message}")]
pub struct KeyError {
    /// Which key.
    pub what: &'static str,
    /// What went wrong (never the key).
    pub message: String,
}

fn key_err(what: &'static str, e: impl std::fmt::Display) -> KeyError {
    KeyError {
        what,
        message: e.to_string(),
    }
}

/// Writes a new secret file readable by the owner only.
pub fn write_secret_file(path: &Path, text: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

fn read_secret_file(path: &Path) -> std::io::Result<Zeroizing<String>> {
    Ok(Zeroizing::new(
        std::fs::read_to_string(path)?.trim().to_owned(),
    ))
}

fn env_secret(name: &str) -> Option<Zeroizing<String>> {
    std::env::var(name)
        .ok()
        .map(|v| Zeroizing::new(v.trim().to_owned()))
        .filter(|v| !v.is_empty())
}

/// Reads a secret from env, else a file in the data dir, else generates that file.
fn env_or_file(
    env: &str,
    path: &Path,
    what: &'static str,
    generate: impl FnOnce() -> Result<Zeroizing<String>, KeyError>,
) -> Result<(Zeroizing<String>, bool), KeyError> {
    if let Some(v) = env_secret(env) {
        return Ok((v, false));
    }
    if path.exists() {
        return read_secret_file(path)
            .map(|v| (v, false))
            .map_err(|e| key_err(what, e));
    }
    let text = generate()?;
    write_secret_file(path, &text).map_err(|e| key_err(what, e))?;
    Ok((text, true))
}

/// The root keys, and whether the key is a generated development key.
///
/// `PHYLAX_ROOT_KEYS` (a comma-separated list, the current key first) holds several at
/// once during a root-key rotation; `PHYLAX_ROOT_KEY` or a key file (which may also
/// hold such a list) holds one.
pub fn root_keys(data_dir: &Path, file: Option<&Path>) -> Result<(RootKeys, bool), KeyError> {
    const WHAT: &str = "root key";
    if let Some(v) = env_secret("PHYLAX_ROOT_KEYS") {
        return Ok((
            RootKeys::parse_list(&v)
                .map_err(|e| key_err(WHAT, format!("PHYLAX_ROOT_KEYS: {e}")))?,
            false,
        ));
    }
    if let Some(v) = env_secret("PHYLAX_ROOT_KEY") {
        let key = RootKey::parse(&v).map_err(|e| key_err(WHAT, e))?;
        return Ok((RootKeys::single(key), false));
    }
    if let Some(path) = file {
        let text = read_secret_file(path)
            .map_err(|e| key_err(WHAT, format!("`{}`: {e}", path.display())))?;
        return Ok((
            RootKeys::parse_list(&text).map_err(|e| key_err(WHAT, e))?,
            false,
        ));
    }
    let (text, _) = env_or_file("PHYLAX_ROOT_KEY", &data_dir.join("root.key"), WHAT, || {
        random_key_text(WHAT)
    })?;
    let key = RootKey::parse(&text).map_err(|e| key_err(WHAT, e))?;
    Ok((RootKeys::single(key), true))
}

fn random_key_text(what: &'static str) -> Result<Zeroizing<String>, KeyError> {
    let secret = Secret32::random().map_err(|e| key_err(what, e))?;
    Ok(Zeroizing::new(secret.to_base64url()))
}

/// The audit key (`PHYLAX_AUDIT_KEY` or `audit.key` in the data dir).
pub fn audit_key(data_dir: &Path) -> Result<AuditKey, KeyError> {
    const WHAT: &str = "audit key";
    let (text, _) = env_or_file(
        "PHYLAX_AUDIT_KEY",
        &data_dir.join(AUDIT_KEY_FILE),
        WHAT,
        || random_key_text(WHAT),
    )?;
    AuditKey::parse(&text).map_err(|e| key_err(WHAT, e))
}

/// On a store shared by several nodes every node must hold the same keys, so none may be
/// generated per node: the root key must come from `PHYLAX_ROOT_KEY` or a key file, the
/// audit and bundle signing keys from their variables or files already in the data dir.
/// Names what is missing.
pub fn require_shared_keys(data_dir: &Path, root_key_file: Option<&Path>) -> Result<(), String> {
    let mut missing = Vec::new();
    if env_secret("PHYLAX_ROOT_KEY").is_none()
        && env_secret("PHYLAX_ROOT_KEYS").is_none()
        && root_key_file.is_none()
    {
        missing.push("PHYLAX_ROOT_KEY or PHYLAX_ROOT_KEYS (or --root-key-file)".to_owned());
    }
    for (env, file) in [
        ("PHYLAX_AUDIT_KEY", AUDIT_KEY_FILE),
        ("PHYLAX_BUNDLE_SIGNING_KEY", "bundle-signing.key"),
    ] {
        if env_secret(env).is_none() && !data_dir.join(file).exists() {
            missing.push(format!("{env} (or {file} in the data dir)"));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "a PostgreSQL store is shared by every node, so every node needs the same keys and none is generated; set {}",
        missing.join(", ")
    ))
}

/// File name of the generated audit key in the data dir.
pub const AUDIT_KEY_FILE: &str = "audit.key";

/// The bundle signing key.
pub fn signing_key(data_dir: &Path) -> Result<BundleSigningKey, KeyError> {
    const WHAT: &str = "bundle signing key";
    let (text, _) = env_or_file(
        "PHYLAX_BUNDLE_SIGNING_KEY",
        &data_dir.join("bundle-signing.key"),
        WHAT,
        || {
            let key = BundleSigningKey::generate().map_err(|e| key_err(WHAT, e))?;
            Ok(Zeroizing::new(key.to_secret_string().to_string()))
        },
    )?;
    BundleSigningKey::parse(&text).map_err(|e| key_err(WHAT, e))
}

/// SHA-256 of a token.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

const ADMIN_HASH_SETTING: &str = "admin_token_sha256";

/// The admin token's hash: from `PHYLAX_ADMIN_TOKEN`, else the stored hash, else a new
/// token, printed once to stderr (never logged) and stored as its hash.
pub fn admin_token_hash(store: &dyn Store) -> Result<[u8; 32], KeyError> {
    const WHAT: &str = "admin token";
    if let Some(token) = env_secret("PHYLAX_ADMIN_TOKEN") {
        if token.len() < 16 {
            return Err(key_err(
                WHAT,
                "PHYLAX_ADMIN_TOKEN must be at least 16 characters",
            ));
        }
        return Ok(token_hash(&token));
    }
    if let Some(hex_hash) = store
        .setting(ADMIN_HASH_SETTING)
        .map_err(|e| key_err(WHAT, e))?
    {
        let bytes = hex::decode(hex_hash).map_err(|e| key_err(WHAT, e))?;
        return <[u8; 32]>::try_from(bytes.as_slice()).map_err(|e| key_err(WHAT, e));
    }
    let mut raw = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(raw.as_mut()).map_err(|e| key_err(WHAT, e))?;
    let token = Zeroizing::new(format!("phxadm_{}", URL_SAFE_NO_PAD.encode(raw.as_ref())));
    let hash = token_hash(&token);
    store
        .put_setting(ADMIN_HASH_SETTING, &hex::encode(hash))
        .map_err(|e| key_err(WHAT, e))?;
    eprintln!(
        "\n=== phylax: generated the platform admin token (shown only this once; only its hash is stored) ===\n{}\n",
        token.as_str()
    );
    Ok(hash)
}
