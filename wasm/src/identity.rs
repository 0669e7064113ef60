//! API keys, JWT verification and webhook signatures over `phylax_core::identity` and
//! `phylax_core::webhook`. Stateless calls take and give the core's JSON call types.

use phylax_core::identity::{calls as id_calls, JwtConfig, JwtVerifier};
use phylax_core::webhook::calls as webhook_calls;
use wasm_bindgen::prelude::*;

use crate::convert::{check, from_json, to_json};

/// Runs a stateless JSON call: request JSON in, answer JSON out, or a thrown error.
fn json_call<Req, Resp, E>(
    json: &str,
    op: impl FnOnce(&Req) -> Result<Resp, E>,
) -> Result<String, JsValue>
where
    Req: serde::de::DeserializeOwned,
    Resp: serde::Serialize,
    E: phylax_core::Diagnostic,
{
    let request: Req = from_json(json)?;
    to_json(&check(op(&request))?)
}

/// `IssueApiKeyRequest` → `{key, record}` (the key is shown once; store only the record).
#[wasm_bindgen(js_name = issueApiKey)]
pub fn issue_api_key(json: &str) -> Result<String, JsValue> {
    json_call(json, id_calls::issue_api_key)
}

/// `ParseApiKeyRequest` → the key's public parts, checksum checked.
#[wasm_bindgen(js_name = parseApiKey)]
pub fn parse_api_key(json: &str) -> Result<String, JsValue> {
    json_call(json, id_calls::parse_api_key)
}

/// `VerifyApiKeyRequest` → the verified key's tenant, scopes, ...
#[wasm_bindgen(js_name = verifyApiKey)]
pub fn verify_api_key(json: &str) -> Result<String, JsValue> {
    json_call(json, id_calls::verify_api_key)
}

/// `RotateApiKeyRequest` → a new key; the old record gets an overlap window.
#[wasm_bindgen(js_name = rotateApiKey)]
pub fn rotate_api_key(json: &str) -> Result<String, JsValue> {
    json_call(json, id_calls::rotate_api_key)
}

/// `RevokeApiKeyRequest` → the revoked record.
#[wasm_bindgen(js_name = revokeApiKey)]
pub fn revoke_api_key(json: &str) -> Result<String, JsValue> {
    json_call(json, id_calls::revoke_api_key)
}

/// `VerifyTokenWithJwksRequest` → `Identity` (one-shot; use `TokenVerifier` for many).
#[wasm_bindgen(js_name = verifyTokenWithJwks)]
pub fn verify_token_with_jwks(json: &str) -> Result<String, JsValue> {
    json_call(json, id_calls::verify_token_with_jwks)
}

/// Webhook `SignRequest` → `{header}`.
#[wasm_bindgen(js_name = signWebhook)]
pub fn sign_webhook(json: &str) -> Result<String, JsValue> {
    json_call(json, webhook_calls::sign)
}

/// Webhook `VerifyRequest` → `{timestamp, secretIndex}`.
#[wasm_bindgen(js_name = verifyWebhook)]
pub fn verify_webhook(json: &str) -> Result<String, JsValue> {
    json_call(json, webhook_calls::verify)
}

/// A JWT verifier with its configuration and JWKS parsed once.
#[wasm_bindgen]
#[derive(Debug)]
pub struct TokenVerifier {
    inner: JwtVerifier,
}

#[wasm_bindgen]
impl TokenVerifier {
    /// `JwtConfig` JSON and a JWKS document (JSON text).
    #[wasm_bindgen(constructor)]
    pub fn new(config_json: &str, jwks_json: &str) -> Result<TokenVerifier, JsValue> {
        let config: JwtConfig = from_json(config_json)?;
        Ok(Self {
            inner: check(JwtVerifier::new(config, jwks_json))?,
        })
    }

    /// Verifies a token (a leading `Bearer ` is accepted) → `Identity` JSON.
    pub fn verify(&self, token: &str, now: f64) -> Result<String, JsValue> {
        let now = crate::convert::unix_seconds(now)?;
        to_json(&check(self.inner.verify(token, now))?)
    }
}
