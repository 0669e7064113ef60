//! `phylax tenants`: the tenant lifecycle from the operator's shell, on the store
//! itself (every node sees the change within its propagation bound): list, offboard,
//! cancel-offboarding, shred, export, and `decrypt` for a departing tenant holding an
//! export with sealed keys.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use phylax_core::audit::AuditEvent;

use crate::config::StoreUrl;
use crate::lifecycle::{self, ShredWhen};
use crate::routes::tenants::info;
use crate::state::now;
use crate::store::Store;

/// Where the store is.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// The server's data dir (its SQLite store and generated keys).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The server's store, when it is not SQLite in the data dir: `postgres://...` or
    /// `sqlite:PATH`.
    #[arg(long, env = "PHYLAX_STORE", hide_env_values = true, value_parser = StoreUrl::parse)]
    pub store: Option<StoreUrl>,
    /// File holding the audit key (else `PHYLAX_AUDIT_KEY` or the data dir's).
    #[arg(long)]
    pub audit_key_file: Option<PathBuf>,
}

impl StoreArgs {
    /// Opens the store.
    pub fn open(&self) -> Result<Arc<dyn Store>, String> {
        let dir = self.data_dir.clone().unwrap_or_else(|| PathBuf::from("."));
        match (&self.store, &self.data_dir) {
            (None, None) => Err("give --data-dir or --store (PHYLAX_STORE)".to_owned()),
            (url, _) => crate::store::open(url.as_ref().map(StoreUrl::expose), &dir, 2)
                .map_err(|e| e.to_string()),
        }
    }
}

