//! JWT bearer tokens: real RS256/ES256/EdDSA tokens pass; every kind of bad token fails
//! with its own error.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests should fail loudly"
)]

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::Mac;
use phylax_core::identity::calls;
use phylax_core::identity::{ClaimMapping, Identity, JwtConfig, JwtError, JwtVerifier};
use phylax_core::Diagnostic;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

const ISS: &str = "https://phylax-test.eu.auth0.com/";
const AUD: &str = "https://api.phylax.dev";
const NOW: u64 = 1_700_000_000;

fn rsa_key() -> &'static rsa::RsaPrivateKey {
    static KEY: OnceLock<rsa::RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        rsa::RsaPrivateKey::from_pkcs8_pem(include_str!("data/jwt/rs256-test-key.pem")).unwrap()
    })
}

fn ec_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_bytes(&[0x42; 32].into()).unwrap()
}

fn ed_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[0x24; 32])
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn jwks() -> Value {
    let public = rsa_key().to_public_key();
    let point = ec_key().verifying_key().to_encoded_point(false);
    json!({"keys": [
        {"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256",
         "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be())},
        {"kty": "EC", "kid": "ec-1", "crv": "P-256",
         "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())},
        {"kty": "OKP", "kid": "ed-1", "crv": "Ed25519",
         "x": b64(ed_key().verifying_key().as_bytes())},
        // Keys this verifier cannot use are skipped, not fatal.
        {"kty": "oct", "kid": "hmac-1", "k": "c2VjcmV0"},
        {"kty": "RSA", "kid": "enc-1", "use": "enc",
         "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be())},
    ]})
}

fn verifier() -> JwtVerifier {
    let mut config = JwtConfig::new(ISS, AUD);
    config.claims.expose = vec!["email".to_owned()];
    JwtVerifier::new(config, &jwks().to_string()).unwrap()
}

fn claims() -> Value {
    json!({
        "iss": ISS,
        "sub": "auth0|user-42",
        "aud": [AUD, "https://phylax-test.eu.auth0.com/userinfo"],
        "iat": NOW - 10,
        "exp": NOW + 3_600,
        "https://phylax.dev/tenant": "acme-clinic",
        "https://phylax.dev/roles": ["provider", "staff"],
        "amr": ["pwd", "mfa"],
        "email": "dr.who@acme.example",
        "scope": "openid profile"
    })
}

/// Signs `claims` with the header `alg`/`kid`, with a real key.
fn sign(alg: &str, kid: &str, claims: &Value) -> String {
    let header = json!({"alg": alg, "typ": "JWT", "kid": kid});
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = match alg {
        "RS256" => {
            use rsa::signature::{SignatureEncoding, Signer};
            rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(rsa_key().clone())
                .sign(input.as_bytes())
                .to_vec()
        }
        "ES256" => {
            use p256::ecdsa::signature::Signer;
            let sig: p256::ecdsa::Signature = ec_key().sign(input.as_bytes());
            sig.to_bytes().to_vec()
        }
        "EdDSA" => {
            use ed25519_dalek::Signer;
            ed_key().sign(input.as_bytes()).to_bytes().to_vec()
        }
        other => panic!("no test key for {other}"),
    };
    format!("{input}.{}", b64(&signature))
}

fn rs256_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| sign("RS256", "rsa-1", &claims()))
}

fn code(result: Result<Identity, JwtError>) -> &'static str {
    result.unwrap_err().code()
}

#[test]
fn real_rs256_es256_and_eddsa_tokens_pass_and_map_to_the_principal() {
    let verifier = verifier();
    let tokens = [
        rs256_token().to_owned(),
        sign("ES256", "ec-1", &claims()),
        sign("EdDSA", "ed-1", &claims()),
    ];
    for token in &tokens {
        let identity = verifier.verify(token, NOW).unwrap();
        assert_eq!(
            identity,
            Identity {
                principal_id: "auth0|user-42".to_owned(),
                tenant_id: Some("acme-clinic".to_owned()),
                roles: vec!["provider".to_owned(), "staff".to_owned()],
                mfa: true,
                issuer: ISS.to_owned(),
                expires_at: NOW + 3_600,
                claims: json!({"email": "dr.who@acme.example"})
                    .as_object()
                    .unwrap()
                    .clone(),
            }
        );
    }
    // `Bearer ` as in an Authorization header is accepted.
    assert!(verifier
        .verify(&format!("Bearer {}", tokens[2]), NOW)
        .is_ok());
    let raw = verifier.verify_token(&tokens[1], NOW).unwrap();
    assert_eq!(raw.kid.as_deref(), Some("ec-1"));
    assert_eq!(raw.claims["scope"], "openid profile");
}

