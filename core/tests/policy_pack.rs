//! The healthcare pack's decision table (`pack_cases.json`, generated from the rules in
//! DESIGN.md §1.2 by `data/gen_pack_cases.py`), replayed through the engine's JSON call.
//! Every role x action x same/other tenant x MFA x own/other patient x break-glass.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a failing test should fail loudly"
)]

use std::collections::BTreeMap;

use phylax_core::policy::calls::authorize_json;
use phylax_core::policy::{pack, Decision, Engine};
use phylax_core::Answer;
use serde_json::Value;

fn cases() -> Value {
    serde_json::from_str(include_str!("pack_cases.json")).unwrap()
}

fn engine(cases: &Value) -> Engine {
    let spec = pack::healthcare(
        BTreeMap::new(),
        cases["baseEntities"].as_array().unwrap().clone(),
    )
    .unwrap();
    Engine::new(&spec).unwrap()
}

#[test]
fn pack_decision_table() {
    let cases = cases();
    let engine = engine(&cases);
    let list = cases["cases"].as_array().unwrap();
    assert_eq!(list.len(), 7 * 13 * 2 * 2 * 2 * 2);
    let mut failures = Vec::new();
    let mut allowed = 0;
    for case in list {
        let answer: Answer<Decision> =
            serde_json::from_str(&authorize_json(&engine, &case["request"].to_string())).unwrap();
        let Answer::Ok(d) = answer else {
            failures.push(format!("{}: error {answer:?}", case["name"]));
            continue;
        };
        assert!(
            d.errors.is_empty(),
            "{}: evaluation errors {:?}",
            case["name"],
            d.errors
        );
        assert_eq!(d.bundle_hash, engine.bundle_hash());
        let got = serde_json::json!({"decision": d.decision, "policies": d.policies, "auditFlags": d.audit_flags});
        let want = serde_json::json!({"decision": case["decision"], "policies": case["policies"], "auditFlags": case["auditFlags"]});
        if got != want {
            failures.push(format!("{}: got {got}, expected {want}", case["name"]));
        }
        if d.is_allowed() {
            allowed += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        list.len(),
        failures.join("\n")
    );
    assert_eq!(allowed, 208);
}

#[test]
fn pack_files_have_ids_and_comments() {
    // Every policy in the pack has an @id and a one-line comment right above its annotations.
    let lines: Vec<&str> = pack::POLICIES.lines().collect();
    let mut policies = 0;
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("permit") || line.starts_with("forbid") {
            policies += 1;
            let mut j = i;
            while j > 0 && lines[j - 1].starts_with('@') {
                j -= 1;
            }
            assert!(
                lines[j..i].iter().any(|l| l.starts_with("@id(")),
                "policy at line {} has no @id",
                i + 1
            );
            assert!(
                j > 0 && lines[j - 1].starts_with("//"),
                "policy at line {} has no comment",
                i + 1
            );
        }
    }
    assert_eq!(policies, 15);
}
