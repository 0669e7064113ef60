//! `phylax check`: validates policy files against the schema (strict mode) and, with
//! `--tenant`, against the platform guardrails, printing `file:line:column: message`.

use std::path::PathBuf;
use std::process::ExitCode;

use phylax_core::policy::calls::{validate_policies, ValidateRequest};
use phylax_core::policy::{pack, EngineOptions, PolicyFile};

/// `phylax check` arguments.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Policy files (Cedar).
    #[arg(required = true)]
    pub policies: Vec<PathBuf>,
    /// Schema file [default: the healthcare pack's].
    #[arg(long)]
    pub schema: Option<PathBuf>,
    /// Check as this tenant's policies on top of the pack's platform policies.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Base entities file (Cedar entity JSON array).
    #[arg(long)]
    pub entities: Option<PathBuf>,
}

/// Runs the check.
pub fn run(args: &CheckArgs) -> Result<ExitCode, String> {
    let schema = match &args.schema {
        Some(p) => super::read(p)?,
        None => pack::SCHEMA.to_owned(),
    };
    let policies = args
        .policies
        .iter()
        .map(|p| Ok(PolicyFile::new(p.display().to_string(), super::read(p)?)))
        .collect::<Result<Vec<_>, String>>()?;
    let mut entities: Vec<serde_json::Value> = if args.schema.is_none() {
        serde_json::from_str(pack::ENTITIES).map_err(|e| e.to_string())?
    } else {
        Vec::new()
    };
    if let Some(p) = &args.entities {
        let extra: Vec<serde_json::Value> = serde_json::from_str(&super::read(p)?)
            .map_err(|e| format!("`{}`: {e}", p.display()))?;
        entities.extend(extra);
    }
    let platform_policies = if args.tenant.is_some() && args.schema.is_none() {
        vec![PolicyFile::new("healthcare.cedar", pack::POLICIES)]
    } else {
        Vec::new()
    };
    let verdict = validate_policies(&ValidateRequest {
        schema,
        policies,
        tenant: args.tenant.clone(),
        platform_policies,
        entities,
        options: EngineOptions::default(),
    });
    if verdict.valid {
        println!("ok: {} file(s) valid", args.policies.len());
        return Ok(ExitCode::SUCCESS);
    }
    for d in &verdict.diagnostics {
        eprintln!("{}:{}:{}: {}", d.file, d.line, d.column, d.message);
    }
    if let Some(e) = &verdict.error {
        if verdict.diagnostics.is_empty() {
            eprintln!("{}", e.message);
        }
        eprintln!("[{}] hint: {}", e.code, e.hint);
    }
    Ok(ExitCode::FAILURE)
}
