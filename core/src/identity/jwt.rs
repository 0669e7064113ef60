//! JWT bearer tokens: compact JWS verification with RS256, ES256 and EdDSA.
//!
//! # Why not the `jsonwebtoken` crate
//!
//! The verifier is a few hundred lines over RustCrypto (`rsa` 0.9, `p256` 0.13,
//! `ed25519-dalek` 2) instead of a JWT library, because the core needs three things a
//! library makes hard: (1) **no clock**: `now` is an argument, while `jsonwebtoken`
//! reads the system time, which panics on `wasm32-unknown-unknown`; (2) **the same
//! pure-Rust crypto on every target**, in the RustCrypto generation the rest of the core
//! uses (recent `jsonwebtoken` releases pull newer generations or native backends); and
//! (3) **one distinct, stable error per refusal** (`jwt.alg_none`, `jwt.unknown_kid`,
//! `jwt.expired` ...), which clients and the conformance cases match on.
//!
//! # What is checked, in order
//!
//! 1. Shape: three base64url parts (no padding), at most 16 KiB, a JSON object header.
//! 2. `alg`: `none` in any spelling is refused ([`JwtError::AlgNone`]); anything not on
//!    the allow-list ([`JwtConfig::algorithms`], only RS256/ES256/EdDSA can be listed) is
//!    refused, so an HS256 token "signed" with a public key as the HMAC secret can never
//!    verify: there is no HMAC code path at all.
//! 3. `crit` header parameters are refused; `jku`, `x5u`, `jwk` are ignored (keys only
//!    ever come from the configured JWKS).
//! 4. The key: by `kid` in the JWKS (without `kid`, only if exactly one key fits the
//!    algorithm). The key's type must be the algorithm's (an RSA key never verifies an
//!    ES256 token) and a key's declared `alg`, if any, must match.
//! 5. The signature (RSA PKCS#1 v1.5 / SHA-256; ECDSA P-256 / SHA-256 with the 64-byte
//!    `r‖s` encoding, either form of `s`: see `verify_signature`; Ed25519 with strict
//!    verification).
//! 6. Claims, only after the signature: `iss` equals the issuer; `aud` (string or array)
//!    names a configured audience; `exp` is required and `now < exp + leeway`; `nbf`, if
//!    present, `nbf - leeway <= now`. Times are NumericDates (fractions are floored).
//! 7. The claim mapping to an [`Identity`] ([`super::claims`]).
//!
//! `rsa` 0.9 carries an advisory (RUSTSEC-2023-0071, "Marvin") about timing leaks of
//! RSA *private-key* operations; verification uses only public keys and is unaffected.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::claims::{ClaimMapping, Identity};
use super::error::JwtError;
use super::jwks::{Jwk, Jwks, PublicKey};

/// Longest token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// A signature algorithm the verifier can allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    #[serde(rename = "RS256")]
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    #[serde(rename = "ES256")]
    Es256,
    /// Ed25519.
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl Algorithm {
    /// The JOSE name (`RS256`, `ES256`, `EdDSA`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            "EdDSA" => Some(Self::EdDsa),
            _ => None,
        }
    }
}

fn all_algorithms() -> Vec<Algorithm> {
    vec![Algorithm::Rs256, Algorithm::Es256, Algorithm::EdDsa]
}

fn default_leeway() -> u64 {
    60
}

fn yes() -> bool {
    true
}

/// What a token must satisfy, and how its claims map to an [`Identity`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JwtConfig {
    /// The exact `iss` (Auth0: `https://<tenant>.auth0.com/`, trailing slash included).
    pub issuer: String,
    /// Accepted audiences; a token must name at least one of them in `aud`.
    pub audiences: Vec<String>,
    /// The allow-list (default: all three).
    #[serde(default = "all_algorithms")]
    pub algorithms: Vec<Algorithm>,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds (default 60, at most 600).
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    /// Claim names (defaults: `sub`, Auth0-style namespaced tenant and roles, `amr`).
    #[serde(default)]
    pub claims: ClaimMapping,
    /// Refuse tokens without a tenant claim (default true).
    #[serde(default = "yes")]
    pub require_tenant: bool,
}