#[test]
fn alg_none_is_refused() {
    let claims = b64(claims().to_string().as_bytes());
    for alg in ["none", "None", "NONE"] {
        let header = b64(json!({"alg": alg}).to_string().as_bytes());
        for token in [
            format!("{header}.{claims}."),
            format!("{header}.{claims}.c2ln"),
        ] {
            let err = verifier().verify(&token, NOW).unwrap_err();
            assert_eq!(err, JwtError::AlgNone);
            assert_eq!(err.code(), "jwt.alg_none");
        }
    }
}

#[test]
fn an_hs256_token_signed_with_the_rsa_public_key_is_refused() {
    // The classic confusion: the attacker uses the public key as an HMAC secret.
    let public_pem = rsa_key()
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    for kid in ["rsa-1", "hmac-1"] {
        let header = b64(json!({"alg": "HS256", "kid": kid}).to_string().as_bytes());
        let input = format!("{header}.{}", b64(claims().to_string().as_bytes()));
        let mut mac = phylax_core::crypto::kdf::hmac_sha256(public_pem.as_bytes());
        mac.update(input.as_bytes());
        let token = format!("{input}.{}", b64(&mac.finalize().into_bytes()));
        let err = verifier().verify(&token, NOW).unwrap_err();
        assert_eq!(
            err,
            JwtError::AlgNotAllowed {
                alg: "HS256".to_owned()
            }
        );
        assert_eq!(err.code(), "jwt.alg_not_allowed");
    }
    // HS algorithms cannot even be put on the allow-list.
    let config = json!({"issuer": ISS, "audiences": [AUD], "algorithms": ["RS256", "HS256"]});
    assert!(serde_json::from_value::<JwtConfig>(config).is_err());
}

#[test]
fn an_algorithm_off_the_allow_list_is_refused() {
    let mut config = JwtConfig::new(ISS, AUD);
    config.algorithms = vec![phylax_core::identity::Algorithm::EdDsa];
    let only_ed = JwtVerifier::new(config, &jwks().to_string()).unwrap();
    assert_eq!(
        code(only_ed.verify(rs256_token(), NOW)),
        "jwt.alg_not_allowed"
    );
    assert!(only_ed
        .verify(&sign("EdDSA", "ed-1", &claims()), NOW)
        .is_ok());
}

#[test]
fn wrong_issuer_and_audience_are_refused() {
    let mut wrong_iss = claims();
    wrong_iss["iss"] = json!("https://evil.example/");
    let err = verifier()
        .verify(&sign("EdDSA", "ed-1", &wrong_iss), NOW)
        .unwrap_err();
    assert_eq!(err.code(), "jwt.wrong_issuer");
    assert!(err.to_string().contains("evil.example"), "{err}");

    let mut no_iss = claims();
    no_iss.as_object_mut().unwrap().remove("iss");
    assert_eq!(
        code(verifier().verify(&sign("EdDSA", "ed-1", &no_iss), NOW)),
        "jwt.wrong_issuer"
    );

    for aud in [
        json!("https://other.api"),
        json!(["a", "b"]),
        json!(null),
        json!(42),
    ] {
        let mut wrong_aud = claims();
        wrong_aud["aud"] = aud.clone();
        assert_eq!(
            code(verifier().verify(&sign("ES256", "ec-1", &wrong_aud), NOW)),
            "jwt.wrong_audience",
            "aud {aud}"
        );
    }
    let mut single = claims();
    single["aud"] = json!(AUD);
    assert!(verifier()
        .verify(&sign("ES256", "ec-1", &single), NOW)
        .is_ok());
}

