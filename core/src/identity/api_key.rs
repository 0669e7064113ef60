//! Tenant API keys: issue, parse, verify, rotate, revoke.
//!
//! # Format
//!
//! ```text
//! phx_live_k4w2c7bfyq3mzrde_<52 characters of secret>_<7 characters of checksum>
//! └┬┘ └┬─┘ └──── key id ───┘ └────── 256-bit secret ───┘ └─ CRC32 of all before ─┘
//! prefix environment (live | test)
//! ```
//!
//! Every part after the environment is lowercase base32 (RFC 4648 alphabet `a-z2-7`, no
//! padding): case-insensitive-looking, no `0/O` or `1/l` to confuse, and the whole key is
//! one "word" for a double-click. Secret scanners find leaked keys with
//! `phx_(live|test)_[a-z2-7]{16}_[a-z2-7]{52}_[a-z2-7]{7}`.
//!
//! - **Key id** (80 random bits): public, the lookup key of the stored record.
//! - **Secret** (256 random bits from the OS or `crypto.getRandomValues`).
//! - **Checksum**: CRC32 (IEEE) of everything before it. A CRC32 detects every error
//!   burst of up to 32 bits, so every one-character substitution and every swap of
//!   neighbouring characters is caught, with certainty rather than with high probability
//!   as a truncated hash would give, and before any database lookup. It is not a
//!   security measure (anyone can compute it); the secret is.
//!
//! # Storage
//!
//! Only `SHA-256("phylax/api-key/v1" ‖ len‖tenant ‖ len‖environment ‖ len‖key id ‖ secret)`
//! is stored ([`ApiKeyRecord::hash`]). A 256-bit random secret needs no slow password
//! hash: nobody can search 2^256 candidates. Binding the tenant and key id into the hash
//! means a hash copied into another tenant's record does not verify. Verification
//! recomputes it and compares in constant time.
//!
//! # Verification
//!
//! [`parse`] (shape and checksum; nothing secret) → look the record up by
//! [`ParsedApiKey::key_id`] → [`verify`] (constant-time hash compare, then revocation,
//! expiry and the rotation overlap window against `now`) → [`VerifiedApiKey::require_scope`].

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::error::ApiKeyError;
use crate::audit::key::{hex_lower, parse_hash};

/// The prefix every Phylax API key starts with.
pub const PREFIX: &str = "phx";
const KEY_ID_BYTES: usize = 10;
/// The latest expiry a key may have: 9999-12-31T23:59:59Z (JSON tools lose larger
/// integers, and no key should outlive its owner's calendar).
pub const MAX_EXPIRES_AT: u64 = 253_402_300_799;
const KEY_ID_CHARS: usize = 16;
const SECRET_BYTES: usize = 32;
const SECRET_CHARS: usize = 52;
const CHECKSUM_CHARS: usize = 7;
const MAX_SCOPES: usize = 64;

/// Which environment a key is for; part of the key text, so a test key never works live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// Production.
    Live,
    /// Testing and development.
    Test,
}

impl Environment {
    /// `live` or `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Test => "test",
        }
    }
}

/// What is stored for a key: never the secret, only its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiKeyRecord {
    /// Public key id (16 base32 characters); the lookup key.
    pub key_id: String,
    /// The tenant the key acts for.
    pub tenant: String,
    /// `live` or `test`.
    pub environment: Environment,
    /// SHA-256 of the secret (see the module docs), 64 hex digits.
    pub hash: String,
    /// What the key may do, sorted, no duplicates.
    pub scopes: Vec<String>,
    /// A label for people ("billing sync").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When it was issued, unix seconds.
    pub created_at: u64,
    /// When it stops working, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// When it was revoked, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<u64>,
    /// The key id of the key that replaced it in a rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
    /// After a rotation, the end of the overlap window in which this key still works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_until: Option<u64>,
}

/// A request to issue a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewApiKey {
    /// The tenant it acts for.
    pub tenant: String,
    /// `live` (default) or `test`.
    #[serde(default = "live")]
    pub environment: Environment,
    /// What it may do, e.g. `patients:read`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// When it stops working, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// A label for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

fn live() -> Environment {
    Environment::Live
}

