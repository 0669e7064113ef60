//! Starts the real `phylax` binary on a random loopback port with a temporary data dir.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    reason = "tests fail loudly"
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

pub const ADMIN: &str = "test-admin-token-0123456789";

pub struct Server {
    pub child: Child,
    pub base: String,
    pub data_dir: PathBuf,
    agent: ureq::Agent,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_phylax")
}

impl Server {
    pub fn start(data_dir: &Path, args: &[&str]) -> Self {
        let mut cmd = Command::new(bin());
        cmd.env_remove("PHYLAX_ROOT_KEY").env_remove("PHYLAX_STORE");
        Self::start_in(cmd, data_dir, args)
    }

    /// Starts the server under an open-file limit (`ulimit -n`).
    pub fn start_with_nofile(nofile: u32, data_dir: &Path, args: &[&str]) -> Self {
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            &format!("ulimit -n {nofile} && exec \"$0\" \"$@\""),
            bin(),
        ]);
        Self::start_in(cmd, data_dir, args)
    }

    /// Starts the server with extra environment variables (e.g. shared keys).
    pub fn start_env(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(bin());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self::start_in(cmd, data_dir, args)
    }

    /// A node of a PostgreSQL store: the shared keys, the store URL in `PHYLAX_STORE`.
    pub fn start_node(data_dir: &Path, store: &str, args: &[&str]) -> Self {
        let mut env = shared_keys();
        env.push(("PHYLAX_STORE", store));
        Self::start_env(data_dir, args, &env)
    }

    fn start_in(mut cmd: Command, data_dir: &Path, args: &[&str]) -> Self {
        // Tests send many refused credentials from one address on purpose; the
        // failed-authentication throttle has its own test.
        let mut defaults = Vec::new();
        if !args.contains(&"--auth-failure-burst") {
            defaults.extend(["--auth-failure-burst", "1000000"]);
        }
        let mut child = cmd
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(defaults)
            .args(args)
            .env("PHYLAX_ADMIN_TOKEN", ADMIN)
            // PHYLAX_TEST_RUST_LOG sets the servers' log filter (with PHYLAX_TEST_SERVER_LOG).
            .env(
                "RUST_LOG",
                std::env::var("PHYLAX_TEST_RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            // PHYLAX_TEST_SERVER_LOG=1 shows the servers' logs (for debugging a test).
            .stderr(if std::env::var_os("PHYLAX_TEST_SERVER_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("phylax listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            child,
            base,
            data_dir: data_dir.to_path_buf(),
            agent,
        }
    }

    /// Sends a request; returns status, headers of interest and body.
    pub fn req(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Resp {
        self.req_h(method, path, token, body, &[])
    }

    pub fn req_h(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Resp {
        self.try_req_h(method, path, token, body, headers)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Like `req_h`, but a transport failure (server gone) is an `Err`.
    pub fn try_req_h(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Resp, ureq::Error> {
        let url = format!("{}{}", self.base, path);
        let mut builder = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(t) = token {
            builder = builder.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder = builder.header("content-type", "application/json");
        // GET and DELETE carry no body.
        let mut resp = if matches!(method, "GET" | "DELETE") {
            self.agent.run(builder.body(()).unwrap())?
        } else {
            let request = builder.body(body.unwrap_or("").to_owned()).unwrap();
            self.agent.run(request)?
        };
        let status = resp.status().as_u16();
        let header = |n: &str| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let etag = header("etag");
        let retry_after = header("retry-after");
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let text = resp.body_mut().read_to_string()?;
        Ok(Resp {
            status,
            text,
            etag,
            retry_after,
            headers,
        })
    }

    pub fn admin(&self, method: &str, path: &str, body: Option<&str>) -> Resp {
        self.req(method, path, Some(ADMIN), body)
    }

    pub fn create_tenant(&self, id: &str) {
        let r = self.admin("POST", "/v1/tenants", Some(&format!(r#"{{"id":"{id}"}}"#)));
        assert_eq!(r.status, 201, "{}", r.text);
    }

    /// A key issued by the platform admin: one reaching data is a break-glass action,
    /// audited in the tenant's chain with this reason.
    pub fn api_key(&self, tenant: &str, scopes: &[&str]) -> String {
        self.admin_key_with_id(tenant, scopes).0
    }

    /// Like [`Self::api_key`], with the key's id.
    pub fn admin_key_with_id(&self, tenant: &str, scopes: &[&str]) -> (String, String) {
        let body = serde_json::json!({ "scopes": scopes }).to_string();
        let r = self.req_h(
            "POST",
            &format!("/v1/tenants/{tenant}/api-keys"),
            Some(ADMIN),
            Some(&body),
            &[("x-phylax-break-glass", "test provisioning")],
        );
        assert_eq!(r.status, 201, "{}", r.text);
        let v = r.json();
        (
            v["ok"]["apiKey"].as_str().unwrap().to_owned(),
            v["ok"]["record"]["keyId"].as_str().unwrap().to_owned(),
        )
    }

    /// The `host:port` the server listens on.
    /// `transit/encrypt` of `plaintext` (field `patients.diagnosis`, record `r`) in
    /// `tenant` with `key`; the ciphertext.
    pub fn encrypt(&self, tenant: &str, key: &str, plaintext: &str) -> String {
        let body = serde_json::json!({"field": "patients.diagnosis", "recordId": "r", "plaintext": plaintext});
        let r = self.req(
            "POST",
            &format!("/v1/tenants/{tenant}/transit/encrypt"),
            Some(key),
            Some(&body.to_string()),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["ok"]["ciphertext"].as_str().unwrap().to_owned()
    }

    pub fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    /// Sends raw bytes on a new connection and returns everything the server answers
    /// until it closes the connection or `timeout` passes.
    pub fn raw(&self, request: &[u8], timeout: std::time::Duration) -> String {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(self.addr()).unwrap();
        stream.set_read_timeout(Some(timeout)).unwrap();
        stream.write_all(request).unwrap();
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub text: String,
    pub etag: Option<String>,
    pub retry_after: Option<String>,
    /// Every header, lower-case names, in order.
    pub headers: Vec<(String, String)>,
}

impl Resp {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Asserts an error answer: its status and code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code().as_str()),
            (status, code),
            "{}",
            self.text
        );
    }
}

/// The healthcare pack decision table.
pub fn pack_cases() -> Value {
    serde_json::from_str(include_str!("../../../core/tests/pack_cases.json")).unwrap()
}

/// The tenant a request is decided in: the resource itself if it is a tenant, else the
/// tenant attribute of the resource entity.
pub fn resource_tenant(req: &Value) -> String {
    let res = &req["resource"];
    if res["type"] == "Tenant" {
        return res["id"].as_str().unwrap().to_owned();
    }
    req["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["uid"] == *res)
        .map(|e| e["attrs"]["tenant"]["id"].as_str().unwrap().to_owned())
        .unwrap()
}

/// The keys every node of one PostgreSQL store shares (test values, never used elsewhere).
pub const ROOT_KEY: &str = "BiOxd2NOIkZVKkBFwimZKP6iCHXGOVrbvVSijHorDRE";
pub const AUDIT_KEY: &str = "6LZ8hVLRlYx6bH0R_eI6rnwK-kcm8qCivz1T8qwX7-w";
pub const SIGNING_KEY: &str = "RZqH2W6V8x-5lYe00JkS1JKmSO-HryedyCtAZJipYvM";

pub fn shared_keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("PHYLAX_ROOT_KEY", ROOT_KEY),
        ("PHYLAX_AUDIT_KEY", AUDIT_KEY),
        ("PHYLAX_BUNDLE_SIGNING_KEY", SIGNING_KEY),
    ]
}

/// The test PostgreSQL server (`PHYLAX_TEST_POSTGRES`, which `scripts/test` sets after
/// starting a throwaway cluster with `scripts/pg`). Under CI it must be there: a
/// PostgreSQL test that silently skipped would be a test that cannot fail.
pub fn postgres() -> Option<String> {
    match std::env::var("PHYLAX_TEST_POSTGRES") {
        Ok(u) if !u.trim().is_empty() => Some(u.trim().to_owned()),
        _ if std::env::var_os("CI").is_some() => {
            panic!("PHYLAX_TEST_POSTGRES is not set; scripts/test starts PostgreSQL and sets it")
        }
        _ => {
            eprintln!("PHYLAX_TEST_POSTGRES is not set: skipping the PostgreSQL half (run `bash scripts/pg start DIR` and export its URL)");
            None
        }
    }
}

/// A new empty database on the test server; returns its URL.
pub fn fresh_database(base: &str, tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "t_{tag}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let out = Command::new("psql")
        .arg(base)
        .args([
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            &format!("CREATE DATABASE {name}"),
        ])
        .output()
        .expect("psql (the PostgreSQL client) runs");
    assert!(
        out.status.success(),
        "CREATE DATABASE: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    with_database(base, &name)
}

/// Runs SQL on a test database with psql; returns its output (unaligned, tuples only).
pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-qAtc", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The pooler in front of the test server (`PHYLAX_TEST_POSTGRES_POOLER`): PgBouncer in
/// `pool_mode = transaction`, as Neon's `-pooler` endpoint is, which `scripts/test` starts
/// with `scripts/pg pgbouncer` and sets. Under CI it must be there, like [`postgres`].
pub fn postgres_pooler() -> Option<String> {
    match std::env::var("PHYLAX_TEST_POSTGRES_POOLER") {
        Ok(u) if !u.trim().is_empty() => Some(u.trim().to_owned()),
        _ if std::env::var_os("CI").is_some() => {
            panic!(
                "PHYLAX_TEST_POSTGRES_POOLER is not set; scripts/test starts PgBouncer and sets it"
            )
        }
        _ => {
            eprintln!("PHYLAX_TEST_POSTGRES_POOLER is not set: skipping the pooler test (run `bash scripts/pg pgbouncer DIR` on a cluster of `scripts/pg start` and export its URL)");
            None
        }
    }
}

/// The database of a `postgres://` URL (its last path segment).
pub fn database_of(url: &str) -> &str {
    let head = url.split_once('?').map_or(url, |(h, _)| h);
    let cut = head.rfind('/').expect("a database in the URL");
    &head[cut + 1..]
}

/// `url` with its database replaced by `name` (any `?query` kept): e.g. the pooler's URL
/// for a database made with [`fresh_database`].
pub fn with_database(url: &str, name: &str) -> String {
    let (head, tail) = url.split_once('?').map_or((url, ""), |(h, t)| (h, t));
    let cut = head.rfind('/').expect("a database in the URL");
    let mut out = format!("{}/{name}", &head[..cut]);
    if !tail.is_empty() {
        out.push('?');
        out.push_str(tail);
    }
    out
}

/// The rows of a PgBouncer admin console command (`SHOW POOLS`, `SHOW STATS`...) through
/// the pooler at `pooler` (its role is one of the `admin_users`), as column -> value.
pub fn pgbouncer_show(
    pooler: &str,
    command: &str,
) -> Vec<std::collections::BTreeMap<String, String>> {
    let out = Command::new("psql")
        .arg(with_database(pooler, "pgbouncer"))
        .args(["-X", "-q", "-A", "-P", "footer=off", "-c", command])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('|').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split('|'))
                .map(|(k, v)| ((*k).to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}