#[test]
fn expired_and_not_yet_valid_tokens_are_refused_with_leeway() {
    let token = rs256_token();
    let exp = NOW + 3_600;
    // 60 s of leeway by default.
    assert!(verifier().verify(token, exp + 59).is_ok());
    let err = verifier().verify(token, exp + 60).unwrap_err();
    assert_eq!(err, JwtError::Expired { exp, now: exp + 60 });
    assert_eq!(err.code(), "jwt.expired");

    let mut later = claims();
    later["nbf"] = json!(NOW + 600);
    let token = sign("EdDSA", "ed-1", &later);
    let err = verifier().verify(&token, NOW).unwrap_err();
    assert_eq!(
        err,
        JwtError::NotYetValid {
            nbf: NOW + 600,
            now: NOW
        }
    );
    assert_eq!(err.code(), "jwt.not_yet_valid");
    assert!(
        verifier().verify(&token, NOW + 540).is_ok(),
        "inside the leeway"
    );

    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        code(verifier().verify(&sign("EdDSA", "ed-1", &no_exp), NOW)),
        "jwt.missing_claim"
    );
    let mut bad_exp = claims();
    bad_exp["exp"] = json!("tomorrow");
    assert_eq!(
        code(verifier().verify(&sign("EdDSA", "ed-1", &bad_exp), NOW)),
        "jwt.invalid_claim"
    );
    let mut fractional = claims();
    fractional["exp"] = json!(1_700_000_100.9);
    let ok = verifier()
        .verify(&sign("EdDSA", "ed-1", &fractional), NOW)
        .unwrap();
    assert_eq!(ok.expires_at, 1_700_000_100);
}

#[test]
fn an_unknown_kid_is_refused() {
    let err = verifier()
        .verify(&sign("EdDSA", "rotated-away", &claims()), NOW)
        .unwrap_err();
    assert_eq!(
        err,
        JwtError::UnknownKey {
            kid: Some("rotated-away".to_owned())
        }
    );
    assert_eq!(err.code(), "jwt.unknown_kid");
    // Without a kid, only a JWKS with exactly one key for the algorithm will do.
    let header = b64(json!({"alg": "EdDSA"}).to_string().as_bytes());
    let input = format!("{header}.{}", b64(claims().to_string().as_bytes()));
    let signature = {
        use ed25519_dalek::Signer;
        ed_key().sign(input.as_bytes()).to_bytes()
    };
    assert!(verifier()
        .verify(&format!("{input}.{}", b64(&signature)), NOW)
        .is_ok());
}

#[test]
fn a_key_of_the_wrong_type_for_the_algorithm_is_refused() {
    // An ES256 signature claiming the RSA key; an RS256 token naming a skipped key.
    assert_eq!(
        code(verifier().verify(&sign("ES256", "rsa-1", &claims()), NOW)),
        "jwt.key_mismatch"
    );
    assert_eq!(
        code(verifier().verify(&sign("RS256", "enc-1", &claims()), NOW)),
        "jwt.key_mismatch"
    );
    // A JWK that declares another `alg` than the token's.
    let mut set = jwks();
    set["keys"][1]["alg"] = json!("ES384");
    let verifier = JwtVerifier::new(JwtConfig::new(ISS, AUD), &set.to_string()).unwrap();
    assert_eq!(
        code(verifier.verify(&sign("ES256", "ec-1", &claims()), NOW)),
        "jwt.key_mismatch"
    );
}

