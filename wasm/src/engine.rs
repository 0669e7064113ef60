//! `Engine` handle and bundle functions over `phylax_core::policy`.

use phylax_core::policy::calls::{self, LoadBundleRequest, VerifyBundleRequest};
#[cfg(feature = "authoring")]
use phylax_core::policy::calls::{SignBundleRequest, ValidateRequest};
use phylax_core::policy::Engine as CoreEngine;
#[cfg(feature = "authoring")]
use phylax_core::policy::{pack, EngineSpec};
use wasm_bindgen::prelude::*;

use crate::convert::{check, from_json, to_json};

/// A Cedar engine: policies parsed and validated once, base entities held in WASM memory.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Engine {
    inner: CoreEngine,
}

#[wasm_bindgen]
impl Engine {
    /// Builds from an engine spec (JSON): schema, platform and tenant policies, entities.
    /// `phylax/authoring` only.
    #[cfg(feature = "authoring")]
    #[wasm_bindgen(js_name = fromSpec)]
    pub fn from_spec(spec_json: &str) -> Result<Engine, JsValue> {
        let spec: EngineSpec = from_json(spec_json)?;
        Ok(Self {
            inner: check(calls::build_engine(&spec))?,
        })
    }

    /// Loads a signed bundle (`{bundle, publicKey, entities?}` as JSON) after its
    /// signature verifies.
    #[wasm_bindgen(js_name = fromBundle)]
    pub fn from_bundle(request_json: &str) -> Result<Engine, JsValue> {
        let request: LoadBundleRequest = from_json(request_json)?;
        Ok(Self {
            inner: check(calls::load_bundle(&request))?,
        })
    }

    /// `sha256:` + hex of the policy bundle; every answer carries it.
    #[wasm_bindgen(getter, js_name = bundleHash)]
    pub fn bundle_hash(&self) -> String {
        self.inner.bundle_hash().to_owned()
    }

    /// `AuthorizeRequest` JSON → `{"ok": Decision}` / `{"error": ...}` JSON.
    pub fn authorize(&self, request_json: &str) -> String {
        calls::authorize_json(&self.inner, request_json)
    }

    /// `BatchRequest` JSON → `{"ok": BatchResponse}` / `{"error": ...}` JSON.
    #[wasm_bindgen(js_name = authorizeBatch)]
    pub fn authorize_batch(&self, request_json: &str) -> String {
        calls::authorize_batch_json(&self.inner, request_json)
    }

    /// `FieldsRequest` JSON → `{"ok": FieldsResponse}` / `{"error": ...}` JSON.
    #[wasm_bindgen(js_name = readableFields)]
    pub fn readable_fields(&self, request_json: &str) -> String {
        calls::readable_fields_json(&self.inner, request_json)
    }

    /// `PlanRequest` JSON → `{"ok": Plan}` / `{"error": ...}` JSON.
    #[wasm_bindgen(js_name = planResources)]
    pub fn plan_resources(&self, request_json: &str) -> String {
        calls::plan_resources_json(&self.inner, request_json)
    }
}

/// `{plan, mapping, dialect}` JSON → `{"ok": {sql, params}}` / `{"error": ...}` JSON.
#[wasm_bindgen(js_name = planToSql)]
pub fn plan_to_sql(request_json: &str) -> String {
    calls::plan_to_sql_json(request_json)
}

/// The built-in healthcare pack as an engine spec (JSON), without tenant policies.
/// `phylax/authoring` only (a spec needs `Engine.fromParts`).
#[cfg(feature = "authoring")]
#[wasm_bindgen(js_name = healthcarePackSpec)]
pub fn healthcare_pack_spec() -> Result<String, JsValue> {
    to_json(&check(pack::healthcare(Default::default(), Vec::new()))?)
}

/// `{bundle, publicKey}` JSON → `{hash, version, createdAt}` JSON, or throws.
#[wasm_bindgen(js_name = verifyBundle)]
pub fn verify_bundle(request_json: &str) -> Result<String, JsValue> {
    let request: VerifyBundleRequest = from_json(request_json)?;
    to_json(&check(calls::verify_bundle(&request))?)
}

/// `{bundle, signingKey}` JSON → signed bundle JSON, or throws. `phylax/authoring` only.
#[cfg(feature = "authoring")]
#[wasm_bindgen(js_name = signBundle)]
pub fn sign_bundle(request_json: &str) -> Result<String, JsValue> {
    let request: SignBundleRequest = from_json(request_json)?;
    to_json(&check(calls::sign_bundle(&request))?)
}

/// A new Ed25519 bundle signing key pair as JSON `{secretKey, publicKey}`.
#[wasm_bindgen(js_name = generateSigningKey)]
pub fn generate_signing_key() -> Result<String, JsValue> {
    to_json(&check(calls::generate_signing_key())?)
}

/// `ValidateRequest` JSON → `{valid, error?, diagnostics}` JSON. `phylax/authoring` only.
#[cfg(feature = "authoring")]
#[wasm_bindgen(js_name = validatePolicies)]
pub fn validate_policies(request_json: &str) -> Result<String, JsValue> {
    let request: ValidateRequest = from_json(request_json)?;
    to_json(&calls::validate_policies(&request))
}
