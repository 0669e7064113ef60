//! `phylax:core/audit`: an audit key resource over `phylax_core::audit::calls`.

use phylax_core::audit::{calls, AuditKey as CoreAuditKey};
use phylax_core::policy::calls::call_json;

use crate::bindings::exports::phylax::core::audit::{AuditKey, Guest, GuestAuditKey};
use crate::{error_text, Component};

/// The `audit-key` resource.
#[derive(Debug)]
pub struct AuditKeyHandle {
    key: CoreAuditKey,
}

impl Guest for Component {
    type AuditKey = AuditKeyHandle;
}

impl GuestAuditKey for AuditKeyHandle {
    fn parse(text: String) -> Result<AuditKey, String> {
        CoreAuditKey::parse(&text)
            .map(|key| AuditKey::new(Self { key }))
            .map_err(|err| error_text(&err))
    }

    fn append(&self, request_json: String) -> String {
        call_json(&request_json, |req| calls::append(&self.key, req))
    }

    fn verify(&self, request_json: String) -> String {
        call_json(&request_json, |req| calls::verify(&self.key, req))
    }
}
