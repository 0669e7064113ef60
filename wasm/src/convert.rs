//! Conversions between JS values and the core's serde types, and the one error shape.
//!
//! Every failure crosses to JS as a plain `{code, message, hint}` object (the core's
//! [`ErrorBody`]); the TypeScript layer turns it into a `PhylaxError`. Nothing here
//! panics, so bad input from JS never traps the module.

use phylax_core::{Diagnostic, ErrorBody};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::JsValue;

/// Serializes to plain JS objects (maps become objects, not `Map`s).
const SERIALIZER: serde_wasm_bindgen::Serializer =
    serde_wasm_bindgen::Serializer::json_compatible();

/// An error body as a JS value.
pub fn error_value(body: &ErrorBody) -> JsValue {
    body.serialize(&SERIALIZER)
        .unwrap_or_else(|_| JsValue::from_str(&body.message))
}

/// Any core error as a JS value.
pub fn core_error(err: &impl Diagnostic) -> JsValue {
    error_value(&ErrorBody::from_diagnostic(err))
}

/// Reads a request object given by JS.
pub fn from_js<T: DeserializeOwned>(value: JsValue) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(value).map_err(|err| {
        error_value(&ErrorBody {
            code: "request.malformed".to_owned(),
            message: format!("the request is not valid: {err}"),
            hint: "check the argument against the documented fields (camelCase; unknown fields are rejected)".to_owned(),
        })
    })
}

/// Converts an answer for JS.
pub fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value.serialize(&SERIALIZER).map_err(|err| {
        error_value(&ErrorBody {
            code: "internal.serialize".to_owned(),
            message: format!("could not convert the answer: {err}"),
            hint: "report this as a bug".to_owned(),
        })
    })
}

/// Maps a core result to a JS result.
pub fn check<T, E: Diagnostic>(result: Result<T, E>) -> Result<T, JsValue> {
    result.map_err(|err| core_error(&err))
}

/// Reads a JS number as unix seconds.
pub fn unix_seconds(now: f64) -> Result<u64, JsValue> {
    if (0.0..=9_007_199_254_740_991.0).contains(&now) && now.fract() == 0.0 {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "checked to be a non-negative safe integer"
        )]
        Ok(now as u64)
    } else {
        Err(error_value(&ErrorBody {
            code: "request.invalid_time".to_owned(),
            message: format!("`{now}` is not a time in whole unix seconds"),
            hint: "pass Math.floor(Date.now() / 1000)".to_owned(),
        }))
    }
}
