//! Errors of the authorization engine, its policy loading and its bundles.

use serde::{Deserialize, Serialize};

use crate::error::Diagnostic;

/// Where a policy or schema problem is: file, line and column (1-based), with the
/// policy id when the problem belongs to one policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceDiagnostic {
    /// The file name given with the policies (or `schema`).
    pub file: String,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub column: u32,
    /// The policy the problem belongs to, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for SourceDiagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if let Some(policy) = &self.policy {
            write!(f, "policy `{policy}`: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Formats a list of diagnostics for an error message: the first few, then a count.
fn list(diagnostics: &[SourceDiagnostic]) -> String {
    const SHOWN: usize = 5;
    let mut out = diagnostics
        .iter()
        .take(SHOWN)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if diagnostics.len() > SHOWN {
        out.push_str(&format!("; and {} more", diagnostics.len() - SHOWN));
    }
    out
}

/// Why building an engine, deciding a request or loading a bundle failed.
///
/// Whatever the error, the request it belongs to is denied: a caller that gets an
/// error instead of an answer must treat it as a deny.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The Cedar schema does not parse or is inconsistent. Fix the schema file.
    #[error("invalid schema: {message}")]
    Schema {
        /// Cedar's explanation, with the location when known.
        message: String,
    },
    /// A schema in Cedar's text syntax reached a build that reads only the JSON form
    /// (the npm package's runtime entry): a bundle signed before signers wrote the JSON form.
    #[error("this build reads schemas in Cedar's JSON form only, and the bundle's schema is Cedar schema text")]
    SchemaTextUnsupported,
    /// A policy file does not parse. Fix the syntax at the given place.
    #[error("policies do not parse: {}", list(.diagnostics))]
    Parse {
        /// One entry per syntax error.
        diagnostics: Vec<SourceDiagnostic>,
    },
    /// The policies parse but fail strict validation against the schema (unknown
    /// attribute, wrong type, impossible action ...). Fix the policies or the schema.
    #[error("policies fail strict validation: {}", list(.diagnostics))]
    Validation {
        /// One entry per validation error.
        diagnostics: Vec<SourceDiagnostic>,
    },
    /// Two policies have the same id (from `@id` annotations).
    #[error("policy id `{id}` is used twice")]
    DuplicatePolicyId {
        /// The repeated id.
        id: String,
    },
    /// A tenant's policy was refused: it names another tenant or an entity of another
    /// tenant, or the tenant id itself is not usable.
    #[error("policy `{policy}` of tenant `{tenant}` was rejected: {reason}")]
    TenantPolicy {
        /// The tenant the policy was loaded for.
        tenant: String,
        /// The policy's id.
        policy: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Entities (base or request) are malformed or do not conform to the schema.
    #[error("invalid entities: {message}")]
    Entities {
        /// Cedar's explanation.
        message: String,
    },
    /// A request is malformed: unknown entity type or action, a context that does not
    /// match the action's context type, a principal or resource type the action does
    /// not apply to.
    #[error("invalid request: {message}")]
    Request {
        /// What is wrong.
        message: String,
    },
    /// The tenant given with a request is not the tenant of its resource.
    #[error("the request names tenant `{given}` but its resource belongs to tenant `{actual}`")]
    TenantMismatch {
        /// The tenant in the request.
        given: String,
        /// The resource's tenant.
        actual: String,
    },
    /// A policy's residual for a list query has a shape a plan cannot express exactly
    /// (arithmetic, `like`, extension functions, two attributes compared, an error Cedar
    /// foresees). No plan is made rather than one that admits more rows than
    /// `authorize` would.
    #[error("policy `{policy}` cannot be planned: {reason}")]
    PlanUnsupported {
        /// The policy.
        policy: String,
        /// What it uses that a plan cannot express.
        reason: String,
    },
    /// A plan needs a tenant: none was given and the principal has no tenant attribute.
    #[error("a plan is scoped to one tenant: none was given and the principal has none")]
    PlanTenantRequired,
    /// Cedar's partial evaluation refused the request (e.g. the action does not apply to
    /// the principal and resource types), or the condition is too large.
    #[error("no plan: {message}")]
    PlanFailed {
        /// Why.
        message: String,
    },
    /// The SQL mapping lacks what a condition needs, or a fragment is malformed.
    #[error("the mapping cannot express the plan: `{attribute}`: {reason}")]
    PlanMapping {
        /// The attribute path (or what else) it lacks.
        attribute: String,
        /// What is missing.
        reason: String,
    },
    /// A bundle is not well formed (bad JSON, unknown format, bad encoding of the
    /// hash or signature).
    #[error("malformed bundle: {reason}")]
    BundleMalformed {
        /// What is wrong.
        reason: String,
    },
    /// The bundle's content does not match its hash: it was modified after signing.
    #[error("the bundle was modified after it was signed: its content hashes to `{actual}`, not the signed `{claimed}`")]
    BundleTampered {
        /// The hash the bundle claims.
        claimed: String,
        /// The hash of its content.
        actual: String,
    },
    /// The signature does not verify under the given public key: the bundle was signed
    /// by another key, or the signature was altered.
    #[error("the bundle signature does not verify under public key `{public_key}`")]
    BundleSignatureInvalid {
        /// The public key that was tried (base64url).
        public_key: String,
    },
    /// A signing or public key has the wrong length or encoding.
    #[error("invalid key: {reason}")]
    InvalidKey {
        /// What is wrong.
        reason: &'static str,
    },
    /// No secure randomness for key generation.
    #[error("no secure randomness available")]
    RandomUnavailable,
    /// An input is over one of the limits of [`crate::limits`]; nothing recursive ran.
    #[error(transparent)]
    Limit(#[from] crate::limits::LimitError),
}

impl PolicyError {
    /// The structured diagnostics of a parse or validation error (empty otherwise).
    pub fn diagnostics(&self) -> &[SourceDiagnostic] {
        match self {
            Self::Parse { diagnostics } | Self::Validation { diagnostics } => diagnostics,
            _ => &[],
        }
    }
}

impl Diagnostic for PolicyError {
    fn code(&self) -> &'static str {
        match self {
            Self::Schema { .. } => "policy.schema_invalid",
            Self::SchemaTextUnsupported => "policy.schema_text_unsupported",
            Self::Parse { .. } => "policy.parse_failed",
            Self::Validation { .. } => "policy.validation_failed",
            Self::DuplicatePolicyId { .. } => "policy.duplicate_id",
            Self::TenantPolicy { .. } => "policy.tenant_policy_rejected",
            Self::Entities { .. } => "policy.invalid_entities",
            Self::Request { .. } => "policy.invalid_request",
            Self::TenantMismatch { .. } => "policy.tenant_mismatch",
            Self::PlanUnsupported { .. } => "plan.unsupported",
            Self::PlanTenantRequired => "plan.tenant_required",
            Self::PlanFailed { .. } => "plan.failed",
            Self::PlanMapping { .. } => "plan.mapping_missing",
            Self::BundleMalformed { .. } => "policy.bundle_malformed",
            Self::BundleTampered { .. } => "policy.bundle_tampered",
            Self::BundleSignatureInvalid { .. } => "policy.bundle_signature_invalid",
            Self::InvalidKey { .. } => "policy.invalid_key",
            Self::RandomUnavailable => "policy.random_unavailable",
            Self::Limit(e) => e.code(),
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Schema { .. } => "fix the schema (Cedar schema syntax or JSON schema format) at the place shown",
            Self::SchemaTextUnsupported => "sign the bundle again with a current signer (`phylax bundle`, the server, or `signBundle` from `phylax/authoring`: they write the schema's JSON form), or load it with `phylax/authoring`",
            Self::Parse { .. } => "fix the Cedar syntax at the file, line and column shown",
            Self::Validation { .. } => "make the policies agree with the schema: check attribute names, types and which actions apply to which entity types",
            Self::DuplicatePolicyId { .. } => "give each policy a unique `@id(\"...\")` annotation",
            Self::TenantPolicy { .. } => "a tenant's policies may only name its own tenant and its own entities",
            Self::Entities { .. } => "send entities in Cedar's JSON form (`uid`, `attrs`, `parents`) with attribute types as in the schema",
            Self::Request { .. } => "use entity types and actions from the schema, and a context with the fields the action's context type lists",
            Self::TenantMismatch { .. } => "omit `tenant` to use the resource's tenant, or send the resource of the tenant you named",
            Self::PlanUnsupported { .. } => "decide each resource with `authorize` for this policy shape, or rewrite the policy with comparisons of resource attributes to values",
            Self::PlanTenantRequired => "give `tenant`, or a principal entity with its tenant attribute",
            Self::PlanFailed { .. } => "use an action that applies to the principal's type and the resource type, with a context of the action's context type",
            Self::PlanMapping { .. } => "map every attribute path the plan names to a column (or, for sets, a `contains` fragment with one `?`)",
            Self::BundleMalformed { .. } => "load the bundle exactly as it was produced by bundle signing",
            Self::BundleTampered { .. } => "fetch the bundle again from its source; never edit a signed bundle, rebuild and re-sign it",
            Self::BundleSignatureInvalid { .. } => "check the public key is the one of the key that signed the bundle, and that the bundle comes from your policy host",
            Self::InvalidKey { .. } => "an Ed25519 key is 32 bytes, given as 43 base64url characters or 64 hex digits",
            Self::RandomUnavailable => "run where the OS or the browser offers a secure random source",
            Self::Limit(e) => e.hint(),
        }
    }
}
