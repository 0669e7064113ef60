//! `phylax serve` configuration: flags, then environment variables, then an optional
//! TOML file (`--config`), then defaults, in that order of precedence.
//!
//! Secrets are never flags (they would show in `ps`): the root key comes from
//! `PHYLAX_ROOT_KEY` or `--root-key-file`, the admin token from `PHYLAX_ADMIN_TOKEN`.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! data_dir = "/var/lib/phylax"
//! root_key_file = "/run/secrets/phylax-root-key"
//! log_format = "json"
//! body_limit = 1048576
//! rate_limit_per_second = 50
//! rate_limit_burst = 100
//! request_timeout_ms = 10000
//! header_read_timeout_ms = 10000
//! max_connections = 4096
//! max_connections_per_ip = 256
//! auth_failures_per_second = 1
//! auth_failure_burst = 30
//! audit_failure_window_secs = 60
//! audit_ingest_max_age_secs = 3600
//! store = "postgres://phylax@db.example.com/phylax?sslmode=require"
//! store_pool_size = 16
//! sync_interval_ms = 200
//! sync_bound_ms = 1000
//! audit_batch_max = 1024
//! lifecycle_interval_ms = 60000
//! entities_file = "/etc/phylax/entities.json"
//! engine = "native"
//! [jwt]
//! jwks_file = "/etc/phylax/jwks.json"
//! issuer = "https://example.eu.auth0.com/"
//! audience = "https://api.example.com"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A store URL. It may hold a password, so `Debug` shows it with the password hidden.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct StoreUrl(String);

impl StoreUrl {
    /// Wraps a URL (clap's value parser).
    pub fn parse(url: &str) -> Result<Self, String> {
        Ok(Self(url.to_owned()))
    }

    /// The URL itself, password included: for the store to connect with, never to log.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", crate::store::redact_url(&self.0))
    }
}

