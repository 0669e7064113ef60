//! Tenant API keys: round trip, wrong secret, typos, expiry, revocation, rotation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests should fail loudly"
)]

use phylax_core::identity::api_key::{self, PREFIX};
use phylax_core::identity::calls;
use phylax_core::identity::{ApiKeyError, Environment, IssuedApiKey, NewApiKey};
use phylax_core::Diagnostic;

const NOW: u64 = 1_700_000_000;
const DAY: u64 = 86_400;

fn issue_with(expires_at: Option<u64>) -> IssuedApiKey {
    api_key::issue(
        &NewApiKey {
            tenant: "acme-clinic".to_owned(),
            environment: Environment::Live,
            scopes: vec!["patients:read".to_owned(), "appointments:write".to_owned()],
            expires_at,
            name: Some("billing sync".to_owned()),
        },
        NOW,
    )
    .unwrap()
}

fn issue() -> IssuedApiKey {
    issue_with(Some(NOW + 90 * DAY))
}

#[test]
fn an_issued_key_round_trips() {
    let issued = issue();
    let text = issued.api_key.expose();
    assert!(text.starts_with("phx_live_"), "{text}");
    assert_eq!(text.len(), 4 + 5 + 16 + 1 + 52 + 1 + 7);
    let scanner = |t: &str| {
        let parts: Vec<&str> = t.split('_').collect();
        parts.len() == 5
            && parts[0] == PREFIX
            && [16, 52, 7].iter().zip(&parts[2..]).all(|(n, p)| {
                p.len() == *n
                    && p.bytes()
                        .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
            })
    };
    assert!(scanner(text), "matches the documented scanner pattern");

    let parsed = api_key::parse(text).unwrap();
    assert_eq!(parsed.key_id(), issued.record.key_id);
    let verified = api_key::verify(&parsed, &issued.record, NOW + 1).unwrap();
    assert_eq!(verified.tenant, "acme-clinic");
    assert_eq!(verified.scopes, ["appointments:write", "patients:read"]);
    assert!(verified.require_scope("patients:read").is_ok());
    let err = verified.require_scope("patients:write").unwrap_err();
    assert_eq!(err.code(), "api_key.missing_scope");

    // Only a hash is stored: the record holds no part of the secret.
    let secret_part = text.split('_').nth(3).unwrap();
    let stored = serde_json::to_string(&issued.record).unwrap();
    assert!(!stored.contains(secret_part));
    assert_eq!(issued.record.hash.len(), 64);
    // Debug output never shows the secret.
    assert!(!format!("{issued:?}").contains(secret_part));
    assert!(!format!("{parsed:?}").contains(secret_part));
    // Two keys never collide.
    let other = issue();
    assert_ne!(other.record.key_id, issued.record.key_id);
    assert_ne!(other.api_key.expose(), text);
}

#[test]
fn a_wrong_secret_is_invalid() {
    let issued = issue();
    let other = issue();
    // The other key's secret under this key id, with a correct checksum: the checksum
    // is no protection, the hash is.
    let mut parts: Vec<String> = issued
        .api_key
        .expose()
        .split('_')
        .map(str::to_owned)
        .collect();
    parts[3] = other.api_key.expose().split('_').nth(3).unwrap().to_owned();
    let body = parts[..4].join("_");
    let crc = crc32fast::hash(body.as_bytes()).to_be_bytes();
    // Re-encode the checksum the way the format does (base32, 7 characters).
    let forged = format!("{body}_{}", base32(&crc));
    let parsed = api_key::parse(&forged).unwrap();
    let err = api_key::verify(&parsed, &issued.record, NOW).unwrap_err();
    assert_eq!(err, ApiKeyError::Invalid);
    assert_eq!(err.code(), "api_key.invalid");

    // A valid key checked against another key's record is a lookup bug, said as such.
    let err = api_key::verify_text(other.api_key.expose(), &issued.record, NOW).unwrap_err();
    assert_eq!(err.code(), "api_key.record_mismatch");

    // The record's hash moved to another tenant's record no longer verifies.
    let mut moved = issued.record.clone();
    moved.tenant = "other-clinic".to_owned();
    assert_eq!(
        api_key::verify_text(issued.api_key.expose(), &moved, NOW).unwrap_err(),
        ApiKeyError::Invalid
    );
    // A test-environment record for a live key fails too.
    let mut test_env = issued.record.clone();
    test_env.environment = Environment::Test;
    assert_eq!(
        api_key::verify_text(issued.api_key.expose(), &test_env, NOW).unwrap_err(),
        ApiKeyError::Invalid
    );
}

