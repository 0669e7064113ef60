//! AES-256-GCM with 96-bit nonces and 128-bit tags, behind one small type.
//!
//! Natively the backend is `ring` (hand-tuned assembly; the field-encryption benchmark
//! needs its large-message throughput). On wasm32 it is RustCrypto's `aes-gcm`, pure
//! Rust. Both produce the same bytes (it is the same standard, and both are checked
//! against the Wycheproof vectors here), so a ciphertext made in a browser opens on the
//! server and the other way round. The expanded key schedule lives in the value, so a
//! cached [`AeadKey`] costs one AES-GCM call per message and nothing else.
//!
//! Caveat: `ring` does not wipe its expanded key schedule on drop; `aes-gcm` does
//! (its `zeroize` feature). Keys live as long as their keyring either way.

use super::error::CryptoError;

/// Nonce length in bytes.
pub const NONCE_LEN: usize = 12;
/// Tag length in bytes.
pub const TAG_LEN: usize = 16;

/// An AES-256-GCM key with its expanded schedule.
pub struct AeadKey {
    #[cfg(not(target_arch = "wasm32"))]
    inner: ring_backend::Key,
    #[cfg(target_arch = "wasm32")]
    inner: rustcrypto_backend::Key,
}

impl std::fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AeadKey(..)")
    }
}

impl AeadKey {
    /// Expands `key` once.
    pub fn new(key: &[u8; 32]) -> Result<Self, CryptoError> {
        #[cfg(not(target_arch = "wasm32"))]
        let inner = ring_backend::Key::new(key)?;
        #[cfg(target_arch = "wasm32")]
        let inner = rustcrypto_backend::Key::new(key);
        Ok(Self { inner })
    }

