//! Cedar's own integration tests, run through the engine's JSON-call path: the
//! hand-written tests and a fixed sample of the generated corpus (see
//! `tests/data/cedar/README.md`). Each test's policies, entities and schema build an
//! engine with `buildEngine`; each request goes through `authorize` as JSON text and
//! must match the expected decision, determining policies and erroring policies.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a failing test should fail loudly"
)]

mod common;

use common::manifest_dir;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use phylax_core::policy::calls::{authorize_json, build_engine_json};
use phylax_core::policy::Decision;
use phylax_core::Answer;
use serde_json::{json, Value};

fn data() -> PathBuf {
    Path::new(&manifest_dir()).join("tests/data/cedar")
}

fn differs() -> BTreeSet<String> {
    std::fs::read_to_string(data().join("validation-differs-in-4.14.txt"))
        .unwrap()
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

#[derive(Default, Debug)]
struct Tally {
    tests: usize,
    rejected_as_expected: usize,
    requests: usize,
    failures: Vec<String>,
}

fn run_test(root: &Path, rel: &str, differs: &BTreeSet<String>, tally: &mut Tally) {
    let test: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join(rel)).unwrap()).unwrap();
    let read = |key: &str| std::fs::read_to_string(root.join(test[key].as_str().unwrap())).unwrap();
    let entities: Value = serde_json::from_str(&read("entities")).unwrap();
    let spec = json!({
        "schema": read("schema"),
        "platformPolicies": [{"name": test["policies"], "text": read("policies")}],
        "entities": entities,
    });
    tally.tests += 1;
    let should_validate = test["shouldValidate"].as_bool().unwrap() || differs.contains(rel);
    let engine = match build_engine_json(&spec.to_string()) {
        Ok(engine) => {
            if !should_validate {
                tally.failures.push(format!(
                    "{rel}: expected strict validation to fail, but the engine was built"
                ));
                return;
            }
            engine
        }
        Err(answer) => {
            let answer: Value = serde_json::from_str(&answer).unwrap();
            let code = answer["error"]["code"].as_str().unwrap_or_default();
            if !should_validate && code == "policy.validation_failed" {
                // The message must point at the policy file with a line number.
                let message = answer["error"]["message"].as_str().unwrap();
                if !message.contains(test["policies"].as_str().unwrap()) {
                    tally.failures.push(format!(
                        "{rel}: validation message names no file: {message}"
                    ));
                }
                tally.rejected_as_expected += 1;
            } else {
                tally
                    .failures
                    .push(format!("{rel}: engine build failed: {answer}"));
            }
            return;
        }
    };
    for req in test["requests"].as_array().unwrap() {
        tally.requests += 1;
        let request = json!({
            "principal": req["principal"],
            "action": req["action"],
            "resource": req["resource"],
            "context": req["context"],
        });
        let answer: Answer<Decision> =
            serde_json::from_str(&authorize_json(&engine, &request.to_string())).unwrap();
        let expected_decision = req["decision"].as_str().unwrap().to_ascii_lowercase();
        let expected_reason: BTreeSet<&str> = req["reason"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let expected_errors: BTreeSet<&str> = req["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        match answer {
            Answer::Ok(d) => {
                let decision = serde_json::to_value(d.decision).unwrap();
                let reason: BTreeSet<&str> = d.policies.iter().map(String::as_str).collect();
                let errors: BTreeSet<&str> = d.errors.iter().map(|e| e.policy.as_str()).collect();
                if decision != expected_decision.as_str()
                    || reason != expected_reason
                    || errors != expected_errors
                {
                    tally.failures.push(format!(
                        "{rel} `{}`: got {decision} {reason:?} errors {errors:?}, expected {expected_decision} {expected_reason:?} errors {expected_errors:?}",
                        req["description"]
                    ));
                }
            }
            Answer::Error(body) => {
                // An input error is a deny with no determining policy.
                if expected_decision != "deny" || !expected_reason.is_empty() {
                    tally.failures.push(format!(
                        "{rel} `{}`: error {body:?}, expected {expected_decision}",
                        req["description"]
                    ));
                }
            }
        }
    }
}

fn tests_in(dir: &Path, pattern: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| pattern(n))
        .collect();
    out.sort();
    out
}

#[test]
fn handwritten_tests_match() {
    let root = data();
    let differs = differs();
    let mut tally = Tally::default();
    for group in tests_in(&root.join("tests"), |_| true) {
        for file in tests_in(&root.join("tests").join(&group), |n| n.ends_with(".json")) {
            run_test(
                &root,
                &format!("tests/{group}/{file}"),
                &differs,
                &mut tally,
            );
        }
    }
    assert!(
        tally.failures.is_empty(),
        "{} failures:\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
    assert_eq!(tally.tests, 22);
    assert_eq!(tally.requests, 74);
}

#[test]
fn corpus_sample_matches() {
    let root = data();
    let differs = differs();
    let mut tally = Tally::default();
    for file in tests_in(&root.join("corpus-tests"), |n| {
        n.ends_with(".json") && !n.ends_with(".entities.json")
    }) {
        run_test(&root, &format!("corpus-tests/{file}"), &differs, &mut tally);
    }
    assert!(
        tally.failures.is_empty(),
        "{} failures (of {} tests):\n{}",
        tally.failures.len(),
        tally.tests,
        tally
            .failures
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(tally.tests, 901);
    assert!(
        tally.requests >= 5_000,
        "only {} requests ran",
        tally.requests
    );
    assert!(tally.rejected_as_expected > 100, "{tally:?}");
    eprintln!("corpus sample: {} tests, {} requests decided, {} rejected by strict validation as expected", tally.tests, tally.requests, tally.rejected_as_expected);
}
