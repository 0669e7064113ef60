//! The operator CLI: keys, bundles, check, rewrap (resumable).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

mod common;

use std::process::{Command, Output};

use phylax_core::crypto::{Keyring, RecordSpec, RootKey};
use serde_json::{json, Value};

fn phylax(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(common::bin());
    c.args(args)
        .env_remove("PHYLAX_ROOT_KEY")
        .env_remove("PHYLAX_BUNDLE_SIGNING_KEY");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn bundle_build_sign_verify_and_tamper() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_owned();
    let out = phylax(
        &[
            "keys",
            "generate",
            "--kind",
            "signing",
            "--out",
            &p("signing.json"),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(p("signing.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let keys: Value =
        serde_json::from_str(&std::fs::read_to_string(p("signing.json")).unwrap()).unwrap();
    let out = phylax(
        &[
            "bundle",
            "build",
            "--bundle-version",
            "2024.1",
            "--created-at",
            "1700000000",
            "--out",
            &p("b.json"),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = phylax(
        &[
            "bundle",
            "sign",
            &p("b.json"),
            "--key-file",
            &p("signing.json"),
            "--out",
            &p("s.json"),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pk = keys["publicKey"].as_str().unwrap();
    let out = phylax(&["bundle", "verify", &p("s.json"), "--public-key", pk], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("version 2024.1"));
    // A base64url key may begin with `-` (1 in 64 generated keys): still read as the key.
    // (When the generated key itself begins with `-`, the verify above read it; then
    // change its last character so this one is a different, wrong key.)
    let mut dashed = format!("-{}", &pk[1..]);
    if dashed == pk {
        let last = if pk.ends_with('A') { 'B' } else { 'A' };
        dashed = format!("-{}{last}", &pk[1..pk.len() - 1]);
    }
    let out = phylax(
        &["bundle", "verify", &p("s.json"), "--public-key", &dashed],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        !text(&out.stderr).contains("unexpected argument"),
        "{}",
        text(&out.stderr)
    );
    // Tampered: a policy changed after signing.
    let signed = std::fs::read_to_string(p("s.json")).unwrap();
    let tampered = signed.replacen("forbid", "permit", 1);
    assert_ne!(signed, tampered);
    std::fs::write(p("t.json"), tampered).unwrap();
    let out = phylax(&["bundle", "verify", &p("t.json"), "--public-key", pk], &[]);
    assert!(!out.status.success());
    // Another key.
    let other = phylax(&["keys", "generate", "--kind", "signing"], &[]);
    let other: Value = serde_json::from_slice(&other.stdout).unwrap();
    let out = phylax(
        &[
            "bundle",
            "verify",
            &p("s.json"),
            "--public-key",
            other["publicKey"].as_str().unwrap(),
        ],
        &[],
    );
    assert!(!out.status.success());
}

#[test]
fn check_reports_file_line_column() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.cedar");
    std::fs::write(&good, "@id(\"acme-x\")\npermit (principal in Role::\"staff\", action == Action::\"view\", resource)\nwhen { resource.tenant == Tenant::\"acme\" };\n").unwrap();
    let out = phylax(&["check", "--tenant", "acme", good.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bad = dir.path().join("bad.cedar");
    std::fs::write(
        &bad,
        "@id(\"y\")\npermit (principal, action, resource)\nwhen { resource.nope == 1 };\n",
    )
    .unwrap();
    let out = phylax(&["check", bad.to_str().unwrap()], &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains(&format!("{}:3:", bad.display())), "{err}");
    let syntax = dir.path().join("syntax.cedar");
    std::fs::write(&syntax, "permit (principal, action, resource\n").unwrap();
    let out = phylax(&["check", syntax.to_str().unwrap()], &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("syntax.cedar:"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn check_refuses_a_hostile_policy_without_aborting() {
    // 1,000 nested parentheses (about 2 KB) used to overflow the stack and abort.
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("deep.cedar");
    let cond = format!("{}true{}", "(".repeat(1000), ")".repeat(1000));
    std::fs::write(
        &deep,
        format!("permit (principal, action, resource) when {{ {cond} }};\n"),
    )
    .unwrap();
    let out = phylax(&["check", deep.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("limit.nesting_too_deep"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn rewrap_moves_records_to_the_active_version_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_owned();
    let out = phylax(
        &[
            "keys",
            "generate",
            "--kind",
            "root",
            "--out",
            &p("root.key"),
        ],
        &[],
    );
    assert!(out.status.success());
    let root = RootKey::parse(std::fs::read_to_string(p("root.key")).unwrap().trim()).unwrap();
    let spec: RecordSpec = serde_json::from_value(
        json!({"name": "patients", "fields": [{"pointer": "/diagnosis"}, {"pointer": "/notes"}]}),
    )
    .unwrap();
    std::fs::write(p("spec.json"), serde_json::to_string(&spec).unwrap()).unwrap();
    let mut keyring = Keyring::create("acme", &root, 1).unwrap();
    let mut lines = String::new();
    for i in 0..50 {
        let rec = keyring
            .encrypt_record(
                &spec,
                &format!("r{i}"),
                &json!({"name": format!("n{i}"), "diagnosis": format!("d{i}"), "notes": null}),
            )
            .unwrap();
        lines.push_str(&json!({"recordId": format!("r{i}"), "record": rec.record}).to_string());
        lines.push('\n');
    }
    std::fs::write(p("in.jsonl"), &lines).unwrap();
    keyring.rotate(&root, 2).unwrap();
    std::fs::write(p("keyring.json"), keyring.to_json()).unwrap();
    let args = [
        "rewrap",
        "--in",
        &p("in.jsonl"),
        "--out",
        &p("out.jsonl"),
        "--spec",
        &p("spec.json"),
        "--tenant",
        "acme",
        "--keyring",
        &p("keyring.json"),
        "--root-key-file",
        &p("root.key"),
    ];
    // Simulate an interrupted run: 20 complete lines and a torn one.
    let first: Vec<&str> = lines.lines().take(21).collect();
    let out = phylax(
        &[
            "rewrap",
            "--in",
            &p("in.jsonl"),
            "--out",
            &p("partial.jsonl"),
            "--spec",
            &p("spec.json"),
            "--tenant",
            "acme",
            "--keyring",
            &p("keyring.json"),
            "--root-key-file",
            &p("root.key"),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let full = std::fs::read_to_string(p("partial.jsonl")).unwrap();
    let done: Vec<&str> = full.lines().take(20).collect();
    std::fs::write(
        p("out.jsonl"),
        format!("{}\n{}", done.join("\n"), &first[20][..30]),
    )
    .unwrap();
    let out = phylax(&args, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("20 line(s) resumed"),
        "{}",
        text(&out.stderr)
    );
    let result = std::fs::read_to_string(p("out.jsonl")).unwrap();
    assert_eq!(result.lines().count(), 50);
    for (i, line) in result.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap();
        let ct = v["record"]["diagnosis"].as_str().unwrap();
        assert!(!keyring.needs_rewrap(ct).unwrap(), "line {i} not rewrapped");
        let plain = keyring
            .decrypt_record(&spec, &format!("r{i}"), &v["record"], None)
            .unwrap();
        assert_eq!(plain["diagnosis"], format!("d{i}"));
        assert_eq!(plain["notes"], Value::Null);
    }
}
