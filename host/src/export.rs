//! A tenant's export archive: one JSON document a departing customer (or an auditor)
//! keeps, verifiable offline with `phylax audit verify --export FILE`.
//!
//! What it holds, each as one section: the tenant (state, settings), every policy
//! version, API key metadata (never a hash or secret), key metadata (versions and
//! dates, never a key), the audit chain (the prune record it starts after, if pruned,
//! every record, and a checkpoint of its head signed at export time) and, only when the
//! tenant supplied an X25519 public key, its data and index keys sealed to that key with
//! HPKE (RFC 9180: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, base mode,
//! the tenant id as associated data). Without that key no key material leaves.
//!
//! Why it verifies offline: a manifest lists the SHA-256 of each section's RFC 8785
//! canonical JSON and is signed with the host's Ed25519 key (the bundle signing key,
//! under the domain `phylax/export/v1`; its public key is `GET /v1/bundles/public-key`).
//! A verifier names the section that changed; with the audit key it also walks the
//! chain and names the first bad record and the kind of fault.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable as _, Kem as _, OpModeR, OpModeS, Serializable as _};
use phylax_core::audit::{
    self, AuditKey, AuditRecord, Checkpoint, CheckpointVerifier, PruneRecord,
};
use phylax_core::crypto::{Keyring, KeyringState, RootKeys, Secret32};
use phylax_core::policy::BundleSigningKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{ApiError, ApiResult};
use crate::lifecycle::{host_signer, wrong_state};
use crate::routes::tenants::info;
use crate::store::{Store, TenantState};

/// The archive format this build writes and reads.
pub const FORMAT: &str = "phylax-tenant-export/1";
/// The HPKE suite of sealed keys.
pub const HPKE_SUITE: &str = "DHKEM(X25519,HKDF-SHA256)/HKDF-SHA256/AES-256-GCM";
const SIGNING_DOMAIN: &[u8] = b"phylax/export/v1";
const HPKE_INFO: &[u8] = b"phylax/export/keys/v1";

/// One export.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Archive {
    /// [`FORMAT`].
    pub format: String,
    /// The tenant.
    pub tenant: String,
    /// When it was made, unix seconds.
    pub exported_at: u64,
    /// The content.
    pub sections: Sections,
    /// Digests of the sections, signed.
    pub manifest: Manifest,
}

/// The content of an export.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sections {
    /// The tenant as `GET /v1/tenants/{tenant}` shows it.
    pub tenant: Value,
    /// Every policy version, oldest first: `{version, createdAt, files}`.
    pub policies: Vec<Value>,
    /// API key metadata (id, scopes, dates; never the hash).
    pub api_keys: Vec<Value>,
    /// Key metadata: root key id, versions and their creation times, never a key.
    pub keys: Value,
    /// The audit chain.
    pub audit: AuditSection,
    /// The tenant's keys sealed to its public key, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_keys: Option<SealedKeys>,
}

/// The audit chain in an export.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditSection {
    /// The prune record the chain starts after, if it was pruned at retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<PruneRecord>,
    /// Every record kept, in order.
    pub records: Vec<AuditRecord>,
    /// The head at export time, signed (absent for an empty chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
}

/// Keys sealed with HPKE to the tenant's X25519 public key.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SealedKeys {
    /// [`HPKE_SUITE`].
    pub suite: String,
    /// The recipient's public key, base64url.
    pub recipient: String,
    /// The encapsulated key, base64url.
    pub enc: String,
    /// The sealed key material, base64url.
    pub ciphertext: String,
}

/// The signed list of section digests.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    /// Section name → SHA-256 (hex) of its canonical JSON.
    pub digests: BTreeMap<String, String>,
    /// The signer's Ed25519 public key, base64url (compare it with the one you trust).
    pub public_key: String,
    /// Ed25519 over `phylax/export/v1` ‖ canonical JSON of `{format, tenant,
    /// exportedAt, digests}`, base64url.
    pub signature: String,
}

/// What is wrong with an export.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[{code}] {message}")]
pub struct Fault {
    /// Stable code, e.g. `export.section_modified` or `audit.modified`.
    pub code: &'static str,
    /// What is wrong, naming the section or record.
    pub message: String,
}

fn fault(code: &'static str, message: impl Into<String>) -> Fault {
    Fault {
        code,
        message: message.into(),
    }
}

fn canonical<T: Serialize>(value: &T) -> ApiResult<Vec<u8>> {
    serde_json_canonicalizer::to_vec(value).map_err(ApiError::internal)
}