impl JwtConfig {
    /// A configuration with the defaults for everything but issuer and audience.
    pub fn new(issuer: &str, audience: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            audiences: vec![audience.to_owned()],
            algorithms: all_algorithms(),
            leeway_seconds: default_leeway(),
            claims: ClaimMapping::default(),
            require_tenant: true,
        }
    }

    fn validate(&self) -> Result<(), JwtError> {
        let bad = |reason| Err(JwtError::InvalidConfig { reason });
        if self.issuer.is_empty() {
            return bad("the issuer is empty");
        }
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            return bad("give at least one non-empty audience");
        }
        if self.algorithms.is_empty() {
            return bad("allow at least one algorithm");
        }
        if self.leeway_seconds > 600 {
            return bad("the leeway is at most 600 seconds");
        }
        self.claims.validate()
    }
}

/// Verifies tokens of one issuer: the configuration and parsed JWKS, built once.
#[derive(Clone, Debug)]
pub struct JwtVerifier {
    config: JwtConfig,
    jwks: Jwks,
}

/// A token's parts after its signature verified.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedToken {
    /// The header's `alg`.
    pub algorithm: Algorithm,
    /// The header's `kid`.
    pub kid: Option<String>,
    /// All claims.
    pub claims: Map<String, Value>,
}

impl JwtVerifier {
    /// Builds a verifier from a configuration and the issuer's JWKS document.
    pub fn new(config: JwtConfig, jwks_json: &str) -> Result<Self, JwtError> {
        Self::with_jwks(config, Jwks::parse(jwks_json)?)
    }

    /// Builds a verifier from a parsed JWKS.
    pub fn with_jwks(config: JwtConfig, jwks: Jwks) -> Result<Self, JwtError> {
        config.validate()?;
        Ok(Self { config, jwks })
    }

    /// Replaces the keys (after refetching the issuer's JWKS).
    pub fn set_jwks(&mut self, jwks: Jwks) {
        self.jwks = jwks;
    }

    /// The configuration.
    pub fn config(&self) -> &JwtConfig {
        &self.config
    }

    /// Verifies `token` at `now` (unix seconds) and maps its claims to an identity.
    pub fn verify(&self, token: &str, now: u64) -> Result<Identity, JwtError> {
        let verified = self.verify_token(token, now)?;
        self.config
            .claims
            .map(&verified.claims, self.config.require_tenant)
    }

    /// Verifies `token` at `now` and returns its claims without mapping them.
    pub fn verify_token(&self, token: &str, now: u64) -> Result<VerifiedToken, JwtError> {
        let malformed = |reason| JwtError::Malformed { reason };
        let token = token.trim();
        let token = token.strip_prefix("Bearer ").unwrap_or(token);
        if token.len() > MAX_TOKEN_LEN {
            return Err(malformed("longer than 16 KiB"));
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("expected three parts separated by `.`"));
        };
        let header = decode_object(header_b64)
            .ok_or(malformed("the header is not base64url JSON object"))?;

        // The algorithm, before anything else is trusted.
        let alg_name = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or(malformed("the header has no `alg`"))?;
        if alg_name.eq_ignore_ascii_case("none") {
            return Err(JwtError::AlgNone);
        }
        let algorithm = Algorithm::from_name(alg_name)
            .filter(|alg| self.config.algorithms.contains(alg))
            .ok_or_else(|| JwtError::AlgNotAllowed {
                alg: alg_name.chars().take(32).collect(),
            })?;
        if header.contains_key("crit") {
            return Err(JwtError::UnsupportedHeader {
                reason: "`crit` header parameters are not supported",
            });
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(_) => return Err(malformed("the header's `kid` is not a string")),
        };
        let key = self.find_key(kid.as_deref(), algorithm)?;

        let signature = URL_SAFE_NO_PAD
            .decode(signature_b64)
            .map_err(|_| malformed("the signature is not base64url"))?;
        let payload_bytes = URL_SAFE_NO_PAD
            .decode(payload_b64)
            .map_err(|_| malformed("the payload is not base64url"))?;
        let signing_input_len = header_b64.len() + 1 + payload_b64.len();
        let signing_input = token
            .get(..signing_input_len)
            .unwrap_or_default()
            .as_bytes();
        verify_signature(&key.key, signing_input, &signature)?;

