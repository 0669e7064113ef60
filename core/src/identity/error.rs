//! Errors of API keys and JWT verification.

use crate::error::Diagnostic;

/// Why an API key was refused, or could not be issued, rotated or revoked.
///
/// A wrong secret is deliberately opaque ([`ApiKeyError::Invalid`]): it does not say
/// whether the key id exists. Expiry, revocation and rotation are reported only once
/// the secret has verified, so they reveal nothing to someone without the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiKeyError {
    /// The text does not have the shape of a Phylax API key. Fix: send the key exactly as
    /// issued (`phx_live_` or `phx_test_`, then key id, secret and checksum).
    #[error("not a phylax API key: {reason}")]
    Malformed {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The key's checksum does not match: it was mistyped or truncated when copied.
    #[error("the API key's checksum does not match: it was mistyped or cut when copied")]
    Checksum,
    /// The secret does not match the stored hash (or the key belongs to another
    /// environment or tenant).
    #[error("the API key is not valid")]
    Invalid,
    /// The stored record passed in is not the record of this key id: a lookup bug.
    #[error("the stored record is for key `{record}`, not for the presented key `{presented}`")]
    RecordMismatch {
        /// Key id of the record.
        record: String,
        /// Key id of the presented key.
        presented: String,
    },
    /// The key expired at `expires_at`.
    #[error("API key `{key_id}` expired at {expires_at}")]
    Expired {
        /// The key id.
        key_id: String,
        /// Expiry, unix seconds.
        expires_at: u64,
    },
    /// The key was revoked.
    #[error("API key `{key_id}` was revoked at {revoked_at}")]
    Revoked {
        /// The key id.
        key_id: String,
        /// Revocation time, unix seconds.
        revoked_at: u64,
    },
    /// The key was rotated and its overlap window is over.
    #[error("API key `{key_id}` was replaced by `{replaced_by}` and its overlap window ended")]
    Superseded {
        /// The key id.
        key_id: String,
        /// The key that replaced it.
        replaced_by: String,
    },
    /// The key is valid but lacks a scope the operation needs.
    #[error("API key `{key_id}` lacks the scope `{scope}`")]
    MissingScope {
        /// The key id.
        key_id: String,
        /// The scope required.
        scope: String,
    },
    /// A request to issue, rotate or revoke a key is not valid.
    #[error("invalid API key request: {reason}")]
    InvalidRequest {
        /// What is wrong.
        reason: String,
    },
    /// No secure randomness to make a key with.
    #[error("no secure randomness available")]
    RandomUnavailable,
}

impl Diagnostic for ApiKeyError {
    fn code(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "api_key.malformed",
            Self::Checksum => "api_key.checksum",
            Self::Invalid => "api_key.invalid",
            Self::RecordMismatch { .. } => "api_key.record_mismatch",
            Self::Expired { .. } => "api_key.expired",
            Self::Revoked { .. } => "api_key.revoked",
            Self::Superseded { .. } => "api_key.superseded",
            Self::MissingScope { .. } => "api_key.missing_scope",
            Self::InvalidRequest { .. } => "api_key.invalid_request",
            Self::RandomUnavailable => "api_key.random_unavailable",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "send the key exactly as issued: `phx_live_` or `phx_test_`, key id, secret and checksum",
            Self::Checksum => "copy the key again in full; a typo or a cut-off key fails its checksum",
            Self::Invalid => "use a current key of this tenant; ask an administrator for a new one if it was lost",
            Self::RecordMismatch { .. } => "look the stored record up by the key id of the presented key",
            Self::Expired { .. } => "issue a new key (or rotate this one before it expires)",
            Self::Revoked { .. } => "this key was revoked on purpose; issue a new one",
            Self::Superseded { .. } => "switch to the key that replaced it",
            Self::MissingScope { .. } => "issue a key with the scope this operation needs",
            Self::InvalidRequest { .. } => "give a tenant, scopes made of letters, digits and `:._-/*`, and times in unix seconds",
            Self::RandomUnavailable => "run where the OS or the browser offers a secure random source",
        }
    }
}