fn digests(sections: &Sections) -> ApiResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut put = |name: &str, bytes: Vec<u8>| {
        out.insert(name.to_owned(), hex::encode(Sha256::digest(bytes)));
    };
    put("tenant", canonical(&sections.tenant)?);
    put("policies", canonical(&sections.policies)?);
    put("apiKeys", canonical(&sections.api_keys)?);
    put("keys", canonical(&sections.keys)?);
    put("audit", canonical(&sections.audit)?);
    if let Some(sealed) = &sections.sealed_keys {
        put("sealedKeys", canonical(sealed)?);
    }
    Ok(out)
}

fn signed_message(
    tenant: &str,
    exported_at: u64,
    digests: &BTreeMap<String, String>,
) -> ApiResult<Vec<u8>> {
    let body = serde_json::json!({
        "format": FORMAT,
        "tenant": tenant,
        "exportedAt": exported_at,
        "digests": digests,
    });
    let mut out = SIGNING_DOMAIN.to_vec();
    out.extend(canonical(&body)?);
    Ok(out)
}

fn signing_key(key: &BundleSigningKey) -> ApiResult<SigningKey> {
    let seed = Secret32::parse(&key.to_secret_string()).map_err(ApiError::internal)?;
    Ok(SigningKey::from_bytes(seed.expose()))
}

/// What an export is made from.
#[derive(Debug)]
pub struct Keys<'a> {
    /// Authenticates the chain (its key id goes into the checkpoint).
    pub audit: &'a AuditKey,
    /// Signs the manifest and the checkpoint.
    pub signing: &'a BundleSigningKey,
    /// Opens the tenant's keyring: needed only to seal its keys to a recipient.
    pub roots: Option<&'a RootKeys>,
}

