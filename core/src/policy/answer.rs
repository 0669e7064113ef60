//! What the engine answers: the decision and everything needed to audit it.
//!
//! The JSON shape is stable API (the JS package, the wasm component and the HTTP server
//! expose exactly these types):
//!
//! ```json
//! {"decision":"allow","policies":["provider-own-patients"],"errors":[],
//!  "auditFlags":[],"bundleHash":"sha256:9f2c..."}
//! ```

use serde::{Deserialize, Serialize};

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Effect {
    /// The request is allowed.
    Allow,
    /// The request is denied (by a forbid, by no permit, or by an evaluation error).
    Deny,
}

/// A policy that failed to evaluate for this request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EvaluationError {
    /// The policy's id.
    pub policy: String,
    /// Cedar's message, e.g. an attribute that does not exist on this entity.
    pub message: String,
}

/// The answer to one authorization request.
///
/// Fail-closed: when any policy fails to evaluate, the decision is `deny` even if a
/// permit was satisfied (Cedar alone would skip the erroring policy, which could skip
/// a `forbid`); `policies` then lists no permit and `errors` says what failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Decision {
    /// `allow` or `deny`.
    pub decision: Effect,
    /// Ids of the determining policies, sorted: the satisfied permits of an allow, the
    /// satisfied forbids of a deny (empty for a default deny).
    pub policies: Vec<String>,
    /// Policies that failed to evaluate.
    pub errors: Vec<EvaluationError>,
    /// `@audit("...")` annotations of the determining policies, sorted, without repeats,
    /// e.g. `break_glass`.
    pub audit_flags: Vec<String>,
    /// `sha256:` + hex of the bundle that decided.
    pub bundle_hash: String,
}

impl Decision {
    /// True for `allow`.
    pub fn is_allowed(&self) -> bool {
        self.decision == Effect::Allow
    }
}
