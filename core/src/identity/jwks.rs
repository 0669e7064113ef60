//! JSON Web Key Sets (RFC 7517): the issuer's public keys, parsed once.
//!
//! Supported keys: RSA (`kty: RSA`, at least 2048 bits) for RS256, P-256 (`kty: EC`,
//! `crv: P-256`) for ES256 and Ed25519 (`kty: OKP`, `crv: Ed25519`) for EdDSA. Keys of
//! other types, curves or uses (`use: enc`) are skipped, not fatal: real JWKS documents
//! mix key types, and a token naming a skipped key fails with a clear error. Certificate
//! chains (`x5c`) are ignored: the key parameters themselves are used.
//!
//! Parsing builds the verifying keys once (RSA modulus, decompressed curve points), so
//! verifying a token does no key parsing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

use super::error::JwtError;
use super::jwt::Algorithm;

/// A public key ready to verify signatures.
#[derive(Clone, Debug)]
pub(crate) enum PublicKey {
    /// RSA, for RS256 (PKCS#1 v1.5 with SHA-256).
    Rsa(rsa::pkcs1v15::VerifyingKey<sha2::Sha256>),
    /// P-256, for ES256.
    P256(p256::ecdsa::VerifyingKey),
    /// Ed25519, for EdDSA.
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl PublicKey {
    /// The one algorithm this key verifies.
    pub(crate) fn algorithm(&self) -> Algorithm {
        match self {
            Self::Rsa(_) => Algorithm::Rs256,
            Self::P256(_) => Algorithm::Es256,
            Self::Ed25519(_) => Algorithm::EdDsa,
        }
    }
}

/// One usable key of the set.
#[derive(Clone, Debug)]
pub(crate) struct Jwk {
    pub(crate) kid: Option<String>,
    /// The key's declared `alg`, if any (must then equal the token's).
    pub(crate) alg: Option<String>,
    pub(crate) key: PublicKey,
}

/// A parsed JWKS.
#[derive(Clone, Debug, Default)]
pub struct Jwks {
    pub(crate) keys: Vec<Jwk>,
    /// Key ids of keys that were skipped, with why.
    skipped: Vec<(Option<String>, &'static str)>,
}

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

impl Jwks {
    /// Parses a JWKS document (`{"keys": [...]}`).
    pub fn parse(json: &str) -> Result<Self, JwtError> {
        let doc: Value = serde_json::from_str(json).map_err(|err| JwtError::InvalidJwks {
            reason: format!("not JSON: {err}"),
        })?;
        let keys =
            doc.get("keys")
                .and_then(Value::as_array)
                .ok_or_else(|| JwtError::InvalidJwks {
                    reason: "expected an object with a `keys` array".to_owned(),
                })?;
        let mut set = Self::default();
        for key in keys {
            let kid = key.get("kid").and_then(Value::as_str).map(str::to_owned);
            match parse_key(key) {
                Ok(Ok(jwk)) => set.keys.push(jwk),
                Ok(Err(why)) => set.skipped.push((kid, why)),
                Err(reason) => {
                    return Err(JwtError::InvalidJwks {
                        reason: format!(
                            "key {}: {reason}",
                            kid.as_deref().unwrap_or("without kid")
                        ),
                    })
                }
            }
        }
        // A kid names one key: with two, which one verifies would depend on order.
        let mut kids = std::collections::HashSet::new();
        let named = set
            .keys
            .iter()
            .map(|k| k.kid.as_deref())
            .chain(set.skipped.iter().map(|(kid, _)| kid.as_deref()));
        for kid in named.flatten() {
            if !kids.insert(kid) {
                return Err(JwtError::InvalidJwks {
                    reason: format!("key id `{kid}` names two keys"),
                });
            }
        }
        if set.keys.is_empty() {
            return Err(JwtError::InvalidJwks {
                reason:
                    "no usable key (RSA of at least 2048 bits, P-256 or Ed25519, for signatures)"
                        .to_owned(),
            });
        }
        Ok(set)
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it holds no usable key (never true for a parsed set).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key ids of the usable keys.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().filter_map(|key| key.kid.as_deref())
    }

    /// Whether `kid` names a key that was skipped as unsupported.
    pub(crate) fn skipped(&self, kid: &str) -> Option<&'static str> {
        self.skipped
            .iter()
            .find(|(skipped, _)| skipped.as_deref() == Some(kid))
            .map(|(_, why)| *why)
    }
}

fn field<'a>(key: &'a Value, name: &str) -> Option<&'a str> {
    key.get(name).and_then(Value::as_str)
}

fn b64(key: &Value, name: &'static str) -> Result<Vec<u8>, String> {
    let text = field(key, name).ok_or_else(|| format!("`{name}` is missing"))?;
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| format!("`{name}` is not base64url"))
}

/// A usable key, or why it is skipped; an error for a key that is broken.
fn parse_key(key: &Value) -> Result<Result<Jwk, &'static str>, String> {
    if field(key, "use").is_some_and(|u| u != "sig") {
        return Ok(Err("it is not for signatures (`use`)"));
    }
    let kid = field(key, "kid").map(str::to_owned);
    let alg = field(key, "alg").map(str::to_owned);
    let public = match (field(key, "kty"), field(key, "crv")) {
        (Some("RSA"), _) => {
            let n = rsa::BigUint::from_bytes_be(&b64(key, "n")?);
            let e = rsa::BigUint::from_bytes_be(&b64(key, "e")?);
            if n.bits() < MIN_RSA_BITS {
                return Ok(Err("the RSA key is shorter than 2048 bits"));
            }
            let public = rsa::RsaPublicKey::new(n, e)
                .map_err(|err| format!("not a valid RSA key: {err}"))?;
            PublicKey::Rsa(rsa::pkcs1v15::VerifyingKey::new(public))
        }
        (Some("EC"), Some("P-256")) => {
            let x = b64(key, "x")?;
            let y = b64(key, "y")?;
            if x.len() != 32 || y.len() != 32 {
                return Err("P-256 coordinates must be 32 bytes each".to_owned());
            }
            let point = p256::EncodedPoint::from_affine_coordinates(
                p256::FieldBytes::from_slice(&x),
                p256::FieldBytes::from_slice(&y),
                false,
            );
            let public = p256::ecdsa::VerifyingKey::from_encoded_point(&point)
                .map_err(|_| "the P-256 point is not on the curve".to_owned())?;
            PublicKey::P256(public)
        }
        (Some("OKP"), Some("Ed25519")) => {
            let x: [u8; 32] = b64(key, "x")?
                .try_into()
                .map_err(|_| "an Ed25519 key must be 32 bytes".to_owned())?;
            let public = ed25519_dalek::VerifyingKey::from_bytes(&x)
                .map_err(|_| "not a valid Ed25519 key".to_owned())?;
            PublicKey::Ed25519(public)
        }
        (Some(_), _) => return Ok(Err("its key type or curve is not supported")),
        (None, _) => return Err("`kty` is missing".to_owned()),
    };
    Ok(Ok(Jwk {
        kid,
        alg,
        key: public,
    }))
}