/// Makes a tenant's export. `recipient`: the tenant's X25519 public key (base64url)
/// to seal its keys to; without it no key material is included.
pub fn build(
    store: &dyn Store,
    keys: &Keys<'_>,
    tenant: &str,
    recipient: Option<&str>,
    now: u64,
) -> ApiResult<Archive> {
    let row = store
        .tenant(tenant)?
        .ok_or_else(|| ApiError::not_found("tenant", tenant))?;
    if row.life.state == TenantState::Shredded {
        return Err(wrong_state(tenant, row.life.state, "export it"));
    }
    // Checked before anything is read: a bad key is the caller's error.
    let recipient_key = recipient.map(parse_public_key).transpose()?;

    let policies = store
        .policy_versions(tenant)?
        .into_iter()
        .map(|p| {
            Ok(serde_json::json!({
                "version": p.version,
                "createdAt": p.created_at,
                "files": serde_json::from_str::<Value>(&p.files).map_err(ApiError::internal)?,
            }))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let api_keys = store
        .api_keys(tenant)?
        .iter()
        .map(|json| {
            let mut v: Value = serde_json::from_str(json).map_err(ApiError::internal)?;
            if let Some(o) = v.as_object_mut() {
                o.remove("hash");
            }
            Ok(v)
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let state: KeyringState = serde_json::from_str(&row.keyring).map_err(ApiError::internal)?;
    let versions = |set: &phylax_core::crypto::KeySet| {
        serde_json::json!({
            "active": set.active,
            "versions": set.versions.iter().map(|w| serde_json::json!({
                "version": w.version, "createdAt": w.created_at,
            })).collect::<Vec<_>>(),
        })
    };
    let key_meta = serde_json::json!({
        "rootKeyId": state.root_key_id,
        "dataKeys": versions(&state.data_keys),
        "indexKeys": versions(&state.index_keys),
    });

    let (prune, records) = crate::lifecycle::chain_with_prune(store, tenant)?;
    let signer = host_signer(keys.signing)?;
    let checkpoint = records.last().map(|r| {
        let head = audit::ChainHead {
            tenant: tenant.to_owned(),
            seq: r.seq,
            hash: r.hash.clone(),
        };
        signer.sign(&head, keys.audit.key_id(), now)
    });
    let audit = AuditSection {
        prune,
        records,
        checkpoint,
    };

    let sealed_keys = match recipient_key {
        None => None,
        Some(pk) => {
            let roots = keys
                .roots
                .ok_or_else(|| ApiError::internal("sealing keys needs the root keys"))?;
            let keyring = Keyring::open_json_with(&row.keyring, roots)
                .map_err(|e| ApiError::from_diagnostic(&e))?;
            let material = keyring
                .key_material()
                .map_err(|e| ApiError::from_diagnostic(&e))?;
            let (enc, ciphertext) =
                hpke::single_shot_seal::<AesGcm256, HkdfSha256, X25519HkdfSha256, _>(
                    &OpModeS::Base,
                    &pk,
                    HPKE_INFO,
                    material.as_bytes(),
                    tenant.as_bytes(),
                    &mut rand_core::UnwrapErr(rand_core::OsRng),
                )
                .map_err(|e| ApiError::internal(format!("HPKE seal: {e}")))?;
            Some(SealedKeys {
                suite: HPKE_SUITE.to_owned(),
                recipient: URL_SAFE_NO_PAD.encode(pk.to_bytes()),
                enc: URL_SAFE_NO_PAD.encode(enc.to_bytes()),
                ciphertext: URL_SAFE_NO_PAD.encode(ciphertext),
            })
        }
    };

    let sections = Sections {
        tenant: serde_json::to_value(info(&row)?).map_err(ApiError::internal)?,
        policies,
        api_keys,
        keys: key_meta,
        audit,
        sealed_keys,
    };
    let digests = digests(&sections)?;
    let key = signing_key(keys.signing)?;
    let signature = key.sign(&signed_message(tenant, now, &digests)?);
    Ok(Archive {
        format: FORMAT.to_owned(),
        tenant: tenant.to_owned(),
        exported_at: now,
        sections,
        manifest: Manifest {
            digests,
            public_key: URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
            signature: URL_SAFE_NO_PAD.encode(signature.to_bytes()),
        },
    })
}

fn parse_public_key(text: &str) -> ApiResult<<X25519HkdfSha256 as hpke::Kem>::PublicKey> {
    let bad = || {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "export.bad_recipient_key",
            "the recipient key is not an X25519 public key",
            "give 32 bytes as base64url (43 characters), e.g. from `phylax keys generate --kind export-recipient`",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| bad())?;
    <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(&bytes).map_err(|_| bad())
}

/// A new X25519 key pair for receiving sealed keys: `(secret, public)`, base64url.
pub fn generate_recipient() -> (Zeroizing<String>, String) {
    let (sk, pk) = X25519HkdfSha256::gen_keypair(&mut rand_core::UnwrapErr(rand_core::OsRng));
    (
        Zeroizing::new(URL_SAFE_NO_PAD.encode(sk.to_bytes())),
        URL_SAFE_NO_PAD.encode(pk.to_bytes()),
    )
}

/// Opens the sealed keys of an export with the tenant's X25519 secret key: a keyring
/// that decrypts the tenant's ciphertexts. Fails for any other key.
pub fn open_sealed_keys(archive: &Archive, secret: &str) -> Result<Keyring, Fault> {
    let sealed = archive.sections.sealed_keys.as_ref().ok_or_else(|| {
        fault(
            "export.no_sealed_keys",
            "this export holds no keys: it was made without a recipient public key",
        )
    })?;
    let raw = Zeroizing::new(URL_SAFE_NO_PAD.decode(secret.trim()).map_err(|_| {
        fault(
            "export.bad_recipient_key",
            "the secret key is not base64url",
        )
    })?);
    let sk = <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(&raw)
        .map_err(|_| fault("export.bad_recipient_key", "not an X25519 secret key"))?;
    let b64 = |field: &str, text: &str| {
        URL_SAFE_NO_PAD.decode(text).map_err(|_| {
            fault(
                "export.malformed",
                format!("sealedKeys.{field} is not base64url"),
            )
        })
    };
    let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(&b64("enc", &sealed.enc)?)
        .map_err(|_| fault("export.malformed", "sealedKeys.enc is not an X25519 key"))?;
    let plain = Zeroizing::new(
        hpke::single_shot_open::<AesGcm256, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            &sk,
            &enc,
            HPKE_INFO,
            &b64("ciphertext", &sealed.ciphertext)?,
            archive.tenant.as_bytes(),
        )
        .map_err(|_| {
            fault(
                "export.unseal_failed",
                "the sealed keys do not open with this secret key (another recipient's key, or a modified export)",
            )
        })?,
    );
    let text = std::str::from_utf8(&plain)
        .map_err(|_| fault("export.malformed", "the sealed keys are not UTF-8"))?;
    Keyring::from_key_material(text).map_err(|e| fault("export.malformed", e.to_string()))
}

/// What a verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The tenant.
    pub tenant: String,
    /// Audit records in the export.
    pub records: usize,
    /// The chain's last seq (0 when empty).
    pub head_seq: u64,
    /// The first seq kept, when the chain was pruned at retention.
    pub pruned_before: Option<u64>,
    /// Whether the chain's HMACs were checked (needs the audit key).
    pub chain_checked: bool,
    /// Whether the signer's key was the one given (else the archive's own, self-signed).
    pub key_given: bool,
}

/// Verifies an export: its format, the chain (with the audit key, when given: every
/// record, against the prune record and the signed checkpoint), each section against
/// the manifest, and the manifest's signature under `public_key` (the archive's own key
/// when `None`: then only integrity, not origin, is shown).
pub fn verify(
    text: &str,
    public_key: Option<&str>,
    audit_key: Option<&AuditKey>,
) -> Result<Verified, Fault> {
    let archive: Archive = serde_json::from_str(text)
        .map_err(|e| fault("export.malformed", format!("not a tenant export: {e}")))?;
    if archive.format != FORMAT {
        return Err(fault(
            "export.malformed",
            format!("format `{}`, expected `{FORMAT}`", archive.format),
        ));
    }
    let key_text = public_key.unwrap_or(&archive.manifest.public_key);
    let verifier = CheckpointVerifier::parse(key_text)
        .map_err(|e| fault("export.bad_public_key", e.to_string()))?;
    let tenant = archive.tenant.as_str();

    // 1. The chain, first: a changed record is named by its seq and kind of fault.
    let section = &archive.sections.audit;
    let audit_fault = |e: audit::AuditError| {
        use phylax_core::Diagnostic as _;
        fault(e.code(), format!("audit chain: {e}"))
    };
    let pruned_to = section
        .prune
        .as_ref()
        .map(|p| verifier.check_prune(p))
        .transpose()
        .map_err(audit_fault)?;
    let checkpoint = section
        .checkpoint
        .as_ref()
        .map(|c| verifier.check(c))
        .transpose()
        .map_err(audit_fault)?;
    let head_seq = section.records.last().map_or(0, |r| r.seq);
    if let Some(key) = audit_key {
        audit::verify_retained(
            tenant,
            &section.records,
            key,
            pruned_to.as_ref(),
            checkpoint.as_ref(),
        )
        .map_err(audit_fault)?;
    } else {
        // Without the audit key the links are still checked: each record names the
        // hash of the one before, from the prune record (or the start) to the
        // checkpoint.
        let mut expected = pruned_to
            .as_ref()
            .map(|h| (h.seq + 1, h.hash.clone()))
            .unwrap_or_else(|| (1, audit::ChainHead::genesis(tenant).hash));
        for r in &section.records {
            if r.seq != expected.0 || r.prev_hash != expected.1 {
                return Err(fault(
                    if r.seq == expected.0 {
                        "audit.modified"
                    } else {
                        "audit.missing"
                    },
                    format!(
                        "audit chain: record {} does not follow record {}",
                        r.seq,
                        expected.0 - 1
                    ),
                ));
            }
            expected = (r.seq + 1, r.hash.clone());
        }
        if let Some(cp) = &section.checkpoint {
            if cp.seq != head_seq || section.records.last().map(|r| &r.hash) != Some(&cp.head_hash)
            {
                return Err(fault(
                    "audit.truncated",
                    "audit chain: the signed checkpoint does not match the last record",
                ));
            }
        }
    }

    // 2. Each section against the manifest.
    let found =
        digests(&archive.sections).map_err(|e| fault("export.malformed", e.body.message))?;
    let listed = &archive.manifest.digests;
    for name in found.keys().chain(listed.keys()) {
        if found.get(name) != listed.get(name) {
            return Err(fault(
                "export.section_modified",
                format!("section `{name}` does not match the signed manifest"),
            ));
        }
    }

    // 3. The manifest's signature.
    let message = signed_message(tenant, archive.exported_at, listed)
        .map_err(|e| fault("export.malformed", e.body.message))?;
    let pk_bytes = URL_SAFE_NO_PAD
        .decode(key_text)
        .map_err(|_| fault("export.bad_public_key", "not base64url"))?;
    let pk = VerifyingKey::try_from(pk_bytes.as_slice())
        .map_err(|_| fault("export.bad_public_key", "not an Ed25519 public key"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(&archive.manifest.signature)
        .ok()
        .and_then(|raw| Signature::from_slice(&raw).ok())
        .ok_or_else(|| {
            fault(
                "export.bad_signature",
                "the manifest signature is malformed",
            )
        })?;
    pk.verify_strict(&message, &signature).map_err(|_| {
        fault(
            "export.bad_signature",
            "the manifest's signature does not verify under the public key",
        )
    })?;
    Ok(Verified {
        tenant: tenant.to_owned(),
        records: section.records.len(),
        head_seq,
        pruned_before: pruned_to.map(|h| h.seq + 1),
        chain_checked: audit_key.is_some(),
        key_given: public_key.is_some(),
    })
}