/// Flags of `phylax serve` (each also readable from the environment).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, env = "PHYLAX_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "PHYLAX_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory of the embedded store and generated keys [default: ./phylax-data].
    #[arg(long, env = "PHYLAX_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// File holding the root key (64 hex digits or 43 base64url characters). Without it
    /// and without `PHYLAX_ROOT_KEY`, a development key is generated in the data dir.
    #[arg(long, env = "PHYLAX_ROOT_KEY_FILE")]
    pub root_key_file: Option<PathBuf>,
    /// Log format.
    #[arg(long, env = "PHYLAX_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Largest accepted request body, bytes [default: 1 MiB].
    #[arg(long, env = "PHYLAX_BODY_LIMIT")]
    pub body_limit: Option<usize>,
    /// Sustained requests per second allowed per credential [default: 100].
    #[arg(long, env = "PHYLAX_RATE_LIMIT_PER_SECOND")]
    pub rate_limit_per_second: Option<u32>,
    /// Requests a credential may send in a burst [default: 200].
    #[arg(long, env = "PHYLAX_RATE_LIMIT_BURST")]
    pub rate_limit_burst: Option<u32>,
    /// Request timeout, milliseconds [default: 10000].
    #[arg(long, env = "PHYLAX_REQUEST_TIMEOUT_MS")]
    pub request_timeout_ms: Option<u64>,
    /// Time a client has to send a request's headers, and that a kept-alive connection
    /// may sit idle, milliseconds [default: 10000].
    #[arg(long, env = "PHYLAX_HEADER_READ_TIMEOUT_MS")]
    pub header_read_timeout_ms: Option<u64>,
    /// Open connections at most; more are closed at once [default: 4096, or the open-file
    /// limit less 128 if lower].
    #[arg(long, env = "PHYLAX_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Open connections at most from one address [default: 256].
    #[arg(long, env = "PHYLAX_MAX_CONNECTIONS_PER_IP")]
    pub max_connections_per_ip: Option<usize>,
    /// Failed authentications per second an address may sustain before all its requests
    /// get 429 [default: 1].
    #[arg(long, env = "PHYLAX_AUTH_FAILURES_PER_SECOND")]
    pub auth_failures_per_second: Option<u32>,
    /// Failed authentications an address may make in a burst [default: 30].
    #[arg(long, env = "PHYLAX_AUTH_FAILURE_BURST")]
    pub auth_failure_burst: Option<u32>,
    /// Failed API-key attempts on a tenant are summarized in its audit chain once per this
    /// many seconds [default: 60].
    #[arg(long, env = "PHYLAX_AUDIT_FAILURE_WINDOW_SECS")]
    pub audit_failure_window_secs: Option<u64>,
    /// How old an ingested audit event may be, seconds [default: 3600].
    #[arg(long, env = "PHYLAX_AUDIT_INGEST_MAX_AGE_SECS")]
    pub audit_ingest_max_age_secs: Option<u64>,
    /// Where state is kept: `postgres://USER:PASSWORD@HOST/DB` (many nodes, one
    /// database), `sqlite:PATH`, or nothing for `phylax.db` in the data dir. Put the URL
    /// in `PHYLAX_STORE` rather than a flag when it holds a password.
    #[arg(long, env = "PHYLAX_STORE", hide_env_values = true, value_parser = StoreUrl::parse)]
    pub store: Option<StoreUrl>,
    /// PostgreSQL connections per node [default: 16].
    #[arg(long, env = "PHYLAX_STORE_POOL_SIZE")]
    pub store_pool_size: Option<usize>,
    /// How often a node polls the store for changes made by other nodes, ms [default: 200].
    #[arg(long, env = "PHYLAX_SYNC_INTERVAL_MS")]
    pub sync_interval_ms: Option<u64>,
    /// The propagation bound, ms [default: 1000]: a change committed through any node is
    /// in force on every node within this time; a node that has not heard from the store
    /// for longer answers 503 `store.stale` rather than trust its caches.
    #[arg(long, env = "PHYLAX_SYNC_BOUND_MS")]
    pub sync_bound_ms: Option<u64>,
    /// Most audit events committed in one transaction (group commit) [default: 1024];
    /// 1 commits every request on its own.
    #[arg(long, env = "PHYLAX_AUDIT_BATCH_MAX")]
    pub audit_batch_max: Option<usize>,
    /// How often this node performs due lifecycle steps (shreds at the end of an export
    /// window, audit pruning at retention), ms [default: 60000]. Every node runs them;
    /// the store lets exactly one perform each.
    #[arg(long, env = "PHYLAX_LIFECYCLE_INTERVAL_MS")]
    pub lifecycle_interval_ms: Option<u64>,
    /// Extra base entities for the engine (Cedar entity JSON array), e.g. field classes.
    #[arg(long, env = "PHYLAX_ENTITIES_FILE")]
    pub entities_file: Option<PathBuf>,
    /// Decision engine.
    #[arg(long, env = "PHYLAX_ENGINE", value_enum)]
    pub engine: Option<EngineKind>,
    /// JWKS file for verifying user JWTs (enables JWT credentials).
    #[arg(long, env = "PHYLAX_JWT_JWKS_FILE")]
    pub jwt_jwks_file: Option<PathBuf>,
    /// Expected JWT issuer.
    #[arg(long, env = "PHYLAX_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// Expected JWT audience.
    #[arg(long, env = "PHYLAX_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Which engine decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// The core linked in.
    #[default]
    Native,
    /// The core's wasm component in wasmtime (not built into this binary yet).
    Wasm,
}

