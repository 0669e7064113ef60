//! The conformance cases (`conformance/cases/*.json`, format in `conformance/README.md`)
//! and the checker every Rust-hosted runtime shares.
//!
//! A runtime implements [`Runtime`]: given a case, it makes the call the case names and
//! returns the answer the core's JSON call convention prescribes (`{"ok": ...}` or
//! `{"error": {...}}`). [`run`] feeds it every case of every file, checks each answer
//! against the case's expectation and prints one line: `conformance <runtime>: N passed,
//! M failed`. The native core (`tests/native.rs`) and the wasmtime component
//! (`host/engine-wasm/tests/conformance.rs`) are the two implementations; the JS runtimes
//! have their own reader of the same files (`js/test/cases.mjs`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// The only case file format this checker reads.
pub const FORMAT: &str = "phylax.conformance.v1";

/// Overrides the case directory (e.g. to try a deliberately broken copy).
pub const CASES_ENV: &str = "PHYLAX_CONFORMANCE_CASES";

/// The committed case directory, unless [`CASES_ENV`] names another.
///
/// Found at run time, from the package directory `cargo test` runs the test in, not
/// from a path compiled in: a test binary that a shared build cache carried over from
/// another checkout must still read this checkout's cases.
#[must_use]
pub fn cases_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(CASES_ENV) {
        return PathBuf::from(dir);
    }
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default();
    start
        .ancestors()
        .map(|dir| dir.join("conformance").join("cases"))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("cases"))
}

/// One case file.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaseFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// The file's suite name (`crypto`, `authz-pack`, ...).
    pub suite: String,
    /// What the file covers.
    #[serde(default)]
    pub description: String,
    /// Named engines and keyrings the cases refer to.
    #[serde(default)]
    pub fixtures: Fixtures,
    /// The cases, in order.
    pub cases: Vec<Case>,
}

impl CaseFile {
    /// The name of the engine fixture a case runs on: with the suite, the key under which
    /// a runner keeps the built engine.
    pub fn engine_key(&self, case: &Case) -> Result<(String, String), String> {
        let name = case.engine.clone().ok_or("the case names no engine")?;
        Ok((self.suite.clone(), name))
    }

    /// How to make the engine fixture a case runs on.
    pub fn engine_for(&self, case: &Case) -> Result<EngineSource, String> {
        let name = case.engine.as_deref().ok_or("the case names no engine")?;
        let fixture = self
            .fixtures
            .engines
            .get(name)
            .ok_or_else(|| format!("no engine fixture {name:?}"))?;
        EngineSource::from_fixture(fixture)
    }

    /// The keyring fixture a case runs on.
    pub fn keyring_for(&self, case: &Case) -> Result<&KeyringFixture, String> {
        let name = case.keyring.as_deref().ok_or("the case names no keyring")?;
        self.fixtures
            .keyrings
            .get(name)
            .ok_or_else(|| format!("no keyring fixture {name:?}"))
    }
}

/// Named context shared by a file's cases.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fixtures {
    /// `{"spec": EngineSpec}` or `{"bundle", "publicKey", "entities"?}`.
    #[serde(default)]
    pub engines: BTreeMap<String, Value>,
    /// Stored keyrings and the root key that opens them.
    #[serde(default)]
    pub keyrings: BTreeMap<String, KeyringFixture>,
}

/// A stored keyring state and its root key.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyringFixture {
    /// 64 hex digits.
    pub root_key: String,
    /// The `KeyringState` JSON.
    pub state: Value,
}

/// How an engine fixture is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineSource {
    /// `buildEngine` on this spec JSON text.
    Spec(String),
    /// `loadBundle` on this request JSON text (`{bundle, publicKey, entities?}`).
    Bundle(String),
}

impl EngineSource {
    /// Reads an entry of `fixtures.engines`.
    pub fn from_fixture(fixture: &Value) -> Result<Self, String> {
        match fixture.get("spec") {
            Some(spec) => Ok(Self::Spec(spec.to_string())),
            None if fixture.get("bundle").is_some() => Ok(Self::Bundle(fixture.to_string())),
            None => Err("an engine fixture needs `spec` or `bundle`".to_owned()),
        }
    }
}