    /// Encrypts `buf[start..]` in place and appends the tag.
    pub fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut Vec<u8>,
        start: usize,
    ) -> Result<(), CryptoError> {
        self.inner.seal_in_place(nonce, aad, buf, start)
    }

    /// Decrypts `ciphertext || tag` into a new buffer; any failure is
    /// [`CryptoError::DecryptFailed`].
    pub fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        ciphertext_and_tag: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoError> {
        self.inner.open(nonce, aad, ciphertext_and_tag)
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) mod ring_backend {
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
    use zeroize::Zeroizing;

    use super::{CryptoError, NONCE_LEN, TAG_LEN};

    pub(crate) struct Key(LessSafeKey);

    impl Key {
        pub(crate) fn new(key: &[u8; 32]) -> Result<Self, CryptoError> {
            let unbound =
                UnboundKey::new(&AES_256_GCM, key).map_err(|_| CryptoError::InvalidKey {
                    reason: "aes-256-gcm needs a 32-byte key",
                })?;
            Ok(Self(LessSafeKey::new(unbound)))
        }

        pub(crate) fn seal_in_place(
            &self,
            nonce: &[u8; NONCE_LEN],
            aad: &[u8],
            buf: &mut Vec<u8>,
            start: usize,
        ) -> Result<(), CryptoError> {
            let body = buf.get_mut(start..).ok_or(CryptoError::InvalidSpec {
                reason: "seal start past the end of the buffer".to_owned(),
            })?;
            let tag = self
                .0
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(*nonce),
                    Aad::from(aad),
                    body,
                )
                .map_err(|_| CryptoError::InvalidSpec {
                    reason: "message too long for aes-gcm".to_owned(),
                })?;
            buf.extend_from_slice(tag.as_ref());
            Ok(())
        }

        pub(crate) fn open(
            &self,
            nonce: &[u8; NONCE_LEN],
            aad: &[u8],
            ciphertext_and_tag: &[u8],
        ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
            if ciphertext_and_tag.len() < TAG_LEN {
                return Err(CryptoError::DecryptFailed);
            }
            let mut buf = Zeroizing::new(ciphertext_and_tag.to_vec());
            let len = self
                .0
                .open_in_place(
                    Nonce::assume_unique_for_key(*nonce),
                    Aad::from(aad),
                    buf.as_mut_slice(),
                )
                .map_err(|_| CryptoError::DecryptFailed)?
                .len();
            buf.truncate(len);
            Ok(buf)
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) mod rustcrypto_backend {
    use phylax_aes_gcm::Key as Cipher;
    use zeroize::Zeroizing;

    use super::{CryptoError, NONCE_LEN, TAG_LEN};

    /// The cipher lives in `phylax-aes-gcm`, compiled for speed apart from this crate.
    pub(crate) struct Key(Cipher);

    impl Key {
        pub(crate) fn new(key: &[u8; 32]) -> Self {
            Self(Cipher::new(key))
        }

        pub(crate) fn seal_in_place(
            &self,
            nonce: &[u8; NONCE_LEN],
            aad: &[u8],
            buf: &mut Vec<u8>,
            start: usize,
        ) -> Result<(), CryptoError> {
            let body = buf.get_mut(start..).ok_or(CryptoError::InvalidSpec {
                reason: "seal start past the end of the buffer".to_owned(),
            })?;
            let tag = self
                .0
                .seal(nonce, aad, body)
                .map_err(|_| CryptoError::InvalidSpec {
                    reason: "message too long for aes-gcm".to_owned(),
                })?;
            buf.extend_from_slice(&tag);
            Ok(())
        }

        pub(crate) fn open(
            &self,
            nonce: &[u8; NONCE_LEN],
            aad: &[u8],
            ciphertext_and_tag: &[u8],
        ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
            let split = ciphertext_and_tag
                .len()
                .checked_sub(TAG_LEN)
                .ok_or(CryptoError::DecryptFailed)?;
            let (body, tag) = ciphertext_and_tag.split_at(split);
            let tag: &[u8; TAG_LEN] = tag.try_into().map_err(|_| CryptoError::DecryptFailed)?;
            let mut buf = Zeroizing::new(body.to_vec());
            self.0
                .open(nonce, aad, buf.as_mut_slice(), tag)
                .map_err(|_| CryptoError::DecryptFailed)?;
            Ok(buf)
        }
    }
}

#[cfg(test)]
mod tests {
    //! Wycheproof AES-GCM: every AES-256, 96-bit-IV, 128-bit-tag case, valid and invalid,
    //! through both backends (the native one and the one wasm32 uses).

    use serde_json::Value;

    use super::{rustcrypto_backend, AeadKey, CryptoError, NONCE_LEN};

    const VECTORS: &str = include_str!("../../tests/data/wycheproof/aes_gcm_test.json");

    struct Case {
        id: u64,
        key: [u8; 32],
        nonce: [u8; NONCE_LEN],
        aad: Vec<u8>,
        msg: Vec<u8>,
        ct_and_tag: Vec<u8>,
        valid: bool,
    }

    fn cases() -> Vec<Case> {
        let doc: Value = serde_json::from_str(VECTORS).unwrap();
        let hex = |t: &Value, k: &str| hex::decode(t[k].as_str().unwrap()).unwrap();
        let mut out = Vec::new();
        for group in doc["testGroups"].as_array().unwrap() {
            if group["keySize"] != 256 || group["ivSize"] != 96 || group["tagSize"] != 128 {
                continue;
            }
            for t in group["tests"].as_array().unwrap() {
                let mut ct_and_tag = hex(t, "ct");
                ct_and_tag.extend(hex(t, "tag"));
                out.push(Case {
                    id: t["tcId"].as_u64().unwrap(),
                    key: hex(t, "key").try_into().unwrap(),
                    nonce: hex(t, "iv").try_into().unwrap(),
                    aad: hex(t, "aad"),
                    msg: hex(t, "msg"),
                    ct_and_tag,
                    valid: match t["result"].as_str().unwrap() {
                        "valid" => true,
                        "invalid" => false,
                        other => panic!("unexpected result {other}"),
                    },
                });
            }
        }
        out
    }

    type Seal = dyn Fn(&[u8; 32], &[u8; NONCE_LEN], &[u8], &[u8]) -> Vec<u8>;
    type Open = dyn Fn(&[u8; 32], &[u8; NONCE_LEN], &[u8], &[u8]) -> Result<Vec<u8>, CryptoError>;

    fn check_backend(name: &str, seal: &Seal, open: &Open) {
        let cases = cases();
        assert_eq!(cases.len(), 66, "the shared set has 66 such cases");
        let (mut valid, mut invalid) = (0, 0);
        for c in &cases {
            let opened = open(&c.key, &c.nonce, &c.aad, &c.ct_and_tag);
            if c.valid {
                assert_eq!(
                    seal(&c.key, &c.nonce, &c.aad, &c.msg),
                    c.ct_and_tag,
                    "{name} seal tc {}",
                    c.id
                );
                assert_eq!(opened.unwrap(), c.msg, "{name} open tc {}", c.id);
                valid += 1;
            } else {
                assert_eq!(
                    opened,
                    Err(CryptoError::DecryptFailed),
                    "{name} must reject tc {}",
                    c.id
                );
                invalid += 1;
            }
        }
        assert!(valid > 0 && invalid > 0, "both kinds are exercised");
    }

    #[test]
    fn wycheproof_aes_256_gcm_active_backend() {
        check_backend(
            "active",
            &|key, nonce, aad, msg| {
                let mut buf = msg.to_vec();
                AeadKey::new(key)
                    .unwrap()
                    .seal_in_place(nonce, aad, &mut buf, 0)
                    .unwrap();
                buf
            },
            &|key, nonce, aad, ct| {
                AeadKey::new(key)
                    .unwrap()
                    .open(nonce, aad, ct)
                    .map(|p| p.to_vec())
            },
        );
    }

    #[test]
    fn wycheproof_aes_256_gcm_rustcrypto_backend() {
        check_backend(
            "rustcrypto",
            &|key, nonce, aad, msg| {
                let mut buf = msg.to_vec();
                rustcrypto_backend::Key::new(key)
                    .seal_in_place(nonce, aad, &mut buf, 0)
                    .unwrap();
                buf
            },
            &|key, nonce, aad, ct| {
                rustcrypto_backend::Key::new(key)
                    .open(nonce, aad, ct)
                    .map(|p| p.to_vec())
            },
        );
    }

    #[test]
    fn short_input_is_rejected_not_a_panic() {
        let key = AeadKey::new(&[7; 32]).unwrap();
        for len in 0..16 {
            assert_eq!(
                key.open(&[0; 12], b"", &vec![0; len]),
                Err(CryptoError::DecryptFailed)
            );
            assert_eq!(
                rustcrypto_backend::Key::new(&[7; 32]).open(&[0; 12], b"", &vec![0; len]),
                Err(CryptoError::DecryptFailed)
            );
        }
    }
}