/// The TOML file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    root_key_file: Option<PathBuf>,
    log_format: Option<LogFormat>,
    body_limit: Option<usize>,
    rate_limit_per_second: Option<u32>,
    rate_limit_burst: Option<u32>,
    request_timeout_ms: Option<u64>,
    header_read_timeout_ms: Option<u64>,
    max_connections: Option<usize>,
    max_connections_per_ip: Option<usize>,
    auth_failures_per_second: Option<u32>,
    auth_failure_burst: Option<u32>,
    audit_failure_window_secs: Option<u64>,
    audit_ingest_max_age_secs: Option<u64>,
    store: Option<StoreUrl>,
    store_pool_size: Option<usize>,
    sync_interval_ms: Option<u64>,
    sync_bound_ms: Option<u64>,
    audit_batch_max: Option<usize>,
    lifecycle_interval_ms: Option<u64>,
    entities_file: Option<PathBuf>,
    engine: Option<EngineKind>,
    jwt: Option<JwtFileConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct JwtFileConfig {
    jwks_file: Option<PathBuf>,
    issuer: Option<String>,
    audience: Option<String>,
}

/// JWT verification settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    /// The JWKS file.
    pub jwks_file: PathBuf,
    /// Expected issuer.
    pub issuer: String,
    /// Expected audience.
    pub audience: String,
}

/// The resolved configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Listen address.
    pub listen: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Root key file, if any.
    pub root_key_file: Option<PathBuf>,
    /// Log format.
    pub log_format: LogFormat,
    /// Body limit, bytes.
    pub body_limit: usize,
    /// Rate limit, requests per second per credential.
    pub rate_limit_per_second: u32,
    /// Rate limit burst.
    pub rate_limit_burst: u32,
    /// Request timeout, milliseconds.
    pub request_timeout_ms: u64,
    /// Header read (and keep-alive idle) timeout, milliseconds.
    pub header_read_timeout_ms: u64,
    /// Open connections at most (None: from the open-file limit at start).
    pub max_connections: Option<usize>,
    /// Open connections at most per source address.
    pub max_connections_per_ip: usize,
    /// Failed authentications per second per address.
    pub auth_failures_per_second: u32,
    /// Failed authentications in a burst per address.
    pub auth_failure_burst: u32,
    /// Window of the failed-attempt summaries, seconds.
    pub audit_failure_window_secs: u64,
    /// Oldest accepted ingested audit event, seconds.
    pub audit_ingest_max_age_secs: u64,
    /// Store URL (`None`: SQLite in the data dir). May hold a password: never logged.
    pub store: Option<StoreUrl>,
    /// PostgreSQL pool size.
    pub store_pool_size: usize,
    /// Change poll interval, ms.
    pub sync_interval_ms: u64,
    /// Propagation bound, ms.
    pub sync_bound_ms: u64,
    /// Most audit events per commit.
    pub audit_batch_max: usize,
    /// Lifecycle sweep interval, ms.
    pub lifecycle_interval_ms: u64,
    /// Extra base entities.
    pub entities_file: Option<PathBuf>,
    /// Engine.
    pub engine: EngineKind,
    /// JWT credentials, when configured.
    pub jwt: Option<JwtSettings>,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML file could not be read or parsed.
    #[error("config file `{path}`: {message}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A value is out of range or incomplete.
    #[error("config: {0}")]
    Invalid(String),
}

