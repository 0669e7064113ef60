//! The JSON call envelope shared by every transport.
//!
//! Each operation of the core also exists as a serde-typed call: a request struct in
//! (camelCase fields, unknown fields rejected) and an [`Answer`] out, serialized as
//! `{"ok": ...}` or `{"error": {"code", "message", "hint"}}`. The JS package, the wasm
//! component and the HTTP API are thin transports over these types, which is what keeps
//! the three surfaces consistent. The request and response types live beside the
//! operations they describe (`crypto::calls`, `policy::calls`, ...).

use serde::{Deserialize, Serialize};

use crate::error::Diagnostic;

/// The error half of an [`Answer`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ErrorBody {
    /// Stable machine code, e.g. `crypto.decrypt_failed`.
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl ErrorBody {
    /// The body for any Phylax error.
    pub fn from_diagnostic(err: &(impl Diagnostic + ?Sized)) -> Self {
        Self {
            code: err.code().to_owned(),
            message: err.to_string(),
            hint: err.hint().to_owned(),
        }
    }

    /// The body for a request that could not even be parsed.
    pub fn bad_request(err: &serde_json::Error) -> Self {
        Self {
            code: "request.malformed".to_owned(),
            message: format!("the request is not valid: {err}"),
            hint: "check the request against the documented fields (camelCase; unknown fields are rejected)".to_owned(),
        }
    }
}

/// The answer of every JSON call: `{"ok": T}` or `{"error": ErrorBody}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Answer<T> {
    /// The call succeeded.
    Ok(T),
    /// The call failed; nothing was changed.
    Error(ErrorBody),
}

impl<T> Answer<T> {
    /// Wraps a core result.
    pub fn from_result<E: Diagnostic>(result: Result<T, E>) -> Self {
        match result {
            Ok(value) => Self::Ok(value),
            Err(err) => Self::Error(ErrorBody::from_diagnostic(&err)),
        }
    }
}

impl<T: Serialize> Answer<T> {
    /// Serializes the answer; serialization of Phylax's own types cannot fail, but if it
    /// ever did the caller still gets a well-formed error answer.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|err| {
            format!(
                r#"{{"error":{{"code":"internal.serialize","message":{},"hint":"report this as a bug"}}}}"#,
                serde_json::Value::String(err.to_string())
            )
        })
    }
}

/// Parses a call's request from JSON, answering with `request.malformed` on failure.
/// Every request is a JSON object: `serde` would also build a struct from an array of its
/// fields in order, which no caller means.
pub fn parse_request<R: for<'de> Deserialize<'de>>(json: &str) -> Result<R, ErrorBody> {
    if json.trim_start().as_bytes().first() != Some(&b'{') {
        return Err(ErrorBody {
            code: "request.malformed".to_owned(),
            message: "the request must be a JSON object".to_owned(),
            hint: "send the request as a JSON object with the call's fields".to_owned(),
        });
    }
    serde_json::from_str(json).map_err(|err| ErrorBody::bad_request(&err))
}