/// The full key text. Shown to its owner once; zeroized on drop; `Debug` shows only the
/// prefix and key id.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(Zeroizing<String>);

impl ApiKeySecret {
    /// The key text, to hand to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let visible = self.0.get(..9 + KEY_ID_CHARS).unwrap_or("");
        write!(f, "ApiKeySecret({visible}_..)")
    }
}

/// A newly issued key: the text for its owner and the record to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedApiKey {
    /// The key text (give it to the owner; it cannot be recovered).
    pub api_key: ApiKeySecret,
    /// Store this.
    pub record: ApiKeyRecord,
}

/// A key whose shape and checksum are right; not yet verified.
pub struct ParsedApiKey {
    environment: Environment,
    key_id: String,
    secret: Zeroizing<[u8; SECRET_BYTES]>,
}

impl ParsedApiKey {
    /// The public key id: look the stored record up by it.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// `live` or `test`.
    pub fn environment(&self) -> Environment {
        self.environment
    }
}

impl std::fmt::Debug for ParsedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedApiKey")
            .field("environment", &self.environment)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// What a verified key may do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifiedApiKey {
    /// The key id.
    pub key_id: String,
    /// The tenant it acts for.
    pub tenant: String,
    /// `live` or `test`.
    pub environment: Environment,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// When it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// Set while the key works only inside a rotation's overlap window: the key to move
    /// to. Tell the caller to switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
    /// End of the overlap window, when [`replaced_by`](Self::replaced_by) is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_until: Option<u64>,
}

impl VerifiedApiKey {
    /// Whether the key has `scope` (exact match).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Fails with [`ApiKeyError::MissingScope`] unless the key has `scope`.
    pub fn require_scope(&self, scope: &str) -> Result<(), ApiKeyError> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(ApiKeyError::MissingScope {
                key_id: self.key_id.clone(),
                scope: scope.to_owned(),
            })
        }
    }
}

/// A rotation: the new key, and the old key's record with its overlap window set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// The replacement (store its record, hand out its text).
    pub issued: IssuedApiKey,
    /// The old record, updated: store it in place of the old one.
    pub previous: ApiKeyRecord,
}

/// Issues a key for `new.tenant` at `now`.
pub fn issue(new: &NewApiKey, now: u64) -> Result<IssuedApiKey, ApiKeyError> {
    check_tenant(&new.tenant)?;
    let scopes = normalize_scopes(&new.scopes)?;
    if let Some(expires_at) = new.expires_at {
        if expires_at <= now {
            return Err(invalid("`expiresAt` must be after `now`"));
        }
        if expires_at > MAX_EXPIRES_AT {
            return Err(invalid("`expiresAt` must be before the year 10000"));
        }
    }
    if new.name.as_ref().is_some_and(|name| name.len() > 256) {
        return Err(invalid("the name must be at most 256 bytes"));
    }

    let mut key_id_bytes = [0u8; KEY_ID_BYTES];
    let mut secret = Zeroizing::new([0u8; SECRET_BYTES]);
    getrandom::getrandom(&mut key_id_bytes).map_err(|_| ApiKeyError::RandomUnavailable)?;
    getrandom::getrandom(secret.as_mut()).map_err(|_| ApiKeyError::RandomUnavailable)?;
    let key_id = base32_encode(&key_id_bytes);

    let mut text = Zeroizing::new(String::with_capacity(96));
    text.push_str(PREFIX);
    text.push('_');
    text.push_str(new.environment.as_str());
    text.push('_');
    text.push_str(&key_id);
    text.push('_');
    text.push_str(&Zeroizing::new(base32_encode(secret.as_ref())));
    let checksum = base32_encode(&crc32fast::hash(text.as_bytes()).to_be_bytes());
    text.push('_');
    text.push_str(&checksum);

    let hash = secret_hash(&new.tenant, new.environment, &key_id, &secret);
    Ok(IssuedApiKey {
        api_key: ApiKeySecret(text),
        record: ApiKeyRecord {
            key_id,
            tenant: new.tenant.clone(),
            environment: new.environment,
            hash: hex_lower(&hash),
            scopes,
            name: new.name.clone(),
            created_at: now,
            expires_at: new.expires_at,
            revoked_at: None,
            replaced_by: None,
            overlap_until: None,
        },
    })
}

