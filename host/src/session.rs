//! Console sessions: how the admin console holds a signed-in credential without the page
//! ever holding it.
//!
//! Signing in (`POST /v1/session` with `Authorization: Bearer`) seals the credential,
//! an expiry and a random CSRF token under the root key ([`RootKey::seal_token`],
//! AES-256-GCM, its own associated-data domain) into the `phylax_session` cookie:
//! `HttpOnly` (no script reads it), `SameSite=Strict` (no cross-site request carries it),
//! `Path=/`, and `Secure` with the `__Host-` name prefix (so no sibling subdomain can
//! plant its own) unless the browser reaches the server over plain HTTP on loopback.
//! The server keeps nothing, so every node of a cluster (same root keys) accepts it.
//!
//! Every request that authenticates with the cookie is re-verified as if the credential
//! had been sent (a revoked or rotated API key, an expired JWT, a changed admin token end
//! the session at once) and must carry `X-Phylax-CSRF` equal to the sealed token
//! (compared in constant time), except `GET /v1/session`, which only returns that token
//! to the page: another origin cannot read the answer. The CSRF token lives in the
//! page's memory only.

use std::net::IpAddr;

use axum::http::{header, HeaderMap, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use phylax_core::crypto::RootKeys;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{ApiError, ApiResult};

/// The cookie's name over plain HTTP on loopback (development).
pub const COOKIE: &str = "phylax_session";
/// The cookie's name everywhere else: `__Host-` makes the browser refuse it unless it is
/// `Secure`, for `Path=/` and without `Domain`.
pub const SECURE_COOKIE: &str = "__Host-phylax_session";
/// Longest `Set-Cookie` a browser is sure to keep (they drop larger ones silently).
pub const MAX_SET_COOKIE_LEN: usize = 4000;
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-phylax-csrf";
/// How long a session lasts, seconds (8 hours; the credential may end it sooner).
pub const SESSION_SECS: u64 = 8 * 3600;
/// Longest cookie value read: a sealed JWT fits well under it.
pub const MAX_COOKIE_LEN: usize = 8192;
/// The purpose the cookie is sealed for (its associated data).
const PURPOSE: &str = "console-session/v1";

/// What the cookie seals.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Sealed {
    credential: String,
    expires_at: u64,
    csrf: String,
}

impl Drop for Sealed {
    fn drop(&mut self) {
        self.credential.zeroize();
        self.csrf.zeroize();
    }
}

/// An opened session: the credential to verify, and what the page is told.
pub struct Opened {
    /// The credential, verified on every request like a bearer token.
    pub credential: Zeroizing<String>,
    /// The session's CSRF token and expiry.
    pub meta: SessionMeta,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

/// What a request authenticated by the cookie knows of its session (no secret but the
/// CSRF token, which the page must hold anyway).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionMeta {
    /// The CSRF token.
    pub csrf: String,
    /// When the session ends, unix seconds.
    pub expires_at: u64,
}

impl std::fmt::Debug for SessionMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionMeta")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A new random CSRF token (32 bytes, base64url).
pub fn new_csrf() -> ApiResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(ApiError::internal)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Seals a session for `credential` until `expires_at`: the cookie value.
pub fn seal(
    root: &RootKeys,
    credential: &str,
    expires_at: u64,
    csrf: &str,
) -> ApiResult<Zeroizing<String>> {
    let sealed = Sealed {
        credential: credential.to_owned(),
        expires_at,
        csrf: csrf.to_owned(),
    };
    let plain = Zeroizing::new(serde_json::to_vec(&sealed).map_err(ApiError::internal)?);
    let bytes = root
        .current()
        .seal_token(PURPOSE, &plain)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes)))
}

fn session_invalid() -> ApiError {
    ApiError::unauthenticated(
        "auth.session_invalid",
        "the console session is not valid (expired, signed out, or made by another server)",
    )
}

/// Opens a cookie value at `now`: 401 `auth.session_invalid` when it is not one of ours
/// or has expired.
pub fn open(root: &RootKeys, cookie: &str, now: u64) -> ApiResult<Opened> {
    if cookie.len() > MAX_COOKIE_LEN {
        return Err(session_invalid());
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(cookie)
        .map_err(|_| session_invalid())?;
    let plain = root
        .all()
        .find_map(|k| k.open_token(PURPOSE, &bytes))
        .ok_or_else(session_invalid)?;
    let sealed: Sealed = serde_json::from_slice(&plain).map_err(|_| session_invalid())?;
    if sealed.expires_at <= now {
        return Err(session_invalid());
    }
    Ok(Opened {
        credential: Zeroizing::new(sealed.credential.clone()),
        meta: SessionMeta {
            csrf: sealed.csrf.clone(),
            expires_at: sealed.expires_at,
        },
    })
}

/// Checks the request's `X-Phylax-CSRF` against the session's token, in constant time.
pub fn check_csrf(meta: &SessionMeta, sent: Option<&str>) -> ApiResult<()> {
    let matches = sent.is_some_and(|s| bool::from(s.as_bytes().ct_eq(meta.csrf.as_bytes())));
    if matches {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "auth.csrf",
            "a request authenticated by the console session must carry its CSRF token",
            "send `X-Phylax-CSRF` with the token `GET /v1/session` returns",
        ))
    }
}

