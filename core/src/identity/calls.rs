//! JSON call types for API keys and tokens (DESIGN.md §1.5).
//!
//! API key calls are stateless: the caller (host or app) stores the records and passes
//! the one it looked up. Token verification has a stateful form (a [`JwtVerifier`]
//! handle holding the parsed JWKS, for the hot path) and a one-shot form.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::api_key::{self, ApiKeyRecord, Environment, NewApiKey, VerifiedApiKey};
use super::claims::Identity;
use super::error::{ApiKeyError, JwtError};
use super::jwt::{JwtConfig, JwtVerifier};

/// `issueApiKey`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssueApiKeyRequest {
    /// The tenant the key acts for.
    pub tenant: String,
    /// `live` (default) or `test`.
    #[serde(default = "live")]
    pub environment: Environment,
    /// Scopes, e.g. `patients:read`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Expiry, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// A label for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Current time, unix seconds.
    pub now: u64,
}

fn live() -> Environment {
    Environment::Live
}

/// A new key: show `apiKey` to its owner once, store `record`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssuedApiKeyResponse {
    /// The key text.
    pub api_key: String,
    /// The record to store.
    pub record: ApiKeyRecord,
    /// After a rotation: the old key's updated record, to store in its place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<ApiKeyRecord>,
}

/// `issueApiKey`.
pub fn issue_api_key(req: &IssueApiKeyRequest) -> Result<IssuedApiKeyResponse, ApiKeyError> {
    let issued = api_key::issue(
        &NewApiKey {
            tenant: req.tenant.clone(),
            environment: req.environment,
            scopes: req.scopes.clone(),
            expires_at: req.expires_at,
            name: req.name.clone(),
        },
        req.now,
    )?;
    Ok(IssuedApiKeyResponse {
        api_key: issued.api_key.expose().to_owned(),
        record: issued.record,
        previous: None,
    })
}

/// `parseApiKey`: shape and checksum, to find the record to look up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParseApiKeyRequest {
    /// The presented key.
    pub api_key: String,
}

/// The public parts of a well-formed key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParsedApiKeyResponse {
    /// Look the record up by this.
    pub key_id: String,
    /// `live` or `test`.
    pub environment: Environment,
}

/// `parseApiKey`.
pub fn parse_api_key(req: &ParseApiKeyRequest) -> Result<ParsedApiKeyResponse, ApiKeyError> {
    let parsed = api_key::parse(&req.api_key)?;
    Ok(ParsedApiKeyResponse {
        key_id: parsed.key_id().to_owned(),
        environment: parsed.environment(),
    })
}

/// `verifyApiKey`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyApiKeyRequest {
    /// The presented key.
    pub api_key: String,
    /// The stored record of its key id.
    pub record: ApiKeyRecord,
    /// Current time, unix seconds.
    pub now: u64,
    /// Scopes the operation needs (all of them).
    #[serde(default)]
    pub required_scopes: Vec<String>,
}

/// `verifyApiKey`.
pub fn verify_api_key(req: &VerifyApiKeyRequest) -> Result<VerifiedApiKey, ApiKeyError> {
    let verified = api_key::verify_text(&req.api_key, &req.record, req.now)?;
    for scope in &req.required_scopes {
        verified.require_scope(scope)?;
    }
    Ok(verified)
}

/// `rotateApiKey`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateApiKeyRequest {
    /// The current key's record.
    pub record: ApiKeyRecord,
    /// Current time, unix seconds.
    pub now: u64,
    /// How long the old key keeps working, in seconds.
    pub overlap_seconds: u64,
    /// Expiry of the new key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
}

/// `rotateApiKey`.
pub fn rotate_api_key(req: &RotateApiKeyRequest) -> Result<IssuedApiKeyResponse, ApiKeyError> {
    let rotation = api_key::rotate(&req.record, req.now, req.overlap_seconds, req.expires_at)?;
    Ok(IssuedApiKeyResponse {
        api_key: rotation.issued.api_key.expose().to_owned(),
        record: rotation.issued.record,
        previous: Some(rotation.previous),
    })
}

/// `revokeApiKey`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevokeApiKeyRequest {
    /// The key's record.
    pub record: ApiKeyRecord,
    /// Current time, unix seconds.
    pub now: u64,
}

/// The updated record to store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordResponse {
    /// The record.
    pub record: ApiKeyRecord,
}

/// `revokeApiKey`. Cannot fail; returns a `Result` like every other call so each
/// transport wraps it the same way.
pub fn revoke_api_key(req: &RevokeApiKeyRequest) -> Result<RecordResponse, ApiKeyError> {
    Ok(RecordResponse {
        record: api_key::revoke(&req.record, req.now),
    })
}

/// `verifyToken` on a verifier handle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyTokenRequest {
    /// The token (a leading `Bearer ` is accepted).
    pub token: String,
    /// Current time, unix seconds.
    pub now: u64,
}

/// `verifyToken`.
pub fn verify_token(
    verifier: &JwtVerifier,
    req: &VerifyTokenRequest,
) -> Result<Identity, JwtError> {
    verifier.verify(&req.token, req.now)
}

/// `verifyTokenWithJwks`: one-shot, with the configuration and JWKS in the request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyTokenWithJwksRequest {
    /// The token.
    pub token: String,
    /// Current time, unix seconds.
    pub now: u64,
    /// What the token must satisfy.
    pub config: JwtConfig,
    /// The issuer's JWKS document (an object with `keys`).
    pub jwks: Value,
}

/// `verifyTokenWithJwks`.
pub fn verify_token_with_jwks(req: &VerifyTokenWithJwksRequest) -> Result<Identity, JwtError> {
    let verifier = JwtVerifier::new(req.config.clone(), &req.jwks.to_string())?;
    verifier.verify(&req.token, req.now)
}
