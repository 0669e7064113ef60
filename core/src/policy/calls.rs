//! JSON call types for authorization and bundles (DESIGN.md §1.5).
//!
//! An engine is a stateful handle in every transport (a JS object, a wasm resource, a
//! server-side cache keyed by bundle hash): `buildEngine` and `loadBundle` make one,
//! and the deciding calls take it beside their request. Requests and answers are the
//! types of [`super`]: [`AuthorizeRequest`] → [`Decision`], [`BatchRequest`] →
//! [`BatchResponse`], [`FieldsRequest`] → [`FieldsResponse`]. The `*_json` functions
//! are the whole transport contract: JSON text in, `{"ok":..}` / `{"error":..}` out.

#[cfg(feature = "authoring")]
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::answer::Decision;
use super::batch::{BatchRequest, BatchResponse};
use super::bundle::{Bundle, BundlePublicKey, BundleSigningKey, SignedBundle};
#[cfg(feature = "authoring")]
use super::engine::EngineSpec;
use super::engine::{Engine, EngineOptions};
use super::error::{PolicyError, SourceDiagnostic};
use super::fields::{FieldsRequest, FieldsResponse};
use super::request::AuthorizeRequest;
use super::source::PolicyFile;
use crate::calls::{parse_request, Answer, ErrorBody};
use crate::error::Diagnostic;

/// Load a signed bundle (`loadBundle`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadBundleRequest {
    /// The signed bundle.
    pub bundle: SignedBundle,
    /// The publisher's Ed25519 public key, base64url or hex.
    pub public_key: String,
    /// More base entities (users, tenants ...) not carried in the bundle.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<Value>,
}

/// What a built or loaded engine reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EngineInfo {
    /// `sha256:` + hex; every answer of this engine carries it.
    pub bundle_hash: String,
}

/// Check policies without building an engine (`validatePolicies`), e.g. a tenant's
/// policies before they are stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValidateRequest {
    /// The schema.
    pub schema: String,
    /// The policy files to check.
    pub policies: Vec<PolicyFile>,
    /// When set, the files are checked as this tenant's policies (may name only this
    /// tenant) on top of `platformPolicies`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Platform policies, for checking tenant policies (ids must not collide).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platform_policies: Vec<PolicyFile>,
    /// Base entities, to detect tenant policies naming another tenant's entities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<Value>,
    /// Tenant and field mapping.
    #[serde(default)]
    pub options: EngineOptions,
}

/// The verdict of `validatePolicies`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValidateResponse {
    /// True when the policies would load.
    pub valid: bool,
    /// Why not, when not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
    /// Parse or validation problems with file, line and column.
    pub diagnostics: Vec<SourceDiagnostic>,
}

/// Sign a bundle (`signBundle`), on the host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignBundleRequest {
    /// What to sign.
    pub bundle: Bundle,
    /// The Ed25519 secret key, base64url or hex.
    pub signing_key: String,
}

/// Verify a bundle without loading it (`verifyBundle`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyBundleRequest {
    /// The signed bundle.
    pub bundle: SignedBundle,
    /// The publisher's public key.
    pub public_key: String,
}

/// A verified bundle's identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyBundleResponse {
    /// `sha256:` + hex.
    pub hash: String,
    /// The publisher's version label.
    pub version: String,
    /// Creation time, Unix seconds.
    pub created_at: u64,
}

/// A new bundle signing key pair (`generateSigningKey`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SigningKeyResponse {
    /// The secret key, base64url: store it as a secret.
    pub secret_key: String,
    /// The public key, base64url: give it to every verifier.
    pub public_key: String,
}

impl std::fmt::Debug for SigningKeyResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyResponse")
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

/// `buildEngine`.
#[cfg(feature = "authoring")]
pub fn build_engine(spec: &EngineSpec) -> Result<Engine, PolicyError> {
    Engine::new(spec)
}

/// `loadBundle`.
pub fn load_bundle(req: &LoadBundleRequest) -> Result<Engine, PolicyError> {
    let key = BundlePublicKey::parse(&req.public_key)?;
    Engine::from_bundle_with_entities(&req.bundle, &key, req.entities.clone())
}

/// `engineInfo`.
pub fn engine_info(engine: &Engine) -> EngineInfo {
    EngineInfo {
        bundle_hash: engine.bundle_hash().to_owned(),
    }
}

/// `authorize`.
pub fn authorize(engine: &Engine, req: &AuthorizeRequest) -> Result<Decision, PolicyError> {
    engine.authorize(req)
}

/// `authorizeBatch`.
pub fn authorize_batch(engine: &Engine, req: &BatchRequest) -> Result<BatchResponse, PolicyError> {
    engine.authorize_batch(req)
}

/// `readableFields`.
pub fn readable_fields(
    engine: &Engine,
    req: &FieldsRequest,
) -> Result<FieldsResponse, PolicyError> {
    engine.readable_fields(req)
}

