//! `phylax keys generate`: new root, audit, bundle-signing or export-recipient keys;
//! `phylax keys rotate-root`: every live tenant's keyring re-wrapped under the current
//! root key, so the older ones (and every backup wrapped under them) can be discarded.

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
    /// Re-wrap every live tenant's keyring under the current root key: the first of
    /// `PHYLAX_ROOT_KEYS` (the others are the keys being retired). Resumable: keyrings
    /// already under the current key are skipped. Prints which root keys are still in
    /// use; once only the current one is, discard the others.
    RotateRoot {
        /// The server's data dir (its SQLite store).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The server's store, when not SQLite in the data dir.
        #[arg(long, env = "PHYLAX_STORE", hide_env_values = true, value_parser = crate::config::StoreUrl::parse)]
        store: Option<crate::config::StoreUrl>,
        /// File holding the root keys (comma-separated, current first), instead of
        /// `PHYLAX_ROOT_KEYS`.
        #[arg(long)]
        root_key_file: Option<PathBuf>,
        /// Only report which root keys the keyrings use.
        #[arg(long)]
        check: bool,
    },
    /// The public id of each root key in `PHYLAX_ROOT_KEYS`/`PHYLAX_ROOT_KEY` (or a
    /// file): what keyrings record and `rotate-root` reports.
    Id {
        /// File holding the key(s).
        #[arg(long)]
        root_key_file: Option<PathBuf>,
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
    /// An X25519 key pair a tenant keeps to receive its keys in an export (JSON:
    /// secretKey, publicKey); give the public key to `tenants export --recipient-key`.
    ExportRecipient,
}

/// Runs a keys command.
pub fn run(cmd: &KeysCommand) -> Result<ExitCode, String> {
    let (kind, out) = match cmd {
        KeysCommand::Generate { kind, out } => (kind, out),
        KeysCommand::RotateRoot {
            data_dir,
            store,
            root_key_file,
            check,
        } => {
            return rotate_root(
                data_dir.as_deref(),
                store.as_ref(),
                root_key_file.as_deref(),
                *check,
            )
        }
        KeysCommand::Id { root_key_file } => {
            let roots = super::existing_root_keys(root_key_file.as_deref(), None)?;
            for (i, id) in roots.ids().iter().enumerate() {
                println!("{id}{}", if i == 0 { " (current)" } else { "" });
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    let text = zeroize::Zeroizing::new(match kind {
        Kind::Root | Kind::Audit => Secret32::random()
            .map_err(|e| e.to_string())?
            .to_base64url(),
        Kind::Signing => {
            let pair = generate_signing_key().map_err(|e| e.to_string())?;
            serde_json::to_string_pretty(&pair).map_err(|e| e.to_string())?
        }
        Kind::ExportRecipient => {
            let (secret, public) = crate::export::generate_recipient();
            format!(
                "{{\n  \"secretKey\": \"{}\",\n  \"publicKey\": \"{public}\"\n}}",
                secret.as_str()
            )
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

fn rotate_root(
    data_dir: Option<&std::path::Path>,
    store: Option<&crate::config::StoreUrl>,
    root_key_file: Option<&std::path::Path>,
    check: bool,
) -> Result<ExitCode, String> {
    use phylax_core::crypto::Keyring;
    let roots = super::existing_root_keys(root_key_file, data_dir)?;
    let dir = data_dir.map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf);
    if store.is_none() && data_dir.is_none() {
        return Err("give --data-dir or --store (PHYLAX_STORE)".to_owned());
    }
    let s = crate::store::open(store.map(crate::config::StoreUrl::expose), &dir, 2)
        .map_err(|e| e.to_string())?;
    let current = roots.current().id().to_owned();
    let tenants = s.tenants().map_err(|e| e.to_string())?;
    let bar = indicatif::ProgressBar::new(tenants.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} tenants {per_sec} eta {eta}")
            .map_err(|e| e.to_string())?,
    );
    let (mut rewrapped, mut already, mut shredded) = (0u64, 0u64, 0u64);
    let mut in_use: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for row in &tenants {
        bar.inc(1);
        let mut keyring_json = row.keyring.clone();
        loop {
            let state: phylax_core::crypto::KeyringState = serde_json::from_str(&keyring_json)
                .map_err(|e| format!("tenant `{}`: {e}", row.id))?;
            if state.destroyed_at.is_some() {
                shredded += 1;
                break;
            }
            let id = state
                .root_key_id
                .clone()
                .unwrap_or_else(|| "(unnamed)".to_owned());
            if id == current {
                already += 1;
                *in_use.entry(id).or_default() += 1;
                break;
            }
            if check {
                *in_use.entry(id).or_default() += 1;
                break;
            }
            let keyring = Keyring::open_json_with(&keyring_json, &roots)
                .map_err(|e| format!("tenant `{}`: {e}", row.id))?;
            let new = keyring
                .rewrapped_under(roots.current())
                .map_err(|e| format!("tenant `{}`: {e}", row.id))?;
            let new_json = serde_json::to_string(&new).map_err(|e| e.to_string())?;
            // Written only over the keyring it was made from: a rotation or shred that
            // landed meanwhile is read again (a shredded tenant is never brought back).
            if s.update_keyring(&row.id, &keyring_json, &new_json)
                .map_err(|e| e.to_string())?
            {
                rewrapped += 1;
                *in_use.entry(current.clone()).or_default() += 1;
                break;
            }
            keyring_json = s
                .tenant(&row.id)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("tenant `{}` vanished", row.id))?
                .keyring;
        }
    }
    bar.finish_and_clear();
    if !check {
        eprintln!(
            "re-wrapped {rewrapped} keyring(s) under root key {current}; {already} already were; {shredded} shredded (nothing to wrap)"
        );
    }
    let users: Vec<String> = in_use.iter().map(|(id, n)| format!("{id}: {n}")).collect();
    println!(
        "root keys in use by live keyrings: {}",
        if users.is_empty() {
            "none".to_owned()
        } else {
            users.join(", ")
        }
    );
    if in_use.keys().all(|id| *id == current) {
        println!("only the current root key {current} is in use: the others can be discarded");
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "older root keys are still in use: keep them until `phylax keys rotate-root` has run"
        );
        Ok(if check {
            ExitCode::from(3)
        } else {
            ExitCode::FAILURE
        })
    }
}
