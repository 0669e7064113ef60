//! Signed policy bundles: what an engine is built from, hashed and signed so browsers
//! and edge middleware run exactly the policies the host published.
//!
//! Canonical form: the [`Bundle`] serialized as RFC 8785 JSON (JCS: sorted keys, no
//! whitespace, fixed number and string forms). Its hash is SHA-256 over those bytes,
//! written `sha256:` + lowercase hex; every answer carries it. The Ed25519 signature
//! (RFC 8032, pure Rust, so it works in WASM) covers the domain-separated message
//! `phylax.bundle.v1:` ‖ the 32-byte digest, so a signature over anything else can
//! never pass as a bundle signature. Keys and signatures are base64url without padding.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
#[cfg(feature = "authoring")]
use ed25519_dalek::Signer;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::engine::{Engine, EngineOptions, EngineSpec};
use super::error::PolicyError;
use super::source::PolicyFile;

/// The bundle format this code reads and writes.
pub const BUNDLE_FORMAT: &str = "phylax.bundle.v1";

const SIGNING_CONTEXT: &[u8] = b"phylax.bundle.v1:";

/// Schema, platform and tenant policies, base entities, version and creation time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Bundle {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// The publisher's version label, e.g. `2024-06-01.3`.
    pub version: String,
    /// Creation time, Unix seconds (given by the caller: the core has no clock).
    pub created_at: u64,
    /// The schema (Cedar syntax or JSON).
    pub schema: String,
    /// Platform policies.
    pub platform_policies: Vec<PolicyFile>,
    /// Tenant policies by tenant id.
    #[serde(default)]
    pub tenant_policies: std::collections::BTreeMap<String, Vec<PolicyFile>>,
    /// Base entities in Cedar's entity JSON.
    #[serde(default)]
    pub entities: Vec<serde_json::Value>,
    /// Tenant and field mapping.
    #[serde(default)]
    pub options: EngineOptions,
}

/// A bundle with its hash and signature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedBundle {
    /// The content.
    pub bundle: Bundle,
    /// `sha256:` + hex of the bundle's canonical JSON.
    pub hash: String,
    /// Ed25519 signature, base64url.
    pub signature: String,
}

/// SHA-256 of a value's RFC 8785 canonical JSON, as `sha256:` + hex.
pub fn canonical_hash<T: Serialize>(value: &T) -> Result<String, PolicyError> {
    Ok(format_hash(&digest(value)?))
}

fn digest<T: Serialize>(value: &T) -> Result<[u8; 32], PolicyError> {
    let bytes =
        serde_json_canonicalizer::to_vec(value).map_err(|err| PolicyError::BundleMalformed {
            reason: format!("cannot serialize canonically: {err}"),
        })?;
    Ok(Sha256::digest(&bytes).into())
}

fn format_hash(digest: &[u8; 32]) -> String {
    let mut out = String::with_capacity(71);
    out.push_str("sha256:");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn signing_message(digest: &[u8; 32]) -> Vec<u8> {
    let mut msg = SIGNING_CONTEXT.to_vec();
    msg.extend_from_slice(digest);
    msg
}

/// Decodes 32 key bytes from base64url (43 chars) or hex (64 digits).
fn decode_key(text: &str) -> Result<Zeroizing<[u8; 32]>, PolicyError> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| {
                text.get(i * 2..i * 2 + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or(PolicyError::InvalidKey {
                reason: "bad hex digits",
            })?
    } else {
        URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| PolicyError::InvalidKey {
                reason: "not base64url (without padding) or hex",
            })?
    };
    let bytes = Zeroizing::new(bytes);
    let array: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| PolicyError::InvalidKey {
            reason: "an Ed25519 key is 32 bytes",
        })?;
    Ok(Zeroizing::new(array))
}

/// The Ed25519 key that signs bundles. Kept by the host; never printed.
pub struct BundleSigningKey(SigningKey);

impl std::fmt::Debug for BundleSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleSigningKey")
            .field("public_key", &self.public_key().to_string())
            .finish_non_exhaustive()
    }
}

impl BundleSigningKey {
    /// A new random key (OS randomness, or `crypto.getRandomValues` in a browser).
    pub fn generate() -> Result<Self, PolicyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(seed.as_mut_slice()).map_err(|_| PolicyError::RandomUnavailable)?;
        Ok(Self(SigningKey::from_bytes(&seed)))
    }

    /// A key from its 32 secret bytes.
    pub fn from_bytes(secret: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(secret))
    }

    /// A key from its secret in base64url or hex.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let secret = decode_key(text)?;
        Ok(Self::from_bytes(&secret))
    }

    /// The secret in base64url, for storing it. Handle the result as a secret.
    pub fn to_secret_string(&self) -> Zeroizing<String> {
        Zeroizing::new(URL_SAFE_NO_PAD.encode(self.0.to_bytes()))
    }

    /// The public half, given to every verifier.
    pub fn public_key(&self) -> BundlePublicKey {
        BundlePublicKey(self.0.verifying_key())
    }

    /// Hashes and signs a bundle, its schema in Cedar's JSON form
    /// ([`Bundle::in_runtime_form`]). Sign only specs that validate (every signer of
    /// Phylax builds the engine first): a runtime without Cedar's validator trusts the
    /// signature for it.
    #[cfg(feature = "authoring")]
    pub fn sign(&self, bundle: Bundle) -> Result<SignedBundle, PolicyError> {
        let bundle = bundle.in_runtime_form()?;
        if bundle.format != BUNDLE_FORMAT {
            return Err(PolicyError::BundleMalformed {
                reason: format!(
                    "unknown format `{}`, expected `{BUNDLE_FORMAT}`",
                    bundle.format
                ),
            });
        }
        let digest = digest(&bundle)?;
        let signature = self.0.sign(&signing_message(&digest));
        Ok(SignedBundle {
            bundle,
            hash: format_hash(&digest),
            signature: URL_SAFE_NO_PAD.encode(signature.to_bytes()),
        })
    }
}