#[test]
fn garbled_and_tampered_tokens_are_refused() {
    let verifier = verifier();
    let good = sign("EdDSA", "ed-1", &claims());
    let parts: Vec<&str> = good.split('.').collect();
    let malformed = [
        String::new(),
        "garbage".to_owned(),
        "a.b".to_owned(),
        "a.b.c.d".to_owned(),
        format!("{}.{}.{}", "!!!", parts[1], parts[2]),
        format!("{}.{}.{}", b64(b"[1,2]"), parts[1], parts[2]),
        format!("{}.{}.{}", b64(b"{\"kid\":\"ed-1\"}"), parts[1], parts[2]),
        format!("{}.{}.{}=", parts[0], parts[1], parts[2]),
        format!("{}.{}!.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], b64(b"not json"), parts[2]),
        "x".repeat(20_000),
    ];
    for token in &malformed {
        let err = verifier.verify(token, NOW).unwrap_err();
        assert!(
            matches!(err, JwtError::Malformed { .. } | JwtError::BadSignature),
            "{token:.60}: {err:?}"
        );
    }
    // Shape errors are `jwt.malformed`.
    for token in &malformed[..4] {
        assert_eq!(
            code(verifier.verify(token, NOW)),
            "jwt.malformed",
            "{token}"
        );
    }
    assert_eq!(code(verifier.verify(&malformed[10], NOW)), "jwt.malformed");

    // A changed claim under the original signature.
    let mut elevated = claims();
    elevated["https://phylax.dev/roles"] = json!(["platform_admin"]);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(elevated.to_string().as_bytes()),
        parts[2]
    );
    let err = verifier.verify(&forged, NOW).unwrap_err();
    assert_eq!(err, JwtError::BadSignature);
    assert_eq!(err.code(), "jwt.bad_signature");
    // A flipped signature byte, for each algorithm.
    for token in [
        rs256_token().to_owned(),
        sign("ES256", "ec-1", &claims()),
        good.clone(),
    ] {
        let (input, sig) = token.rsplit_once('.').unwrap();
        let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        sig[5] ^= 0x01;
        let err = verifier
            .verify(&format!("{input}.{}", b64(&sig)), NOW)
            .unwrap_err();
        assert_eq!(err, JwtError::BadSignature);
    }
    // A header with `crit` is refused.
    let header = b64(json!({"alg": "EdDSA", "kid": "ed-1", "crit": ["exp"]})
        .to_string()
        .as_bytes());
    assert_eq!(
        code(verifier.verify(&format!("{header}.{}.{}", parts[1], parts[2]), NOW)),
        "jwt.unsupported_header"
    );
}

#[test]
fn the_errors_are_distinct() {
    let codes = [
        "jwt.alg_none",
        "jwt.alg_not_allowed",
        "jwt.wrong_issuer",
        "jwt.wrong_audience",
        "jwt.expired",
        "jwt.not_yet_valid",
        "jwt.unknown_kid",
        "jwt.malformed",
        "jwt.bad_signature",
    ];
    let unique: std::collections::BTreeSet<_> = codes.iter().collect();
    assert_eq!(unique.len(), codes.len());
}

#[test]
fn claim_names_are_configurable() {
    // An Okta-like token: tenant in `org_id`, roles in `groups` as one string, MFA via `otp`.
    let mapping = ClaimMapping {
        tenant: "org_id".to_owned(),
        roles: "groups".to_owned(),
        mfa_values: vec!["mfa".to_owned(), "otp".to_owned()],
        ..ClaimMapping::default()
    };
    let mut config = JwtConfig::new(ISS, AUD);
    config.claims = mapping;
    let verifier = JwtVerifier::new(config, &jwks().to_string()).unwrap();
    let token_claims = json!({
        "iss": ISS, "aud": AUD, "exp": NOW + 60, "sub": "00u1",
        "org_id": "org_acme", "groups": "tenant_admin staff staff", "amr": ["pwd", "otp"]
    });
    let identity = verifier
        .verify(&sign("ES256", "ec-1", &token_claims), NOW)
        .unwrap();
    assert_eq!(identity.tenant_id.as_deref(), Some("org_acme"));
    assert_eq!(identity.roles, ["tenant_admin", "staff"]);
    assert!(identity.mfa);

    // Without MFA, without roles.
    let plain = json!({"iss": ISS, "aud": AUD, "exp": NOW + 60, "sub": "u", "https://phylax.dev/tenant": "t", "amr": ["pwd"]});
    let identity = self::verifier()
        .verify(&sign("EdDSA", "ed-1", &plain), NOW)
        .unwrap();
    assert!(!identity.mfa);
    assert!(identity.roles.is_empty());

    // A token without the tenant claim is refused unless the tenant is optional.
    let no_tenant = json!({"iss": ISS, "aud": AUD, "exp": NOW + 60, "sub": "u"});
    let token = sign("EdDSA", "ed-1", &no_tenant);
    let err = self::verifier().verify(&token, NOW).unwrap_err();
    assert_eq!(
        err,
        JwtError::MissingClaim {
            claim: "https://phylax.dev/tenant".to_owned()
        }
    );
    let mut optional = JwtConfig::new(ISS, AUD);
    optional.require_tenant = false;
    let lenient = JwtVerifier::new(optional, &jwks().to_string()).unwrap();
    assert_eq!(lenient.verify(&token, NOW).unwrap().tenant_id, None);

    // Claims of the wrong type.
    let mut bad_roles = claims();
    bad_roles["https://phylax.dev/roles"] = json!([1, 2]);
    assert_eq!(
        code(self::verifier().verify(&sign("EdDSA", "ed-1", &bad_roles), NOW)),
        "jwt.invalid_claim"
    );
    let mut bad_sub = claims();
    bad_sub["sub"] = json!(42);
    assert_eq!(
        code(self::verifier().verify(&sign("EdDSA", "ed-1", &bad_sub), NOW)),
        "jwt.invalid_claim"
    );
}

