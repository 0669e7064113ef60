//! `phylax bundle build|sign|verify`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use phylax_core::policy::calls::{
    sign_bundle, verify_bundle, SignBundleRequest, VerifyBundleRequest,
};
use phylax_core::policy::{pack, Bundle, EngineOptions, EngineSpec, PolicyFile, SignedBundle};

/// Bundle commands.
#[derive(Debug, clap::Subcommand)]
pub enum BundleCommand {
    /// Build an unsigned bundle (default: the healthcare pack) as JSON.
    Build {
        /// Schema file [default: the pack's].
        #[arg(long)]
        schema: Option<PathBuf>,
        /// Platform policy files [default: the pack's].
        #[arg(long = "policies")]
        policies: Vec<PathBuf>,
        /// A tenant's policy file, as `TENANT=FILE` (repeatable).
        #[arg(long = "tenant-policies")]
        tenant_policies: Vec<String>,
        /// Extra base entities (Cedar entity JSON array).
        #[arg(long)]
        entities: Option<PathBuf>,
        /// Version label.
        #[arg(long = "bundle-version", default_value = "dev")]
        version: String,
        /// Creation time, unix seconds [default: now].
        #[arg(long)]
        created_at: Option<u64>,
        /// Output file [default: stdout].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Sign a built bundle with `PHYLAX_BUNDLE_SIGNING_KEY` or `--key-file`.
    Sign {
        /// The unsigned bundle.
        input: PathBuf,
        /// File holding the signing key (or the `secretKey` JSON of `keys generate --kind signing`).
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Output file [default: stdout].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify a signed bundle's hash and signature.
    Verify {
        /// The signed bundle.
        input: PathBuf,
        /// The publisher's public key (base64url or hex).
        // A base64url key starts with `-` one time in 64: it is a value, not a flag.
        #[arg(long, allow_hyphen_values = true)]
        public_key: String,
    },
}

fn signing_key_text(file: Option<&PathBuf>) -> Result<zeroize::Zeroizing<String>, String> {
    if let Ok(v) = std::env::var("PHYLAX_BUNDLE_SIGNING_KEY") {
        return Ok(zeroize::Zeroizing::new(v.trim().to_owned()));
    }
    let Some(path) = file else {
        return Err("give the signing key: PHYLAX_BUNDLE_SIGNING_KEY or --key-file".to_owned());
    };
    let text = zeroize::Zeroizing::new(super::read(path)?);
    // Accept the JSON that `phylax keys generate --kind signing` writes.
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
        if let Some(s) = v.get("secretKey").and_then(|s| s.as_str()) {
            return Ok(zeroize::Zeroizing::new(s.to_owned()));
        }
    }
    Ok(zeroize::Zeroizing::new(text.trim().to_owned()))
}

/// Runs a bundle command.
pub fn run(cmd: BundleCommand) -> Result<ExitCode, String> {
    match cmd {
        BundleCommand::Build {
            schema,
            policies,
            tenant_policies,
            entities,
            version,
            created_at,
            out,
        } => {
            let schema = match schema {
                Some(p) => super::read(&p)?,
                None => pack::SCHEMA.to_owned(),
            };
            let platform_policies = if policies.is_empty() {
                vec![PolicyFile::new("healthcare.cedar", pack::POLICIES)]
            } else {
                policies
                    .iter()
                    .map(|p| Ok(PolicyFile::new(p.display().to_string(), super::read(p)?)))
                    .collect::<Result<_, String>>()?
            };
            let mut tenants: BTreeMap<String, Vec<PolicyFile>> = BTreeMap::new();
            for tp in &tenant_policies {
                let (tenant, file) = tp
                    .split_once('=')
                    .ok_or_else(|| format!("`{tp}`: expected TENANT=FILE"))?;
                let path = PathBuf::from(file);
                tenants
                    .entry(tenant.to_owned())
                    .or_default()
                    .push(PolicyFile::new(file, super::read(&path)?));
            }
            let mut base: Vec<serde_json::Value> =
                serde_json::from_str(pack::ENTITIES).map_err(|e| e.to_string())?;
            if let Some(p) = entities {
                let extra: Vec<serde_json::Value> = serde_json::from_str(&super::read(&p)?)
                    .map_err(|e| format!("`{}`: {e}", p.display()))?;
                base.extend(extra);
            }
            let spec = EngineSpec {
                schema,
                platform_policies,
                tenant_policies: tenants,
                entities: base,
                options: EngineOptions::default(),
            };
            // Refuse to build what would not load.
            phylax_core::policy::Engine::new(&spec).map_err(|e| e.to_string())?;
            let bundle = Bundle::new(spec, version, created_at.unwrap_or_else(crate::state::now));
            let json = serde_json::to_string_pretty(&bundle).map_err(|e| e.to_string())?;
            super::write_out(out.as_ref(), &json)?;
            Ok(ExitCode::SUCCESS)
        }
        BundleCommand::Sign {
            input,
            key_file,
            out,
        } => {
            let bundle: Bundle = serde_json::from_str(&super::read(&input)?)
                .map_err(|e| format!("`{}`: not a bundle: {e}", input.display()))?;
            let key = signing_key_text(key_file.as_ref())?;
            let signed = sign_bundle(&SignBundleRequest {
                bundle,
                signing_key: key.to_string(),
            })
            .map_err(|e| e.to_string())?;
            let json = serde_json::to_string_pretty(&signed).map_err(|e| e.to_string())?;
            super::write_out(out.as_ref(), &json)?;
            Ok(ExitCode::SUCCESS)
        }
        BundleCommand::Verify { input, public_key } => {
            let bundle: SignedBundle = serde_json::from_str(&super::read(&input)?)
                .map_err(|e| format!("`{}`: not a signed bundle: {e}", input.display()))?;
            match verify_bundle(&VerifyBundleRequest { bundle, public_key }) {
                Ok(v) => {
                    println!(
                        "ok: bundle {} version {} created {}",
                        v.hash, v.version, v.created_at
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("invalid: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}