impl Config {
    /// Resolves flags and environment (already merged by clap) over the TOML file.
    pub fn resolve(args: &ServeArgs) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let jwt_file = file.jwt.clone().unwrap_or_default();
        let jwks = args.jwt_jwks_file.clone().or(jwt_file.jwks_file);
        let issuer = args.jwt_issuer.clone().or(jwt_file.issuer);
        let audience = args.jwt_audience.clone().or(jwt_file.audience);
        let jwt = match (jwks, issuer, audience) {
            (Some(jwks_file), Some(issuer), Some(audience)) => Some(JwtSettings {
                jwks_file,
                issuer,
                audience,
            }),
            (None, None, None) => None,
            _ => {
                return Err(ConfigError::Invalid(
                    "JWT credentials need all of jwks file, issuer and audience".to_owned(),
                ))
            }
        };
        let config = Self {
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            data_dir: args
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("phylax-data")),
            root_key_file: args.root_key_file.clone().or(file.root_key_file),
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
            body_limit: args.body_limit.or(file.body_limit).unwrap_or(1024 * 1024),
            rate_limit_per_second: args
                .rate_limit_per_second
                .or(file.rate_limit_per_second)
                .unwrap_or(100),
            rate_limit_burst: args
                .rate_limit_burst
                .or(file.rate_limit_burst)
                .unwrap_or(200),
            request_timeout_ms: args
                .request_timeout_ms
                .or(file.request_timeout_ms)
                .unwrap_or(10_000),
            header_read_timeout_ms: args
                .header_read_timeout_ms
                .or(file.header_read_timeout_ms)
                .unwrap_or(10_000),
            max_connections: args.max_connections.or(file.max_connections),
            max_connections_per_ip: args
                .max_connections_per_ip
                .or(file.max_connections_per_ip)
                .unwrap_or(256),
            auth_failures_per_second: args
                .auth_failures_per_second
                .or(file.auth_failures_per_second)
                .unwrap_or(1),
            auth_failure_burst: args
                .auth_failure_burst
                .or(file.auth_failure_burst)
                .unwrap_or(30),
            audit_failure_window_secs: args
                .audit_failure_window_secs
                .or(file.audit_failure_window_secs)
                .unwrap_or(60),
            audit_ingest_max_age_secs: args
                .audit_ingest_max_age_secs
                .or(file.audit_ingest_max_age_secs)
                .unwrap_or(3600),
            store: args.store.clone().or(file.store),
            store_pool_size: args.store_pool_size.or(file.store_pool_size).unwrap_or(16),
            sync_interval_ms: args
                .sync_interval_ms
                .or(file.sync_interval_ms)
                .unwrap_or(200),
            sync_bound_ms: args.sync_bound_ms.or(file.sync_bound_ms).unwrap_or(1000),
            audit_batch_max: args
                .audit_batch_max
                .or(file.audit_batch_max)
                .unwrap_or(1024)
                .max(1),
            lifecycle_interval_ms: args
                .lifecycle_interval_ms
                .or(file.lifecycle_interval_ms)
                .unwrap_or(60_000)
                .max(10),
            entities_file: args.entities_file.clone().or(file.entities_file),
            engine: args.engine.or(file.engine).unwrap_or_default(),
            jwt,
        };
        if config.sync_interval_ms < 10 || config.sync_bound_ms < 2 * config.sync_interval_ms {
            return Err(ConfigError::Invalid(
                "sync_interval_ms must be at least 10 and sync_bound_ms at least twice it"
                    .to_owned(),
            ));
        }
        if config.auth_failures_per_second == 0
            || config.auth_failure_burst == 0
            || config.audit_failure_window_secs == 0
            || config.header_read_timeout_ms == 0
            || config.max_connections == Some(0)
            || config.max_connections_per_ip == 0
        {
            return Err(ConfigError::Invalid(
                "timeouts, connection caps, failure budgets and windows must be at least 1"
                    .to_owned(),
            ));
        }
        if config.rate_limit_per_second == 0 || config.rate_limit_burst == 0 {
            return Err(ConfigError::Invalid(
                "rate limit and burst must be at least 1".to_owned(),
            ));
        }
        if config.body_limit < 1024 {
            return Err(ConfigError::Invalid(
                "body limit must be at least 1024 bytes".to_owned(),
            ));
        }
        Ok(config)
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let fail = |message: String| ConfigError::File {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    toml::from_str(&text).map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    #[test]
    fn flags_override_file_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("phylax.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\nbody_limit = 4096\nlog_format = \"json\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path),
            body_limit: Some(8192),
            ..ServeArgs::default()
        };
        let c = Config::resolve(&args).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.body_limit, 8192);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.data_dir, PathBuf::from("phylax-data"));
        let c = Config::resolve(&ServeArgs::default()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("phylax.toml");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };
        assert!(Config::resolve(&args).is_err());
    }
}