#[test]
fn jwks_documents_are_checked() {
    for (doc, why) in [
        ("not json", "not JSON"),
        ("{}", "no keys"),
        (r#"{"keys": []}"#, "empty"),
        (
            r#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#,
            "nothing usable",
        ),
        (
            r#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "short"}]}"#,
            "bad key",
        ),
        (
            r#"{"keys": [{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}]}"#,
            "bad point",
        ),
        (r#"{"keys": [{"crv": "P-256"}]}"#, "no kty"),
    ] {
        let err = phylax_core::identity::Jwks::parse(doc).unwrap_err();
        assert_eq!(err.code(), "jwt.invalid_jwks", "{why}");
    }
    // A weak (1024-bit) RSA key is skipped; the rest of the set still works.
    let mut set = jwks();
    let weak_n = b64(&[0xff; 128]);
    set["keys"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kty": "RSA", "kid": "weak", "n": weak_n, "e": "AQAB"}));
    let parsed = phylax_core::identity::Jwks::parse(&set.to_string()).unwrap();
    assert_eq!(parsed.len(), 3);
    assert_eq!(
        parsed.key_ids().collect::<Vec<_>>(),
        ["rsa-1", "ec-1", "ed-1"]
    );
    // Bad configurations.
    assert_eq!(
        JwtVerifier::new(JwtConfig::new("", AUD), &jwks().to_string())
            .unwrap_err()
            .code(),
        "jwt.invalid_config"
    );
    let mut no_aud = JwtConfig::new(ISS, AUD);
    no_aud.audiences.clear();
    assert_eq!(
        JwtVerifier::new(no_aud, &jwks().to_string())
            .unwrap_err()
            .code(),
        "jwt.invalid_config"
    );
}

#[test]
fn json_calls_verify_tokens() {
    let request = json!({
        "token": sign("ES256", "ec-1", &claims()),
        "now": NOW,
        "config": {"issuer": ISS, "audiences": [AUD]},
        "jwks": jwks(),
    });
    let req: calls::VerifyTokenWithJwksRequest =
        phylax_core::calls::parse_request(&request.to_string()).unwrap();
    let answer: Value = serde_json::from_str(
        &phylax_core::Answer::from_result(calls::verify_token_with_jwks(&req)).to_json(),
    )
    .unwrap();
    assert_eq!(answer["ok"]["principalId"], "auth0|user-42");
    assert_eq!(answer["ok"]["tenantId"], "acme-clinic");
    assert_eq!(answer["ok"]["roles"], json!(["provider", "staff"]));
    assert_eq!(answer["ok"]["mfa"], true);

    let expired = calls::VerifyTokenRequest {
        token: sign("EdDSA", "ed-1", &claims()),
        now: NOW + 10_000,
    };
    let answer: Value = serde_json::from_str(
        &phylax_core::Answer::from_result(calls::verify_token(&verifier(), &expired)).to_json(),
    )
    .unwrap();
    assert_eq!(answer["error"]["code"], "jwt.expired");
    assert!(!answer["error"]["hint"].as_str().unwrap().is_empty());
}
