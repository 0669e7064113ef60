//! `phylax rewrap`: re-encrypts the encrypted fields of exported records to the tenant's
//! active data-key version, with a progress bar, resumably.
//!
//! Input: JSON Lines, one `{"recordId": "...", "record": {...}}` per line, fields
//! encrypted with the record spec given by `--spec` (the core's `RecordSpec`). Output:
//! the same lines with every listed field that needs it rewrapped (plaintext never
//! leaves the core). Resuming: the output is written line by line and fsynced every
//! 1000 lines; when it already exists, its complete lines are kept, a torn last line is
//! cut, and the input continues after them.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use phylax_core::crypto::{Keyring, RecordSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::sqlite::SqliteStore;
use crate::store::Store;

/// `phylax rewrap` arguments.
#[derive(Debug, clap::Args)]
pub struct RewrapArgs {
    /// Exported records (JSON Lines).
    #[arg(long = "in")]
    pub input: PathBuf,
    /// Output file; an existing one is resumed.
    #[arg(long)]
    pub out: PathBuf,
    /// Record spec (JSON `RecordSpec`: name and fields).
    #[arg(long)]
    pub spec: PathBuf,
    /// The tenant.
    #[arg(long)]
    pub tenant: String,
    /// The server's data dir (reads the tenant's keyring from the store).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The server's store, when it is not SQLite in the data dir: `postgres://...` or
    /// `sqlite:PATH` (reads the tenant's keyring from it).
    #[arg(long, env = "PHYLAX_STORE", hide_env_values = true, value_parser = crate::config::StoreUrl::parse)]
    pub store: Option<crate::config::StoreUrl>,
    /// A keyring JSON file instead of the store.
    #[arg(long)]
    pub keyring: Option<PathBuf>,
    /// Root key file (else `PHYLAX_ROOT_KEY`, else the data dir's dev key).
    #[arg(long)]
    pub root_key_file: Option<PathBuf>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Line {
    record_id: String,
    record: Value,
}

/// Counts complete lines of an existing output and cuts a torn last line.
fn resume_point(out: &Path) -> Result<u64, String> {
    let Ok(mut f) = OpenOptions::new().read(true).write(true).open(out) else {
        return Ok(0);
    };
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let lines = bytes.iter().take(complete).filter(|b| **b == b'\n').count();
    f.set_len(complete as u64).map_err(|e| e.to_string())?;
    f.seek(SeekFrom::End(0)).map_err(|e| e.to_string())?;
    Ok(lines as u64)
}

fn rewrap_line(keyring: &Keyring, spec: &RecordSpec, line: &str) -> Result<(String, bool), String> {
    let mut l: Line = serde_json::from_str(line).map_err(|e| format!("not a record line: {e}"))?;
    let mut changed = false;
    for field in &spec.fields {
        let path = spec.field_path(&field.pointer);
        let Some(slot) = l.record.pointer_mut(&field.pointer) else {
            continue;
        };
        let Value::String(ct) = slot else { continue };
        if keyring
            .needs_rewrap(ct)
            .map_err(|e| format!("`{}`: {e}", field.pointer))?
        {
            let new = keyring
                .rewrap(&path, &l.record_id, ct)
                .map_err(|e| format!("`{}`: {e}", field.pointer))?;
            *slot = Value::String(new);
            changed = true;
        }
    }
    Ok((
        serde_json::to_string(&l).map_err(|e| e.to_string())?,
        changed,
    ))
}

fn tenant_keyring(store: &dyn Store, tenant: &str) -> Result<String, String> {
    Ok(store
        .tenant(tenant)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no tenant `{tenant}` in the store"))?
        .keyring)
}

/// Runs the rewrap.
pub fn run(args: &RewrapArgs) -> Result<ExitCode, String> {
    let roots = super::existing_root_keys(args.root_key_file.as_deref(), args.data_dir.as_deref())?;
    let keyring_json = match (&args.keyring, &args.store, &args.data_dir) {
        (Some(k), _, _) => super::read(k)?,
        (None, Some(url), _) => {
            let store = crate::store::open(Some(url.expose()), Path::new("."), 2)
                .map_err(|e| e.to_string())?;
            tenant_keyring(&*store, &args.tenant)?
        }
        (None, None, Some(d)) => {
            let store = SqliteStore::open_dir(d).map_err(|e| e.to_string())?;
            tenant_keyring(&store, &args.tenant)?
        }
        (None, None, None) => return Err("give --data-dir, --store or --keyring".to_owned()),
    };
    let keyring = Keyring::open_json_with(&keyring_json, &roots).map_err(|e| e.to_string())?;
    let spec: RecordSpec = serde_json::from_str(&super::read(&args.spec)?)
        .map_err(|e| format!("`{}`: {e}", args.spec.display()))?;
    spec.check().map_err(|e| e.to_string())?;

    let input =
        std::fs::File::open(&args.input).map_err(|e| format!("`{}`: {e}", args.input.display()))?;
    let total = BufReader::new(input).lines().count() as u64;
    let done = resume_point(&args.out)?;
    let mut out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args.out)
        .map_err(|e| format!("`{}`: {e}", args.out.display()))?;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} records {per_sec} eta {eta}")
            .map_err(|e| e.to_string())?,
    );
    bar.set_position(done);
    let input = std::fs::File::open(&args.input).map_err(|e| e.to_string())?;
    let mut rewrapped = 0u64;
    for (i, line) in BufReader::new(input)
        .lines()
        .enumerate()
        .skip(done as usize)
    {
        let line = line.map_err(|e| e.to_string())?;
        let (text, changed) = rewrap_line(&keyring, &spec, &line)
            .map_err(|e| format!("{}:{}: {e}", args.input.display(), i + 1))?;
        out.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
        out.write_all(b"\n").map_err(|e| e.to_string())?;
        rewrapped += u64::from(changed);
        if (i + 1) % 1000 == 0 {
            out.sync_data().map_err(|e| e.to_string())?;
        }
        bar.inc(1);
    }
    out.sync_all().map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    eprintln!(
        "rewrapped {rewrapped} record(s) to key version {} ({} line(s) resumed, {total} in all)",
        keyring.active_version(),
        done
    );
    Ok(ExitCode::SUCCESS)
}