/// Tenant commands.
#[derive(Debug, clap::Subcommand)]
pub enum TenantsCommand {
    /// Every tenant with its state and settings (JSON).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Start offboarding: the export window opens; writes are refused; when it ends the
    /// server shreds the tenant.
    Offboard {
        /// The tenant.
        tenant: String,
        /// The window in days [default: the tenant's `exportWindowDays`, 90].
        #[arg(long)]
        export_window_days: Option<u32>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Cancel offboarding during the window: the tenant is active again.
    CancelOffboarding {
        /// The tenant.
        tenant: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Destroy the tenant's keys now (crypto-shredding). An active tenant needs
    /// `--confirm`: it skips the export window.
    Shred {
        /// The tenant.
        tenant: String,
        /// Shred an active tenant (no export window).
        #[arg(long)]
        confirm: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Write the tenant's export archive (verify it with `phylax audit verify --export`).
    Export {
        /// The tenant.
        tenant: String,
        /// The tenant's X25519 public key (base64url): its keys are sealed into the
        /// archive with HPKE. Without it no key material is included.
        #[arg(long)]
        recipient_key: Option<String>,
        /// Output file [default: stdout].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Root key file (else `PHYLAX_ROOT_KEYS`/`PHYLAX_ROOT_KEY` or the data dir's);
        /// needed only with `--recipient-key`.
        #[arg(long)]
        root_key_file: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Decrypt one of the tenant's field ciphertexts with the keys sealed in an export,
    /// opened with the tenant's X25519 secret key (for a departed tenant).
    Decrypt {
        /// The export archive.
        #[arg(long)]
        export: PathBuf,
        /// File holding the X25519 secret key (base64url).
        #[arg(long)]
        recipient_key_file: PathBuf,
        /// The field path it was encrypted under.
        #[arg(long)]
        field: String,
        /// The record id it was encrypted under.
        #[arg(long)]
        record_id: String,
        /// The ciphertext (`phx1.`...).
        ciphertext: String,
    },
}

fn operator_event(tenant: &str, operation: &str) -> AuditEvent {
    lifecycle::system_event(tenant, operation, "operator-cli", now())
}

fn print_row(row: &crate::store::TenantRow) -> Result<(), String> {
    let info = info(row).map_err(|e| e.body.message)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&info).map_err(|e| e.to_string())?
    );
    Ok(())
}

/// Runs a tenants command.
pub fn run(cmd: &TenantsCommand) -> Result<ExitCode, String> {
    let err = |e: crate::error::ApiError| format!("[{}] {}", e.body.code, e.body.message);
    match cmd {
        TenantsCommand::List { store } => {
            let s = store.open()?;
            let infos = s
                .tenants()
                .map_err(|e| e.to_string())?
                .iter()
                .map(info)
                .collect::<Result<Vec<_>, _>>()
                .map_err(err)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&infos).map_err(|e| e.to_string())?
            );
        }
        TenantsCommand::Offboard {
            tenant,
            export_window_days,
            store,
        } => {
            let s = store.open()?;
            let key =
                super::audit::audit_key(store.audit_key_file.as_ref(), store.data_dir.as_ref())?;
            let event = operator_event(tenant, "tenant.offboard");
            let row = lifecycle::offboard(&*s, &key, tenant, *export_window_days, &event, now())
                .map_err(err)?;
            print_row(&row)?;
        }
        TenantsCommand::CancelOffboarding { tenant, store } => {
            let s = store.open()?;
            let key =
                super::audit::audit_key(store.audit_key_file.as_ref(), store.data_dir.as_ref())?;
            let event = operator_event(tenant, "tenant.cancel_offboarding");
            let row = lifecycle::cancel(&*s, &key, tenant, &event).map_err(err)?;
            print_row(&row)?;
        }
        TenantsCommand::Shred {
            tenant,
            confirm,
            store,
        } => {
            let s = store.open()?;
            let key =
                super::audit::audit_key(store.audit_key_file.as_ref(), store.data_dir.as_ref())?;
            let event = operator_event(tenant, "tenant.shred");
            let when = ShredWhen::Now { confirm: *confirm };
            let row = lifecycle::shred(&*s, &key, tenant, when, &event, now())
                .map_err(err)?
                .ok_or("the shred was not applied")?;
            print_row(&row)?;
        }
        TenantsCommand::Export {
            tenant,
            recipient_key,
            out,
            root_key_file,
            store,
        } => {
            let s = store.open()?;
            let audit =
                super::audit::audit_key(store.audit_key_file.as_ref(), store.data_dir.as_ref())?;
            let signing = super::existing_signing_key(store.data_dir.as_deref())?;
            let roots = match recipient_key {
                Some(_) => Some(super::existing_root_keys(
                    root_key_file.as_deref(),
                    store.data_dir.as_deref(),
                )?),
                None => None,
            };
            let keys = crate::export::Keys {
                audit: &audit,
                signing: &signing,
                roots: roots.as_ref(),
            };
            // The export is itself an audited event, written before the archive is read.
            let mut event = operator_event(tenant, "tenant.export");
            event.action = phylax_core::audit::Action::Export;
            append_event(&*s, &audit, tenant, &event)?;
            let archive = crate::export::build(&*s, &keys, tenant, recipient_key.as_deref(), now())
                .map_err(err)?;
            let text = serde_json::to_string(&archive).map_err(|e| e.to_string())?;
            super::write_out(out.as_ref(), &text)?;
            if let Some(p) = out {
                eprintln!(
                    "wrote {} ({} audit records{})",
                    p.display(),
                    archive.sections.audit.records.len(),
                    if archive.sections.sealed_keys.is_some() {
                        ", keys sealed to the recipient"
                    } else {
                        ", no key material"
                    }
                );
            }
        }
        TenantsCommand::Decrypt {
            export,
            recipient_key_file,
            field,
            record_id,
            ciphertext,
        } => {
            let archive: crate::export::Archive = serde_json::from_str(&super::read(export)?)
                .map_err(|e| format!("`{}`: not a tenant export: {e}", export.display()))?;
            let secret = zeroize::Zeroizing::new(super::read(recipient_key_file)?);
            let keyring =
                crate::export::open_sealed_keys(&archive, &secret).map_err(|e| e.to_string())?;
            let plain = keyring
                .decrypt_field_text(field, record_id, ciphertext)
                .map_err(|e| e.to_string())?;
            println!("{}", plain.as_str());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Appends one event to a tenant's chain directly in the store.
fn append_event(
    store: &dyn Store,
    key: &phylax_core::audit::AuditKey,
    tenant: &str,
    event: &AuditEvent,
) -> Result<(), String> {
    let mut failed = None;
    store
        .append_audit_locked(
            &[tenant.to_owned()],
            &mut |t, head| match lifecycle::chain_record(key, event, t, head) {
                Ok(r) => vec![r],
                Err(e) => {
                    failed = Some(e.body.message);
                    Vec::new()
                }
            },
        )
        .map_err(|e| e.to_string())?;
    match failed {
        Some(m) => Err(m),
        None => Ok(()),
    }
}
