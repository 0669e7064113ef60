//! Hostile inputs on a small thread: each is refused by a flat scan before Cedar
//! recurses, and the largest accepted inputs get the stack they need (`stacker`), so
//! neither can overflow the thread whatever its size.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use phylax_core::policy::{Engine, EngineSpec};
use phylax_core::Diagnostic;
use serde_json::json;

const SCHEMA: &str = "entity Tenant; entity User = { tenant: Tenant }; entity Doc = { tenant: Tenant }; action view appliesTo { principal: User, resource: Doc, context: { mfa: Bool } };";

fn build(condition: &str) -> Result<Engine, String> {
    let spec: EngineSpec = serde_json::from_value(json!({
        "schema": SCHEMA,
        "platformPolicies": [{"name": "p.cedar", "text": format!("permit(principal, action, resource) when {{ {condition} }};")}],
    }))
    .unwrap();
    Engine::new(&spec).map_err(|e| e.code().to_owned())
}

/// Runs `f` on a thread with a 256 KiB stack (a tenth of tokio's).
fn on_small_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn the_issue_inputs_are_refused_on_a_small_stack() {
    let results = on_small_thread(|| {
        vec![
            build(&format!(
                "{}context.mfa{}",
                "(".repeat(1000),
                ")".repeat(1000)
            ))
            .err(),
            build(&format!(
                "{}context.mfa{}",
                "(".repeat(125),
                ")".repeat(125)
            ))
            .err(),
            build(&vec!["context.mfa"; 20_000].join(" || ")).err(),
        ]
    });
    assert_eq!(
        results,
        vec![
            Some("limit.nesting_too_deep".to_owned()),
            Some("limit.nesting_too_deep".to_owned()),
            Some("limit.source_too_large".to_owned()),
        ]
    );
}

#[test]
fn the_largest_accepted_inputs_build_and_decide_on_a_small_stack() {
    let decision = on_small_thread(|| {
        let deepest = format!("{}context.mfa{}", "(".repeat(31), ")".repeat(31));
        let longest = vec!["context.mfa"; 127].join(" || "); // with the rest: 255 operators
        let engine = build(&format!("{deepest} && ({longest})")).unwrap();
        let request = serde_json::from_value(json!({
            "principal": {"type": "User", "id": "u"}, "action": {"type": "Action", "id": "view"},
            "resource": {"type": "Doc", "id": "d"}, "context": {"mfa": true},
            "entities": [
                {"uid": {"type": "User", "id": "u"}, "attrs": {"tenant": {"type": "Tenant", "id": "t"}}, "parents": []},
                {"uid": {"type": "Doc", "id": "d"}, "attrs": {"tenant": {"type": "Tenant", "id": "t"}}, "parents": []}
            ]
        }))
        .unwrap();
        engine.authorize(&request).map(|d| d.is_allowed())
    });
    assert_eq!(decision, Ok(true));
}
