//! Conversions between JS values and the core's serde types, and the one error shape.
//!
//! Requests and answers cross as JSON text, the core's JSON call types. Not
//! `serde-wasm-bindgen`: its struct access reads only the fields it knows, so unknown
//! fields would pass silently, while the core's request types reject them; and one
//! string across the boundary is cheaper than one call per object property.
//! Every failure crosses as a plain `{code, message, hint}` object (the core's
//! [`ErrorBody`]); the TypeScript layer turns it into a `PhylaxError`. Nothing here
//! panics, so bad input from JS never traps the module.

use phylax_core::{Diagnostic, ErrorBody};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::JsValue;

/// An error body as a JS object `{code, message, hint}`.
pub fn error_value(body: &ErrorBody) -> JsValue {
    let object = js_sys::Object::new();
    for (key, value) in [
        ("code", &body.code),
        ("message", &body.message),
        ("hint", &body.hint),
    ] {
        // Setting a string property on a fresh plain object cannot fail.
        let _ = js_sys::Reflect::set(&object, &JsValue::from_str(key), &JsValue::from_str(value));
    }
    object.into()
}

/// Maps a core result to a JS result.
pub fn check<T, E: Diagnostic>(result: Result<T, E>) -> Result<T, JsValue> {
    result.map_err(|err| error_value(&ErrorBody::from_diagnostic(&err)))
}

/// Reads a request given by JS as JSON text.
pub fn from_json<T: DeserializeOwned>(json: &str) -> Result<T, JsValue> {
    phylax_core::calls::parse_request(json).map_err(|body| error_value(&body))
}

/// Converts an answer to JSON text for JS.
pub fn to_json<T: Serialize>(value: &T) -> Result<String, JsValue> {
    serde_json::to_string(value).map_err(|err| {
        error_value(&ErrorBody {
            code: "internal.serialize".to_owned(),
            message: format!("could not convert the answer: {err}"),
            hint: "report this as a bug".to_owned(),
        })
    })
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
            code: "request.malformed".to_owned(),
            // Not the number itself: formatting an f64 links ~14 KB of float printing.
            message: "`now` is not a time in whole unix seconds (0 to 2^53 - 1)".to_owned(),
            hint: "pass Math.floor(Date.now() / 1000)".to_owned(),
        }))
    }
}