        let claims: Map<String, Value> = serde_json::from_slice(&payload_bytes)
            .map_err(|_| malformed("the payload is not a JSON object"))?;
        self.check_claims(&claims, now)?;
        Ok(VerifiedToken {
            algorithm,
            kid,
            claims,
        })
    }

    fn find_key(&self, kid: Option<&str>, algorithm: Algorithm) -> Result<&Jwk, JwtError> {
        let Some(kid) = kid else {
            let mut fitting = self
                .jwks
                .keys
                .iter()
                .filter(|k| k.key.algorithm() == algorithm);
            return match (fitting.next(), fitting.next()) {
                (Some(key), None) => Ok(key),
                _ => Err(JwtError::UnknownKey { kid: None }),
            };
        };
        let mut named = self
            .jwks
            .keys
            .iter()
            .filter(|k| k.kid.as_deref() == Some(kid));
        let Some(first) = named.next() else {
            if self.jwks.skipped(kid).is_some() {
                return Err(JwtError::KeyMismatch {
                    kid: kid.to_owned(),
                    alg: algorithm.name().to_owned(),
                });
            }
            return Err(JwtError::UnknownKey {
                kid: Some(kid.to_owned()),
            });
        };
        let key = std::iter::once(first)
            .chain(named)
            .find(|k| k.key.algorithm() == algorithm)
            .ok_or_else(|| JwtError::KeyMismatch {
                kid: kid.to_owned(),
                alg: algorithm.name().to_owned(),
            })?;
        if key
            .alg
            .as_deref()
            .is_some_and(|declared| declared != algorithm.name())
        {
            return Err(JwtError::KeyMismatch {
                kid: kid.to_owned(),
                alg: algorithm.name().to_owned(),
            });
        }
        Ok(key)
    }

    fn check_claims(&self, claims: &Map<String, Value>, now: u64) -> Result<(), JwtError> {
        let iss = claims.get("iss").and_then(Value::as_str);
        if iss != Some(self.config.issuer.as_str()) {
            return Err(JwtError::WrongIssuer {
                found: iss.map(|iss| iss.chars().take(256).collect()),
            });
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => self.config.audiences.contains(aud),
            Some(Value::Array(auds)) => auds
                .iter()
                .filter_map(Value::as_str)
                .any(|aud| self.config.audiences.iter().any(|a| a == aud)),
            _ => false,
        };
        if !audience_ok {
            return Err(JwtError::WrongAudience);
        }
        let leeway = self.config.leeway_seconds;
        let exp = numeric_date(claims, "exp")?.ok_or_else(|| JwtError::MissingClaim {
            claim: "exp".to_owned(),
        })?;
        if now >= exp.saturating_add(leeway) {
            return Err(JwtError::Expired { exp, now });
        }
        if let Some(nbf) = numeric_date(claims, "nbf")? {
            if now.saturating_add(leeway) < nbf {
                return Err(JwtError::NotYetValid { nbf, now });
            }
        }
        Ok(())
    }
}

/// Verifies in one call, parsing the configuration's JWKS each time (prefer a
/// [`JwtVerifier`] kept across requests).
pub fn verify_with_jwks(
    config: JwtConfig,
    jwks_json: &str,
    token: &str,
    now: u64,
) -> Result<Identity, JwtError> {
    JwtVerifier::new(config, jwks_json)?.verify(token, now)
}

fn decode_object(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A NumericDate claim: a non-negative number of seconds, fractions floored.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, JwtError> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    let invalid = || JwtError::InvalidClaim {
        claim: name.to_owned(),
        reason: "not a non-negative number of seconds",
    };
    if let Some(seconds) = value.as_u64() {
        return Ok(Some(seconds));
    }
    let seconds = value
        .as_f64()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .ok_or_else(invalid)?;
    // Saturating float-to-int conversion; floors fractions.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "range checked above; `as` saturates"
    )]
    Ok(Some(seconds.floor() as u64))
}

fn verify_signature(key: &PublicKey, message: &[u8], signature: &[u8]) -> Result<(), JwtError> {
    use p256::ecdsa::signature::Verifier as _;
    let ok = match key {
        PublicKey::Rsa(key) => rsa::pkcs1v15::Signature::try_from(signature)
            .ok()
            .is_some_and(|sig| key.verify(message, &sig).is_ok()),
        // ECDSA is malleable: (r, n - s) verifies as well as (r, s). Both forms are
        // accepted on purpose: JWS (RFC 7518 §3.4) does not require low-S, and signers
        // built on OpenSSL, Go or Java (and RustCrypto's own) emit high-S about half the
        // time, so refusing it would refuse valid tokens at random. What a token says is
        // its claims; never key a replay cache on the token's bytes (use `jti`).
        PublicKey::P256(key) => p256::ecdsa::Signature::from_slice(signature)
            .ok()
            .is_some_and(|sig| key.verify(message, &sig).is_ok()),
        PublicKey::Ed25519(key) => ed25519_dalek::Signature::from_slice(signature)
            .ok()
            .is_some_and(|sig| key.verify_strict(message, &sig).is_ok()),
    };
    if ok {
        Ok(())
    } else {
        Err(JwtError::BadSignature)
    }
}