/// Checks a presented key's shape and checksum. Nothing secret is compared yet; a typo is
/// reported here, before any lookup.
pub fn parse(text: &str) -> Result<ParsedApiKey, ApiKeyError> {
    let malformed = |reason| ApiKeyError::Malformed { reason };
    let text = text.trim();
    if text.len() > 200 {
        return Err(malformed("too long"));
    }
    let mut parts = text.split('_');
    let (Some(prefix), Some(env), Some(key_id), Some(secret), Some(checksum), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(malformed("expected five parts separated by `_`"));
    };
    if prefix != PREFIX {
        return Err(malformed("it does not start with `phx_`"));
    }
    let environment = match env {
        "live" => Environment::Live,
        "test" => Environment::Test,
        _ => return Err(malformed("the environment must be `live` or `test`")),
    };
    if key_id.len() != KEY_ID_CHARS
        || secret.len() != SECRET_CHARS
        || checksum.len() != CHECKSUM_CHARS
    {
        return Err(malformed(
            "a part has the wrong length (a key has 16, 52 and 7 characters after the environment)",
        ));
    }
    // The checksum covers everything before its separator.
    let body_len = text.len().saturating_sub(CHECKSUM_CHARS + 1);
    let body = text.get(..body_len).unwrap_or_default();
    let expected = crc32fast::hash(body.as_bytes()).to_be_bytes();
    match base32_decode::<4>(checksum) {
        Some(found) if bool::from(found.ct_eq(&expected)) => {}
        _ => return Err(ApiKeyError::Checksum),
    }
    base32_decode::<KEY_ID_BYTES>(key_id)
        .ok_or(malformed("the key id is not base32 (`a-z`, `2-7`)"))?;
    let secret = Zeroizing::new(
        base32_decode::<SECRET_BYTES>(secret)
            .ok_or(malformed("the secret is not base32 (`a-z`, `2-7`)"))?,
    );
    Ok(ParsedApiKey {
        environment,
        key_id: key_id.to_owned(),
        secret,
    })
}

/// Verifies a parsed key against its stored record at `now`.
pub fn verify(
    key: &ParsedApiKey,
    record: &ApiKeyRecord,
    now: u64,
) -> Result<VerifiedApiKey, ApiKeyError> {
    if record.key_id != key.key_id {
        return Err(ApiKeyError::RecordMismatch {
            record: record.key_id.clone(),
            presented: key.key_id.clone(),
        });
    }
    let computed = secret_hash(&record.tenant, key.environment, &key.key_id, &key.secret);
    let stored = parse_hash(&record.hash).unwrap_or_default();
    // The environment is inside the hash, so a test key presented as live fails here.
    let matches =
        computed.ct_eq(&stored) & u8::from(record.environment == key.environment).ct_eq(&1);
    if !bool::from(matches) {
        return Err(ApiKeyError::Invalid);
    }
    if let Some(revoked_at) = record.revoked_at {
        if revoked_at <= now {
            return Err(ApiKeyError::Revoked {
                key_id: record.key_id.clone(),
                revoked_at,
            });
        }
    }
    if let Some(expires_at) = record.expires_at {
        if expires_at <= now {
            return Err(ApiKeyError::Expired {
                key_id: record.key_id.clone(),
                expires_at,
            });
        }
    }
    if let Some(replaced_by) = &record.replaced_by {
        if record.overlap_until.is_none_or(|until| until <= now) {
            return Err(ApiKeyError::Superseded {
                key_id: record.key_id.clone(),
                replaced_by: replaced_by.clone(),
            });
        }
    }
    Ok(VerifiedApiKey {
        key_id: record.key_id.clone(),
        tenant: record.tenant.clone(),
        environment: record.environment,
        scopes: record.scopes.clone(),
        expires_at: record.expires_at,
        replaced_by: record.replaced_by.clone(),
        overlap_until: record.replaced_by.as_ref().and(record.overlap_until),
    })
}

/// Parses and verifies in one step.
pub fn verify_text(
    text: &str,
    record: &ApiKeyRecord,
    now: u64,
) -> Result<VerifiedApiKey, ApiKeyError> {
    verify(&parse(text)?, record, now)
}