fn base32(bytes: &[u8]) -> String {
    const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(A[((acc >> bits) & 31) as usize] as char);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(A[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[test]
fn every_one_character_typo_is_caught_by_the_checksum() {
    let issued = issue();
    let text = issued.api_key.expose();
    let start = "phx_live_".len();
    let mut checked = 0;
    for (at, original) in text.char_indices().skip(start) {
        if original == '_' {
            continue;
        }
        for typo in ['a', 'q', 'z', '2', '7', 'e'] {
            if typo == original {
                continue;
            }
            let mut typed = text.to_owned();
            typed.replace_range(at..at + 1, &typo.to_string());
            let err = api_key::parse(&typed).unwrap_err();
            assert_eq!(err, ApiKeyError::Checksum, "typo at {at}");
            assert_eq!(err.code(), "api_key.checksum");
            checked += 1;
        }
    }
    assert!(checked > 400, "{checked}");
    // Neighbouring characters swapped.
    let bytes = text.as_bytes();
    for at in start..text.len() - 1 {
        if bytes[at] == bytes[at + 1] || bytes[at] == b'_' || bytes[at + 1] == b'_' {
            continue;
        }
        let mut swapped = bytes.to_vec();
        swapped.swap(at, at + 1);
        let swapped = String::from_utf8(swapped).unwrap();
        assert_eq!(
            api_key::parse(&swapped).unwrap_err(),
            ApiKeyError::Checksum,
            "swap at {at}"
        );
    }
    // Cut short when copied.
    assert_eq!(
        api_key::parse(&text[..text.len() - 1]).unwrap_err().code(),
        "api_key.malformed"
    );
    // Surrounding whitespace from a copy is fine.
    assert!(api_key::parse(&format!("  {text}\n")).is_ok());
}

#[test]
fn malformed_keys_say_what_is_wrong() {
    for bad in [
        "",
        "not a key",
        "sk_live_abc",
        "phx_prod_aaaaaaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_aaaaaaa",
        "phx_live_aaaa_bbbb_cccc",
        "phx_live_a_b_c_d_e",
    ] {
        let err = api_key::parse(bad).unwrap_err();
        assert_eq!(err.code(), "api_key.malformed", "{bad:?}: {err}");
    }
    let long = "x".repeat(10_000);
    assert_eq!(
        api_key::parse(&long).unwrap_err().code(),
        "api_key.malformed"
    );
}

#[test]
fn an_expired_key_is_refused() {
    let issued = issue_with(Some(NOW + DAY));
    let text = issued.api_key.expose();
    assert!(api_key::verify_text(text, &issued.record, NOW + DAY - 1).is_ok());
    let err = api_key::verify_text(text, &issued.record, NOW + DAY).unwrap_err();
    assert_eq!(
        err,
        ApiKeyError::Expired {
            key_id: issued.record.key_id.clone(),
            expires_at: NOW + DAY
        }
    );
    assert_eq!(err.code(), "api_key.expired");
    // A key without expiry keeps working.
    let forever = issue_with(None);
    assert!(
        api_key::verify_text(forever.api_key.expose(), &forever.record, NOW + 3_650 * DAY).is_ok()
    );
    // Expiry in the past is refused at issue time.
    let err = api_key::issue(
        &NewApiKey {
            tenant: "t".to_owned(),
            environment: Environment::Test,
            scopes: vec![],
            expires_at: Some(NOW),
            name: None,
        },
        NOW,
    )
    .unwrap_err();
    assert_eq!(err.code(), "api_key.invalid_request");
}

#[test]
fn a_revoked_key_is_refused() {
    let issued = issue();
    let revoked = api_key::revoke(&issued.record, NOW + 100);
    let text = issued.api_key.expose();
    assert!(
        api_key::verify_text(text, &revoked, NOW + 99).is_ok(),
        "before the revocation time"
    );
    let err = api_key::verify_text(text, &revoked, NOW + 100).unwrap_err();
    assert_eq!(err.code(), "api_key.revoked");
    // Revoking again keeps the first time.
    assert_eq!(
        api_key::revoke(&revoked, NOW + 500).revoked_at,
        Some(NOW + 100)
    );
    // Revocation is only revealed to someone holding the secret.
    let other = issue();
    let mut impostor_record = revoked.clone();
    impostor_record.key_id = other.record.key_id.clone();
    assert_eq!(
        api_key::verify_text(other.api_key.expose(), &impostor_record, NOW + 200).unwrap_err(),
        ApiKeyError::Invalid
    );
    // A revoked key cannot be rotated.
    assert_eq!(
        api_key::rotate(&revoked, NOW + 200, DAY, None)
            .unwrap_err()
            .code(),
        "api_key.invalid_request"
    );
}

#[test]
fn the_old_key_works_inside_the_overlap_window_only() {
    let issued = issue();
    let rotated_at = NOW + 10 * DAY;
    let rotation =
        api_key::rotate(&issued.record, rotated_at, DAY, Some(rotated_at + 90 * DAY)).unwrap();
    let new_text = rotation.issued.api_key.expose();
    let old_text = issued.api_key.expose();

    assert_eq!(rotation.issued.record.tenant, issued.record.tenant);
    assert_eq!(rotation.issued.record.scopes, issued.record.scopes);
    assert_eq!(
        rotation.previous.replaced_by.as_deref(),
        Some(&*rotation.issued.record.key_id)
    );
    assert_eq!(rotation.previous.overlap_until, Some(rotated_at + DAY));

    // Inside the window the old key works, and says what replaces it.
    let inside = api_key::verify_text(old_text, &rotation.previous, rotated_at + DAY - 1).unwrap();
    assert_eq!(
        inside.replaced_by.as_deref(),
        Some(&*rotation.issued.record.key_id)
    );
    assert_eq!(inside.overlap_until, Some(rotated_at + DAY));
    // Outside it, refused.
    let err = api_key::verify_text(old_text, &rotation.previous, rotated_at + DAY).unwrap_err();
    assert_eq!(
        err,
        ApiKeyError::Superseded {
            key_id: issued.record.key_id.clone(),
            replaced_by: rotation.issued.record.key_id.clone()
        }
    );
    assert_eq!(err.code(), "api_key.superseded");
    // The new key works throughout.
    for now in [rotated_at, rotated_at + DAY, rotated_at + 30 * DAY] {
        let ok = api_key::verify_text(new_text, &rotation.issued.record, now).unwrap();
        assert_eq!(ok.replaced_by, None);
    }
    // The old key is not a key for the new record, nor the reverse.
    assert!(api_key::verify_text(old_text, &rotation.issued.record, rotated_at).is_err());
    // A key is rotated once; rotate its replacement next.
    assert!(api_key::rotate(&rotation.previous, rotated_at, DAY, None).is_err());
}

#[test]
fn bad_scopes_and_tenants_are_refused_at_issue() {
    for (tenant, scope) in [("", "a"), ("t", ""), ("t", "has space"), ("t", "quote\"")] {
        let err = api_key::issue(
            &NewApiKey {
                tenant: tenant.to_owned(),
                environment: Environment::Live,
                scopes: vec![scope.to_owned()],
                expires_at: None,
                name: None,
            },
            NOW,
        )
        .unwrap_err();
        assert_eq!(
            err.code(),
            "api_key.invalid_request",
            "{tenant:?} {scope:?}"
        );
    }
}

#[test]
fn json_calls_issue_verify_rotate_revoke() {
    let req: calls::IssueApiKeyRequest = phylax_core::calls::parse_request(
        r#"{"tenant":"acme-clinic","environment":"test","scopes":["patients:read"],"now":1700000000}"#,
    )
    .unwrap();
    let issued = calls::issue_api_key(&req).unwrap();
    assert!(issued.api_key.starts_with("phx_test_"));

    let parsed = calls::parse_api_key(&calls::ParseApiKeyRequest {
        api_key: issued.api_key.clone(),
    })
    .unwrap();
    assert_eq!(parsed.key_id, issued.record.key_id);

    let verify = |record, scopes: &[&str], now| {
        let answer =
            phylax_core::Answer::from_result(calls::verify_api_key(&calls::VerifyApiKeyRequest {
                api_key: issued.api_key.clone(),
                record,
                now,
                required_scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            }));
        serde_json::from_str::<serde_json::Value>(&answer.to_json()).unwrap()
    };
    let ok = verify(issued.record.clone(), &["patients:read"], NOW);
    assert_eq!(ok["ok"]["tenant"], "acme-clinic");
    assert_eq!(ok["ok"]["environment"], "test");
    let denied = verify(issued.record.clone(), &["patients:write"], NOW);
    assert_eq!(denied["error"]["code"], "api_key.missing_scope");

    let rotated = calls::rotate_api_key(&calls::RotateApiKeyRequest {
        record: issued.record.clone(),
        now: NOW,
        overlap_seconds: 60,
        expires_at: None,
    })
    .unwrap();
    let previous = rotated.previous.unwrap();
    assert_eq!(
        verify(previous.clone(), &[], NOW + 59)["ok"]["replacedBy"],
        rotated.record.key_id.as_str()
    );
    assert_eq!(
        verify(previous, &[], NOW + 60)["error"]["code"],
        "api_key.superseded"
    );

    let revoked = calls::revoke_api_key(&calls::RevokeApiKeyRequest {
        record: issued.record.clone(),
        now: NOW,
    })
    .unwrap();
    assert_eq!(
        verify(revoked.record, &[], NOW)["error"]["code"],
        "api_key.revoked"
    );

    let bad = phylax_core::calls::parse_request::<calls::ParseApiKeyRequest>(
        r#"{"apiKey":"x","secret":"y"}"#,
    );
    assert_eq!(bad.unwrap_err().code, "request.malformed");
}