/// One case.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Case {
    /// Unique within its file.
    pub name: String,
    /// The call to make (`authorize`, `encryptField`, ...).
    pub op: String,
    /// Its request, exactly the core's JSON request type.
    #[serde(default)]
    pub request: Value,
    /// The engine fixture the call runs on.
    #[serde(default)]
    pub engine: Option<String>,
    /// The keyring fixture the call runs on (opened afresh for the case).
    #[serde(default)]
    pub keyring: Option<String>,
    /// The audit key, 64 hex digits.
    #[serde(default)]
    pub audit_key: Option<String>,
    /// The AES-GCM nonces the case's encryptions draw, in order (24 hex digits each).
    #[serde(default)]
    pub nonces: Vec<String>,
    /// What must come back.
    pub expect: Expect,
}

impl Case {
    /// The case's nonces as bytes.
    pub fn nonce_bytes(&self) -> Result<Vec<[u8; 12]>, String> {
        self.nonces.iter().map(|hex| parse_nonce(hex)).collect()
    }
}

/// The expected answer.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Expect {
    /// Success with exactly this answer.
    Ok(Value),
    /// Success with an answer containing at least this (objects recursively).
    OkIncludes(Value),
    /// Failure with this error code.
    Error(String),
}

fn parse_nonce(hex: &str) -> Result<[u8; 12], String> {
    let bad = || format!("nonce {hex:?} is not 24 hex digits");
    if hex.len() != 24 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 12];
    for (i, byte) in out.iter_mut().enumerate() {
        let pair = hex.get(2 * i..2 * i + 2).ok_or_else(bad)?;
        *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// A runtime under test.
pub trait Runtime {
    /// The name in the report line (`native`, `wasmtime`).
    fn name(&self) -> &'static str;

    /// Makes the case's call and returns its answer JSON (`{"ok": ...}` or
    /// `{"error": {...}}`); `Err` when the runtime could not make the call at all (a
    /// missing fixture, a trap, unused nonces), which fails the case.
    fn answer(&mut self, file: &CaseFile, case: &Case) -> Result<Value, String>;
}

/// Checks an answer against a case's expectation.
pub fn check(expect: &Expect, answer: &Value) -> Result<(), String> {
    let short = |value: &Value| {
        let text = value.to_string();
        match text.char_indices().nth(300) {
            Some((cut, _)) => format!("{}...", text.get(..cut).unwrap_or_default()),
            None => text,
        }
    };
    match (expect, answer.get("ok"), answer.get("error")) {
        (Expect::Ok(want), Some(got), None) if got == want => Ok(()),
        (Expect::Ok(want), Some(got), None) => Err(format!(
            "expected ok {}, got ok {}",
            short(want),
            short(got)
        )),
        (Expect::OkIncludes(want), Some(got), None) => {
            includes(got, want, "").map_err(|at| format!("{at}; got ok {}", short(got)))
        }
        (Expect::Error(code), None, Some(error)) => check_error(code, error),
        (Expect::Ok(_) | Expect::OkIncludes(_), None, Some(error)) => {
            Err(format!("expected ok, got error {}", short(error)))
        }
        (Expect::Error(code), Some(got), None) => {
            Err(format!("expected error {code}, got ok {}", short(got)))
        }
        _ => Err(format!("not an answer: {}", short(answer))),
    }
}

fn check_error(code: &str, error: &Value) -> Result<(), String> {
    let text = |key: &str| error.get(key).and_then(Value::as_str);
    match (text("code"), text("message"), text("hint")) {
        (Some(got), Some(message), Some(_)) if got == code && !message.is_empty() => Ok(()),
        (Some(got), Some(message), Some(_)) if got == code => {
            Err(format!("error {got} has an empty message ({message:?})"))
        }
        (Some(got), _, _) if got != code => Err(format!("expected error {code}, got {error}")),
        _ => Err(format!("error {error} lacks a code, message or hint")),
    }
}

/// `got` contains `want`: objects key by key (recursively), everything else equal.
fn includes(got: &Value, want: &Value, at: &str) -> Result<(), String> {
    match (got, want) {
        (Value::Object(got), Value::Object(want)) => want.iter().try_for_each(|(key, want)| {
            let here = format!("{at}/{key}");
            match got.get(key) {
                Some(got) => includes(got, want, &here),
                None => Err(format!("missing {here}")),
            }
        }),
        _ if got == want => Ok(()),
        _ => Err(format!(
            "at {}: expected {want}, got {got}",
            if at.is_empty() { "/" } else { at }
        )),
    }
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Report {
    /// The runtime's name.
    pub runtime: &'static str,
    /// Cases that matched.
    pub passed: usize,
    /// `suite/name: why` for each case that did not.
    pub failures: Vec<String>,
}

impl Report {
    /// The summary line every runner prints, then up to 25 failures.
    #[must_use]
    pub fn summary(&self) -> String {
        let mut out = format!(
            "conformance {}: {} passed, {} failed",
            self.runtime,
            self.passed,
            self.failures.len()
        );
        for failure in self.failures.iter().take(25) {
            let _ = write!(out, "\n  {failure}");
        }
        if self.failures.len() > 25 {
            let _ = write!(out, "\n  ... and {} more", self.failures.len() - 25);
        }
        out
    }

    /// True when every case passed and there was at least one.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.failures.is_empty() && self.passed > 0
    }
}

/// Reads every `*.json` file of `dir`, sorted by name.
pub fn load(dir: &Path) -> Result<Vec<CaseFile>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|err| format!("cannot read {}: {err}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(format!("no case files in {}", dir.display()));
    }
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
            let file: CaseFile = serde_json::from_str(&text)
                .map_err(|err| format!("{} is not a case file: {err}", path.display()))?;
            if file.format != FORMAT {
                return Err(format!(
                    "{}: format {:?}, this checker reads {FORMAT:?}",
                    path.display(),
                    file.format
                ));
            }
            Ok(file)
        })
        .collect()
}