/// Rotates a key: issues a replacement with the same tenant, environment, scopes and
/// name, and lets the old key keep working for `overlap_seconds` (never past its own
/// expiry), so clients can switch without downtime.
pub fn rotate(
    old: &ApiKeyRecord,
    now: u64,
    overlap_seconds: u64,
    expires_at: Option<u64>,
) -> Result<Rotation, ApiKeyError> {
    if old.revoked_at.is_some() {
        return Err(invalid("a revoked key cannot be rotated; issue a new one"));
    }
    if old.replaced_by.is_some() {
        return Err(invalid(
            "this key was already rotated; rotate its replacement",
        ));
    }
    let issued = issue(
        &NewApiKey {
            tenant: old.tenant.clone(),
            environment: old.environment,
            scopes: old.scopes.clone(),
            expires_at,
            name: old.name.clone(),
        },
        now,
    )?;
    let mut previous = old.clone();
    previous.replaced_by = Some(issued.record.key_id.clone());
    previous.overlap_until = Some(now.saturating_add(overlap_seconds));
    Ok(Rotation { issued, previous })
}

/// Revokes a key at `now` (keeping an earlier revocation time if there is one).
pub fn revoke(record: &ApiKeyRecord, now: u64) -> ApiKeyRecord {
    let mut revoked = record.clone();
    revoked.revoked_at = Some(record.revoked_at.map_or(now, |at| at.min(now)));
    revoked
}

fn invalid(reason: &str) -> ApiKeyError {
    ApiKeyError::InvalidRequest {
        reason: reason.to_owned(),
    }
}

fn check_tenant(tenant: &str) -> Result<(), ApiKeyError> {
    if tenant.is_empty() || tenant.len() > 1024 {
        return Err(invalid("the tenant must be 1 to 1024 bytes"));
    }
    Ok(())
}

fn normalize_scopes(scopes: &[String]) -> Result<Vec<String>, ApiKeyError> {
    if scopes.len() > MAX_SCOPES {
        return Err(invalid("at most 64 scopes"));
    }
    for scope in scopes {
        let ok = !scope.is_empty()
            && scope.len() <= 128
            && scope
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":._-/*".contains(&b));
        if !ok {
            return Err(ApiKeyError::InvalidRequest {
                reason: format!("the scope `{scope}` is not 1 to 128 letters, digits or `:._-/*`"),
            });
        }
    }
    let mut sorted = scopes.to_vec();
    sorted.sort();
    sorted.dedup();
    Ok(sorted)
}

fn secret_hash(
    tenant: &str,
    environment: Environment,
    key_id: &str,
    secret: &[u8; SECRET_BYTES],
) -> [u8; 32] {
    let mut buf = Zeroizing::new(Vec::with_capacity(96 + tenant.len()));
    buf.extend_from_slice(b"phylax/api-key/v1");
    crate::crypto::kdf::push_framed(&mut buf, tenant.as_bytes());
    crate::crypto::kdf::push_framed(&mut buf, environment.as_str().as_bytes());
    crate::crypto::kdf::push_framed(&mut buf, key_id.as_bytes());
    buf.extend_from_slice(secret);
    Sha256::digest(buf.as_slice()).into()
}

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut push = |index: u32| {
        let c = ALPHABET.get(index as usize & 31).copied().unwrap_or(b'a');
        out.push(char::from(c));
    };
    for &byte in bytes {
        acc = (acc << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            push((acc >> bits) & 31);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        push((acc << (5 - bits)) & 31);
    }
    out
}

/// Decodes exactly `N` bytes; rejects other lengths, other characters and non-zero
/// padding bits (so every value has one spelling).
fn base32_decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != (N * 8).div_ceil(5) {
        return None;
    }
    let mut out = [0u8; N];
    let mut filled = 0usize;
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in text.bytes() {
        let value = match c {
            b'a'..=b'z' => c - b'a',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(filled)? = u8::try_from((acc >> bits) & 0xff).ok()?;
            filled += 1;
            acc &= (1 << bits) - 1;
        }
    }
    (filled == N && acc == 0).then_some(out)
}
