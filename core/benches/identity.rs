//! Audit append/verify per event, API key verify, JWT verify per algorithm, webhook verify.
//!
//! Run with `cargo bench -p phylax-core --bench identity`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark setup should fail loudly"
)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use phylax_core::audit::{
    verify, Action, Actor, AuditChain, AuditEvent, AuditKey, Decision, Outcome, RecordRef,
};
use phylax_core::crypto::Secret32;
use phylax_core::identity::{api_key, Environment, JwtConfig, JwtVerifier, NewApiKey};
use phylax_core::webhook::{self, WebhookSecret};
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::json;

const NOW: u64 = 1_700_000_000;

fn event(i: u64) -> AuditEvent {
    AuditEvent {
        tenant: "acme-clinic".to_owned(),
        actor: Actor {
            id: format!("user-{}", i % 97),
            role: Some("provider".to_owned()),
            source_ip: Some("203.0.113.7".to_owned()),
        },
        action: Action::Update,
        operation: None,
        record: Some(RecordRef {
            kind: "patients".to_owned(),
            id: format!("patient-{i}"),
        }),
        time: NOW + i,
        outcome: Outcome::Success,
        changed_fields: vec!["diagnosis".to_owned(), "notes".to_owned()],
        decision: Some(Decision {
            bundle_hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                .to_owned(),
            policy_ids: vec!["provider-own-patients".to_owned()],
            flags: vec![],
        }),
        reason: None,
        recorded_by: None,
    }
}

fn audit(c: &mut Criterion) {
    let key = AuditKey::from_secret(&Secret32::from_bytes([7; 32]));
    let mut group = c.benchmark_group("audit");
    group.throughput(Throughput::Elements(1));
    let mut chain = AuditChain::new(key.clone(), "acme-clinic").unwrap();
    let sample = event(1);
    group.bench_function("append", |b| {
        b.iter(|| chain.append(black_box(sample.clone())).unwrap())
    });

    const N: u64 = 1_000;
    let mut chain = AuditChain::new(key.clone(), "acme-clinic").unwrap();
    let records: Vec<_> = (1..=N).map(|i| chain.append(event(i)).unwrap()).collect();
    group.throughput(Throughput::Elements(N));
    group.bench_function("verify_1000_events", |b| {
        b.iter(|| verify("acme-clinic", black_box(&records), &key, None).unwrap())
    });
    group.finish();
}

fn api_keys(c: &mut Criterion) {
    let issued = api_key::issue(
        &NewApiKey {
            tenant: "acme-clinic".to_owned(),
            environment: Environment::Live,
            scopes: vec!["patients:read".to_owned()],
            expires_at: None,
            name: None,
        },
        NOW,
    )
    .unwrap();
    let text = issued.api_key.expose().to_owned();
    c.bench_function("api_key/parse_and_verify", |b| {
        b.iter(|| api_key::verify_text(black_box(&text), &issued.record, NOW).unwrap())
    });
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn jwt(c: &mut Criterion) {
    let rsa_key =
        rsa::RsaPrivateKey::from_pkcs8_pem(include_str!("../tests/data/jwt/rs256-test-key.pem"))
            .unwrap();
    let ec_key = p256::ecdsa::SigningKey::from_bytes(&[0x42; 32].into()).unwrap();
    let ed_key = ed25519_dalek::SigningKey::from_bytes(&[0x24; 32]);
    let public = rsa_key.to_public_key();
    let point = ec_key.verifying_key().to_encoded_point(false);
    let jwks = json!({"keys": [
        {"kty": "RSA", "kid": "rsa", "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be())},
        {"kty": "EC", "kid": "ec", "crv": "P-256", "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())},
        {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": b64(ed_key.verifying_key().as_bytes())},
    ]});
    let verifier = JwtVerifier::new(
        JwtConfig::new("https://issuer.example/", "api"),
        &jwks.to_string(),
    )
    .unwrap();
    let claims = json!({
        "iss": "https://issuer.example/", "aud": "api", "sub": "auth0|42", "exp": NOW + 3600,
        "https://phylax.dev/tenant": "acme-clinic", "https://phylax.dev/roles": ["provider"],
        "amr": ["pwd", "mfa"]
    });
    let token = |alg: &str, kid: &str| {
        let input = format!(
            "{}.{}",
            b64(json!({"alg": alg, "kid": kid, "typ": "JWT"})
                .to_string()
                .as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = match alg {
            "RS256" => {
                use rsa::signature::{SignatureEncoding, Signer};
                rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(rsa_key.clone())
                    .sign(input.as_bytes())
                    .to_vec()
            }
            "ES256" => {
                use p256::ecdsa::signature::Signer;
                let sig: p256::ecdsa::Signature = ec_key.sign(input.as_bytes());
                sig.to_bytes().to_vec()
            }
            _ => {
                use ed25519_dalek::Signer;
                ed_key.sign(input.as_bytes()).to_bytes().to_vec()
            }
        };
        format!("{input}.{}", b64(&sig))
    };
    let mut group = c.benchmark_group("jwt_verify");
    for (alg, kid) in [("RS256", "rsa"), ("ES256", "ec"), ("EdDSA", "ed")] {
        let token = token(alg, kid);
        verifier.verify(&token, NOW).unwrap();
        group.bench_function(alg, |b| {
            b.iter(|| verifier.verify(black_box(&token), NOW).unwrap())
        });
    }
    group.finish();
}

fn webhooks(c: &mut Criterion) {
    let secrets = [WebhookSecret::new("whsec_benchmark_secret").unwrap()];
    let payload = vec![b'x'; 1024];
    let header = webhook::sign(&secrets, NOW, &payload).unwrap();
    let mut group = c.benchmark_group("webhook");
    group.throughput(Throughput::Bytes(1024));
    group.bench_function("verify_1KiB", |b| {
        b.iter(|| webhook::verify(black_box(&header), &payload, &secrets, NOW, 300).unwrap())
    });
    group.finish();
}

criterion_group!(benches, audit, api_keys, jwt, webhooks);
criterion_main!(benches);