/// Why a JWT was refused, or a JWKS or verifier configuration is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Not a compact JWS: wrong number of parts, bad base64url, JSON that is not an
    /// object, or too long.
    #[error("the token is malformed: {reason}")]
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
    /// The token claims `alg: none` (unsigned). Never accepted.
    #[error("the token is unsigned (`alg: none`); unsigned tokens are never accepted")]
    AlgNone,
    /// The token's algorithm is not on the allow-list (this includes every HMAC
    /// algorithm, which would let a public key be used as a shared secret).
    #[error("the token's algorithm `{alg}` is not allowed")]
    AlgNotAllowed {
        /// The header's `alg`.
        alg: String,
    },
    /// The header has a field that must be understood but is not (`crit`).
    #[error("the token header is not supported: {reason}")]
    UnsupportedHeader {
        /// What is not supported.
        reason: &'static str,
    },
    /// No key in the JWKS matches the token's `kid`.
    #[error("no key in the JWKS matches the token's key id {}", kid.as_deref().map_or_else(|| "(none given)".to_owned(), |kid| format!("`{kid}`")))]
    UnknownKey {
        /// The header's `kid`.
        kid: Option<String>,
    },
    /// The key named by `kid` is of another type than the algorithm needs, or is
    /// declared for another algorithm.
    #[error("key `{kid}` cannot verify `{alg}` tokens")]
    KeyMismatch {
        /// The key id.
        kid: String,
        /// The header's `alg`.
        alg: String,
    },
    /// The signature does not verify.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// `iss` is not the configured issuer.
    #[error("the token was issued by {}, not by the configured issuer", found.as_deref().map_or_else(|| "no issuer".to_owned(), |iss| format!("`{iss}`")))]
    WrongIssuer {
        /// The token's `iss`.
        found: Option<String>,
    },
    /// `aud` names none of the configured audiences.
    #[error("the token is not meant for this audience")]
    WrongAudience,
    /// `exp` (plus leeway) has passed.
    #[error("the token expired at {exp} (now {now})")]
    Expired {
        /// The token's `exp`.
        exp: u64,
        /// The `now` it was checked at.
        now: u64,
    },
    /// `nbf` (minus leeway) has not come yet.
    #[error("the token is not valid before {nbf} (now {now})")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: u64,
        /// The `now` it was checked at.
        now: u64,
    },
    /// A claim the mapping needs is absent.
    #[error("the token has no `{claim}` claim")]
    MissingClaim {
        /// The claim name.
        claim: String,
    },
    /// A claim has the wrong type.
    #[error("the token's `{claim}` claim is not valid: {reason}")]
    InvalidClaim {
        /// The claim name.
        claim: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The JWKS cannot be used.
    #[error("invalid JWKS: {reason}")]
    InvalidJwks {
        /// What is wrong.
        reason: String,
    },
    /// The verifier configuration cannot be used.
    #[error("invalid token verifier configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: &'static str,
    },
}

impl Diagnostic for JwtError {
    fn code(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "jwt.malformed",
            Self::AlgNone => "jwt.alg_none",
            Self::AlgNotAllowed { .. } => "jwt.alg_not_allowed",
            Self::UnsupportedHeader { .. } => "jwt.unsupported_header",
            Self::UnknownKey { .. } => "jwt.unknown_kid",
            Self::KeyMismatch { .. } => "jwt.key_mismatch",
            Self::BadSignature => "jwt.bad_signature",
            Self::WrongIssuer { .. } => "jwt.wrong_issuer",
            Self::WrongAudience => "jwt.wrong_audience",
            Self::Expired { .. } => "jwt.expired",
            Self::NotYetValid { .. } => "jwt.not_yet_valid",
            Self::MissingClaim { .. } => "jwt.missing_claim",
            Self::InvalidClaim { .. } => "jwt.invalid_claim",
            Self::InvalidJwks { .. } => "jwt.invalid_jwks",
            Self::InvalidConfig { .. } => "jwt.invalid_config",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "send the token exactly as issued: three base64url parts separated by dots",
            Self::AlgNone | Self::AlgNotAllowed { .. } => "issue tokens signed with RS256, ES256 or EdDSA (and allow that algorithm in the configuration)",
            Self::UnsupportedHeader { .. } => "issue tokens without `crit` header parameters",
            Self::UnknownKey { .. } => "refresh the JWKS from the issuer; the signing key may have rotated",
            Self::KeyMismatch { .. } => "check the issuer's JWKS: each key must match the algorithm tokens are signed with",
            Self::BadSignature => "the token was altered or signed by another key; get a new token from the issuer",
            Self::WrongIssuer { .. } => "configure the issuer exactly as it appears in `iss` (Auth0: `https://<tenant>.auth0.com/`, with the slash)",
            Self::WrongAudience => "request the token for this API's audience, or add it to the configured audiences",
            Self::Expired { .. } => "get a fresh token (or check the clock that supplies `now`)",
            Self::NotYetValid { .. } => "wait, or check the clock that supplies `now`",
            Self::MissingClaim { .. } | Self::InvalidClaim { .. } => "add the claim in the issuer (e.g. an Auth0 Action) or configure the claim names the issuer uses",
            Self::InvalidJwks { .. } => "pass the issuer's JWKS document as fetched from its `jwks_uri`",
            Self::InvalidConfig { .. } => "give an issuer, at least one audience, and only RS256, ES256 or EdDSA",
        }
    }
}