/// The session cookie's name: [`SECURE_COOKIE`] unless `insecure`.
pub fn cookie_name(insecure: bool) -> &'static str {
    if insecure {
        COOKIE
    } else {
        SECURE_COOKIE
    }
}

/// The session cookie's value in the request's `Cookie` headers, if any (the name
/// [`cookie_name`] gives: a `Secure` server never reads the plain-named one).
pub fn cookie_value(headers: &HeaderMap, insecure: bool) -> Option<String> {
    let wanted = cookie_name(insecure);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Whether the cookie may go without `Secure`: only when the request comes from a
/// loopback address without `X-Forwarded-Proto: https` (development). A TLS proxy on
/// the same host must send that header, or the cookie goes without `Secure`.
pub fn insecure_ok(peer: Option<IpAddr>, headers: &HeaderMap) -> bool {
    peer.is_some_and(|ip| ip.is_loopback()) && !behind_tls(headers)
}

/// Whether a TLS-terminating proxy says the browser came over HTTPS
/// (`X-Forwarded-Proto: https`).
pub fn behind_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// The `Set-Cookie` value that installs a session (`value`) or, with `None`, removes it.
pub fn set_cookie(value: Option<&str>, max_age: u64, insecure: bool) -> ApiResult<HeaderValue> {
    let name = cookie_name(insecure);
    let secure = if insecure { "" } else { "; Secure" };
    let text = Zeroizing::new(match value {
        Some(v) => {
            format!("{name}={v}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
        }
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    });
    if text.len() > MAX_SET_COOKIE_LEN {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "session.credential_too_large",
            format!("this credential makes a session cookie over {MAX_SET_COOKIE_LEN} bytes, which browsers drop"),
            "sign in with a shorter credential (an API key, or a JWT with fewer claims)",
        ));
    }
    HeaderValue::from_str(&text).map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use phylax_core::crypto::RootKey;

    fn keys(hex: &str) -> RootKeys {
        RootKeys::single(RootKey::parse(hex).unwrap())
    }

    #[test]
    fn seals_opens_and_refuses() {
        let root = keys(&"11".repeat(32));
        let cookie = seal(&root, "phx_live_secret", 1000, "csrf-token").unwrap();
        assert!(
            !cookie.contains("phx_live"),
            "the credential is sealed, not encoded"
        );
        let opened = open(&root, &cookie, 999).unwrap();
        assert_eq!(opened.credential.as_str(), "phx_live_secret");
        assert_eq!(opened.meta.csrf, "csrf-token");
        // Expired, another root key, altered, garbage: all the same refusal.
        let first = if cookie.starts_with('A') { "B" } else { "A" };
        for (root, text, now) in [
            (&root, cookie.to_string(), 1000),
            (&keys(&"22".repeat(32)), cookie.to_string(), 1),
            (&root, format!("{first}{}", &cookie[1..]), 1),
            (&root, "not base64!".to_owned(), 1),
            (&root, String::new(), 1),
            (&root, "A".repeat(MAX_COOKIE_LEN + 1), 1),
        ] {
            let Err(e) = open(root, &text, now) else {
                panic!("opened {text:?}")
            };
            assert_eq!(e.body.code, "auth.session_invalid");
        }
        // Sealed for the console, it does not open as anything else (another purpose).
        let bytes = URL_SAFE_NO_PAD.decode(cookie.as_str()).unwrap();
        assert!(root.current().open_token("other/v1", &bytes).is_none());
    }

    #[test]
    fn csrf_must_match() {
        let meta = SessionMeta {
            csrf: "abc".into(),
            expires_at: 5,
        };
        assert!(check_csrf(&meta, Some("abc")).is_ok());
        for sent in [None, Some(""), Some("abd"), Some("abcd")] {
            assert_eq!(check_csrf(&meta, sent).unwrap_err().body.code, "auth.csrf");
        }
    }

    #[test]
    fn finds_the_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; phylax_session=xyz; b=2"),
        );
        assert_eq!(cookie_value(&h, true).as_deref(), Some("xyz"));
        // A Secure server reads only the `__Host-` name (a sibling domain cannot set it).
        assert_eq!(cookie_value(&h, false), None);
        h.append(
            header::COOKIE,
            HeaderValue::from_static("__Host-phylax_session=abc"),
        );
        assert_eq!(cookie_value(&h, false).as_deref(), Some("abc"));
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("phylax_session_x=1"),
        );
        assert_eq!(cookie_value(&h, true), None);
    }

    #[test]
    fn a_cookie_browsers_would_drop_is_refused() {
        assert!(set_cookie(Some(&"a".repeat(3800)), 5, false).is_ok());
        let e = set_cookie(Some(&"a".repeat(4000)), 5, false).unwrap_err();
        assert_eq!(e.body.code, "session.credential_too_large");
        let set = set_cookie(Some("v"), 5, false).unwrap();
        assert!(set
            .to_str()
            .unwrap()
            .starts_with("__Host-phylax_session=v; Path=/;"));
        assert!(set.to_str().unwrap().ends_with("; Secure"));
    }
}