/// `validatePolicies`: never fails; the verdict says what is wrong.
#[cfg(feature = "authoring")]
pub fn validate_policies(req: &ValidateRequest) -> ValidateResponse {
    let spec = match &req.tenant {
        Some(tenant) => EngineSpec {
            schema: req.schema.clone(),
            platform_policies: req.platform_policies.clone(),
            tenant_policies: BTreeMap::from([(tenant.clone(), req.policies.clone())]),
            entities: req.entities.clone(),
            options: req.options.clone(),
        },
        None => EngineSpec {
            schema: req.schema.clone(),
            platform_policies: req.policies.clone(),
            tenant_policies: BTreeMap::new(),
            entities: req.entities.clone(),
            options: req.options.clone(),
        },
    };
    match Engine::with_hash(&spec, String::new()) {
        Ok(_) => ValidateResponse {
            valid: true,
            error: None,
            diagnostics: Vec::new(),
        },
        Err(err) => ValidateResponse {
            valid: false,
            diagnostics: err.diagnostics().to_vec(),
            error: Some(ErrorBody::from_diagnostic(&err)),
        },
    }
}

/// `signBundle`.
#[cfg(feature = "authoring")]
pub fn sign_bundle(req: &SignBundleRequest) -> Result<SignedBundle, PolicyError> {
    let key = BundleSigningKey::parse(&req.signing_key)?;
    // Refuse to sign what would not load: the bundle as signed (schema in JSON form)
    // builds and validates here, so a runtime that skips validation may trust it.
    let bundle = req.bundle.clone().in_runtime_form()?;
    Engine::with_hash(&bundle.spec(), String::new())?;
    key.sign(bundle)
}

/// `verifyBundle`.
pub fn verify_bundle(req: &VerifyBundleRequest) -> Result<VerifyBundleResponse, PolicyError> {
    let key = BundlePublicKey::parse(&req.public_key)?;
    let hash = req.bundle.verify(&key)?;
    Ok(VerifyBundleResponse {
        hash,
        version: req.bundle.bundle.version.clone(),
        created_at: req.bundle.bundle.created_at,
    })
}

/// `generateSigningKey`.
pub fn generate_signing_key() -> Result<SigningKeyResponse, PolicyError> {
    let key = BundleSigningKey::generate()?;
    Ok(SigningKeyResponse {
        secret_key: key.to_secret_string().to_string(),
        public_key: key.public_key().to_string(),
    })
}

/// Runs a call on JSON text: parses the request (`request.malformed` on failure), runs
/// `op`, and serializes the answer.
pub fn call_json<Req, Resp, E>(json: &str, op: impl FnOnce(&Req) -> Result<Resp, E>) -> String
where
    Req: for<'de> Deserialize<'de>,
    Resp: Serialize,
    E: Diagnostic,
{
    let answer = match parse_request::<Req>(json) {
        Ok(req) => Answer::from_result(op(&req)),
        Err(body) => Answer::Error(body),
    };
    answer.to_json()
}

/// `buildEngine` on JSON text: the engine, or the error answer as JSON.
#[cfg(feature = "authoring")]
pub fn build_engine_json(json: &str) -> Result<Engine, String> {
    let spec: EngineSpec = parse_request(json).map_err(|b| Answer::<()>::Error(b).to_json())?;
    Engine::new(&spec)
        .map_err(|err| Answer::<()>::Error(ErrorBody::from_diagnostic(&err)).to_json())
}

/// `loadBundle` on JSON text: the engine, or the error answer as JSON.
pub fn load_bundle_json(json: &str) -> Result<Engine, String> {
    let req: LoadBundleRequest =
        parse_request(json).map_err(|b| Answer::<()>::Error(b).to_json())?;
    load_bundle(&req).map_err(|err| Answer::<()>::Error(ErrorBody::from_diagnostic(&err)).to_json())
}

/// `authorize` on JSON text.
pub fn authorize_json(engine: &Engine, json: &str) -> String {
    call_json(json, |req: &AuthorizeRequest| engine.authorize(req))
}

/// `authorizeBatch` on JSON text.
pub fn authorize_batch_json(engine: &Engine, json: &str) -> String {
    call_json(json, |req: &BatchRequest| engine.authorize_batch(req))
}

/// `readableFields` on JSON text.
pub fn readable_fields_json(engine: &Engine, json: &str) -> String {
    call_json(json, |req: &FieldsRequest| engine.readable_fields(req))
}

/// `planResources` on JSON text: which resources of a type the principal may act on.
pub fn plan_resources_json(engine: &Engine, json: &str) -> String {
    call_json(json, |req: &super::plan::PlanRequest| engine.plan(req))
}

/// `planToSql` on JSON text (`{plan, mapping, dialect}`): a parameterized `WHERE`
/// fragment. A plan nesting deeper than JSON parsing allows (128 levels) is refused as
/// malformed before anything walks it.
pub fn plan_to_sql_json(json: &str) -> String {
    call_json(json, |req: &super::plan::SqlRequest| {
        super::plan::to_sql(&req.plan, &req.mapping, req.dialect)
    })
}
