//! Audit chain writer and verifier over `phylax_core::audit`.

use phylax_core::audit::calls::{self, VerifyRequest};
use phylax_core::audit::{AuditChain as CoreChain, AuditError, AuditEvent, AuditKey, ChainHead};
use wasm_bindgen::prelude::*;

use crate::convert::{check, from_json, to_json};

/// A tenant's audit chain writer: appends events, each hashed onto the previous one.
#[wasm_bindgen]
#[derive(Debug)]
pub struct AuditChain {
    key: AuditKey,
    inner: CoreChain,
}

#[wasm_bindgen]
impl AuditChain {
    /// Starts a new chain (`head` absent) or resumes after a stored head (`ChainHead` JSON).
    /// `key` is the audit key, 64 hex digits or 43 base64url characters.
    pub fn open(key: &str, tenant: &str, head_json: Option<String>) -> Result<AuditChain, JsValue> {
        let key = check(AuditKey::parse(key))?;
        let inner = match head_json {
            None => check(CoreChain::new(key.clone(), tenant))?,
            Some(json) => {
                let head: ChainHead = from_json(&json)?;
                if head.tenant != tenant {
                    check(Err::<(), _>(AuditError::Invalid {
                        what: "chain head",
                        reason: "it is the head of another tenant's chain",
                    }))?;
                }
                check(CoreChain::resume(key.clone(), &head))?
            }
        };
        Ok(Self { key, inner })
    }

    /// Appends an `AuditEvent` (JSON) → the `AuditRecord` JSON to store.
    pub fn append(&mut self, event_json: &str) -> Result<String, JsValue> {
        let event: AuditEvent = from_json(event_json)?;
        to_json(&check(self.inner.append(event))?)
    }

    /// The chain head `{tenant, seq, hash}` JSON.
    pub fn head(&self) -> Result<String, JsValue> {
        to_json(&self.inner.head())
    }

    /// Verifies records (`VerifyRequest` JSON) under this chain's key → `VerifyResponse` JSON.
    pub fn verify(&self, request_json: &str) -> Result<String, JsValue> {
        let request: VerifyRequest = from_json(request_json)?;
        to_json(&check(calls::verify(&self.key, &request))?)
    }
}