/// The Ed25519 public key bundles are verified against.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BundlePublicKey(VerifyingKey);

impl std::fmt::Debug for BundlePublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BundlePublicKey({self})")
    }
}

impl std::fmt::Display for BundlePublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0.to_bytes()))
    }
}

impl BundlePublicKey {
    /// A public key from base64url or hex.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let bytes = decode_key(text)?;
        VerifyingKey::from_bytes(&bytes)
            .map(Self)
            .map_err(|_| PolicyError::InvalidKey {
                reason: "not a valid Ed25519 public key",
            })
    }
}

impl Bundle {
    /// A bundle of an engine spec.
    pub fn new(spec: EngineSpec, version: impl Into<String>, created_at: u64) -> Self {
        Self {
            format: BUNDLE_FORMAT.to_owned(),
            version: version.into(),
            created_at,
            schema: spec.schema,
            platform_policies: spec.platform_policies,
            tenant_policies: spec.tenant_policies,
            entities: spec.entities,
            options: spec.options,
        }
    }

    /// The engine spec it carries.
    pub fn spec(&self) -> EngineSpec {
        EngineSpec {
            schema: self.schema.clone(),
            platform_policies: self.platform_policies.clone(),
            tenant_policies: self.tenant_policies.clone(),
            entities: self.entities.clone(),
            options: self.options.clone(),
        }
    }

    /// The same bundle in the form the npm runtime entry loads: the schema in Cedar's
    /// JSON form (canonical; that entry has no schema-text grammar), and every policy
    /// file with its policies in Cedar's JSON policy format beside the text (loading
    /// them skips Cedar's policy grammar, most of a cold start in WebAssembly).
    /// Idempotent; [`BundleSigningKey::sign`] applies it.
    #[cfg(feature = "authoring")]
    pub fn in_runtime_form(mut self) -> Result<Self, PolicyError> {
        self.schema = super::source::schema_json_form(&self.schema, "schema")?;
        let files = self
            .platform_policies
            .iter_mut()
            .chain(self.tenant_policies.values_mut().flatten());
        for file in files {
            file.json = super::source::policies_json_form(file)?;
        }
        Ok(self)
    }

    /// `sha256:` + hex of its canonical JSON.
    pub fn hash(&self) -> Result<String, PolicyError> {
        canonical_hash(self)
    }
}

impl SignedBundle {
    /// Parses a signed bundle from JSON.
    pub fn from_json(json: &str) -> Result<Self, PolicyError> {
        serde_json::from_str(json).map_err(|err| PolicyError::BundleMalformed {
            reason: err.to_string(),
        })
    }

    /// Checks format, hash and signature; returns the verified hash.
    pub fn verify(&self, key: &BundlePublicKey) -> Result<String, PolicyError> {
        if self.bundle.format != BUNDLE_FORMAT {
            return Err(PolicyError::BundleMalformed {
                reason: format!(
                    "unknown format `{}`, expected `{BUNDLE_FORMAT}`",
                    self.bundle.format
                ),
            });
        }
        let digest = digest(&self.bundle)?;
        let actual = format_hash(&digest);
        if actual != self.hash {
            return Err(PolicyError::BundleTampered {
                claimed: self.hash.clone(),
                actual,
            });
        }
        let sig_bytes = URL_SAFE_NO_PAD.decode(self.signature.trim()).map_err(|_| {
            PolicyError::BundleMalformed {
                reason: "the signature is not base64url".to_owned(),
            }
        })?;
        let signature =
            Signature::from_slice(&sig_bytes).map_err(|_| PolicyError::BundleMalformed {
                reason: "the signature is not 64 bytes".to_owned(),
            })?;
        key.0
            .verify_strict(&signing_message(&digest), &signature)
            .map_err(|_| PolicyError::BundleSignatureInvalid {
                public_key: key.to_string(),
            })?;
        Ok(actual)
    }
}

impl Engine {
    /// Builds an engine from a signed bundle, after its signature verifies under `key`.
    /// A bundle that was modified, or signed by another key, is refused.
    pub fn from_bundle(bundle: &SignedBundle, key: &BundlePublicKey) -> Result<Self, PolicyError> {
        let hash = bundle.verify(key)?;
        Self::with_hash(&bundle.bundle.spec(), hash)
    }

    /// As [`Engine::from_bundle`], with more base entities from the host (users,
    /// tenants ... kept out of the bundle). Answers still carry the bundle's hash.
    pub fn from_bundle_with_entities(
        bundle: &SignedBundle,
        key: &BundlePublicKey,
        entities: Vec<serde_json::Value>,
    ) -> Result<Self, PolicyError> {
        let hash = bundle.verify(key)?;
        let mut spec = bundle.bundle.spec();
        spec.entities.extend(entities);
        Self::with_hash(&spec, hash)
    }
}