/// Runs every case of `files` through `runtime`.
pub fn run(runtime: &mut dyn Runtime, files: &[CaseFile]) -> Report {
    let mut report = Report {
        runtime: runtime.name(),
        ..Report::default()
    };
    for file in files {
        for case in &file.cases {
            let verdict = runtime
                .answer(file, case)
                .and_then(|answer| check(&case.expect, &answer));
            match verdict {
                Ok(()) => report.passed += 1,
                Err(why) => report
                    .failures
                    .push(format!("{}/{}: {why}", file.suite, case.name)),
            }
        }
    }
    report
}

/// Loads the committed cases, runs them through `runtime` and prints the summary line;
/// the error names what failed (for a test's `assert!`).
pub fn run_and_report(runtime: &mut dyn Runtime) -> Result<Report, String> {
    let files = load(&cases_dir())?;
    let report = run(runtime, &files);
    println!("{}", report.summary());
    if report.ok() {
        Ok(report)
    } else {
        Err(report.summary())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn exact_includes_and_error_expectations() {
        let answer = json!({"ok": {"decision": "allow", "policies": ["a"], "errors": []}});
        assert!(check(&Expect::Ok(json!({"decision": "allow"})), &answer).is_err());
        assert!(check(&Expect::OkIncludes(json!({"decision": "allow"})), &answer).is_ok());
        assert!(check(&Expect::OkIncludes(json!({"decision": "deny"})), &answer).is_err());
        assert!(check(&Expect::OkIncludes(json!({"policies": []})), &answer).is_err());
        assert!(check(&Expect::Error("x".into()), &answer).is_err());

        let error =
            json!({"error": {"code": "crypto.decrypt_failed", "message": "m", "hint": "h"}});
        assert!(check(&Expect::Error("crypto.decrypt_failed".into()), &error).is_ok());
        assert!(check(&Expect::Error("crypto.key_destroyed".into()), &error).is_err());
        assert!(check(&Expect::OkIncludes(json!({})), &error).is_err());
        let empty = json!({"error": {"code": "c", "message": "", "hint": "h"}});
        assert!(check(&Expect::Error("c".into()), &empty).is_err());
        assert!(check(&Expect::Ok(json!(null)), &json!({"neither": 1})).is_err());
    }

    #[test]
    fn nonces_are_24_hex_digits() {
        assert_eq!(
            parse_nonce("000102030405060708090a0b"),
            Ok([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
        );
        assert!(parse_nonce("00").is_err());
        assert!(parse_nonce("zz0102030405060708090a0b").is_err());
    }
}
