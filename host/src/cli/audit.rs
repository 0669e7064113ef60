//! `phylax audit verify`: verifies an exported chain (JSON Lines of `AuditRecord`, as
//! `GET /v1/tenants/{tenant}/audit/export` returns) with the audit key, and says how
//! many records the server wrote itself and how many it took from credentials
//! (`event.recordedBy`, authenticated by the chain).

use std::path::PathBuf;
use std::process::ExitCode;

use phylax_core::audit::{self, AuditKey, AuditRecord, Origin};
use phylax_core::Diagnostic;

/// Audit commands.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Verify an export. The audit key comes from `PHYLAX_AUDIT_KEY`, `--audit-key-file`
    /// or the server's `--data-dir`.
    Verify {
        /// The JSON Lines export of a chain.
        #[arg(required_unless_present = "export")]
        input: Option<PathBuf>,
        /// A tenant export archive (`phylax tenants export`, `GET
        /// /v1/tenants/{tenant}/export`) instead: its signature, every section, and its
        /// chain (with the audit key, when one is available).
        #[arg(long, conflicts_with = "input")]
        export: Option<PathBuf>,
        /// The signer's Ed25519 public key (`GET /v1/bundles/public-key`); without it
        /// the archive's own key is used, which shows integrity but not origin.
        #[arg(long, requires = "export")]
        public_key: Option<String>,
        /// The tenant [default: the first record's].
        #[arg(long)]
        tenant: Option<String>,
        /// File holding the audit key.
        #[arg(long)]
        audit_key_file: Option<PathBuf>,
        /// The server's data dir (reads its generated audit key).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

pub(crate) fn audit_key(
    file: Option<&PathBuf>,
    data_dir: Option<&PathBuf>,
) -> Result<AuditKey, String> {
    if let Ok(v) = std::env::var("PHYLAX_AUDIT_KEY") {
        return AuditKey::parse(v.trim()).map_err(|e| format!("PHYLAX_AUDIT_KEY: {e}"));
    }
    let path = match (file, data_dir) {
        (Some(f), _) => f.clone(),
        (None, Some(d)) => d.join(crate::secrets::AUDIT_KEY_FILE),
        (None, None) => {
            return Err(
                "give the audit key: PHYLAX_AUDIT_KEY, --audit-key-file or --data-dir".to_owned(),
            )
        }
    };
    let text = zeroize::Zeroizing::new(super::read(&path)?);
    AuditKey::parse(text.trim()).map_err(|e| format!("`{}`: {e}", path.display()))
}

/// Runs an audit command.
pub fn run(cmd: &AuditCommand) -> Result<ExitCode, String> {
    let AuditCommand::Verify {
        input,
        export,
        public_key,
        tenant,
        audit_key_file,
        data_dir,
    } = cmd;
    if let Some(path) = export {
        return verify_export(
            path,
            public_key.as_deref(),
            audit_key_file.as_ref(),
            data_dir.as_ref(),
        );
    }
    let input = input.as_ref().ok_or("give the export file")?;
    let key = audit_key(audit_key_file.as_ref(), data_dir.as_ref())?;
    let text = super::read(input)?;
    let mut records: Vec<AuditRecord> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(line)
            .map_err(|e| format!("{}:{}: not an audit record: {e}", input.display(), i + 1))?;
        records.push(record);
    }
    let Some(tenant) = tenant
        .clone()
        .or_else(|| records.first().map(|r| r.event.tenant.clone()))
    else {
        println!("ok: empty export");
        return Ok(ExitCode::SUCCESS);
    };
    match audit::verify(&tenant, &records, &key, None) {
        Ok(v) => {
            println!(
                "ok: {} records of tenant `{tenant}` verify; head seq {} hash {}",
                v.verified, v.head.seq, v.head.hash
            );
            // Who wrote them (authenticated by the chain like the rest of each event).
            let count = |origin: Option<Origin>| {
                records
                    .iter()
                    .filter(|r| r.event.recorded_by.as_ref().map(|b| b.origin) == origin)
                    .count()
            };
            println!(
                "written by the server: {}; ingested from credentials: {}; unmarked: {}",
                count(Some(Origin::Server)),
                count(Some(Origin::Ingested)),
                count(None)
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("invalid [{}]: {e}\nhint: {}", e.code(), e.hint());
            Ok(ExitCode::FAILURE)
        }
    }
}

fn verify_export(
    path: &std::path::Path,
    public_key: Option<&str>,
    audit_key_file: Option<&PathBuf>,
    data_dir: Option<&PathBuf>,
) -> Result<ExitCode, String> {
    let text = super::read(path)?;
    // The chain's HMACs need the audit key (the operator's); a tenant without it still
    // checks the signatures, every section and the links of the chain.
    let key = match (
        audit_key_file,
        data_dir,
        std::env::var_os("PHYLAX_AUDIT_KEY"),
    ) {
        (None, None, None) => None,
        _ => Some(audit_key(audit_key_file, data_dir)?),
    };
    match crate::export::verify(&text, public_key, key.as_ref()) {
        Ok(v) => {
            println!(
                "ok: export of tenant `{}` verifies: {} audit records, head seq {}{}",
                v.tenant,
                v.records,
                v.head_seq,
                v.pruned_before
                    .map(|s| format!(", pruned at retention before seq {s} (signed prune record)"))
                    .unwrap_or_default()
            );
            if !v.chain_checked {
                println!("note: the chain's HMACs were not checked (no audit key); its links, checkpoint and the signature were");
            }
            if !v.key_given {
                println!("note: checked against the archive's own public key; pass --public-key to check who signed it");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(f) => {
            eprintln!("invalid [{}]: {}", f.code, f.message);
            Ok(ExitCode::FAILURE)
        }
    }
}
