//! Field encryption next to bare AES-256-GCM, measured in the same run.
//!
//! Baselines: `ring` (the native backend, called directly with a random nonce per
//! message, as a hand-written field encryptor would) and RustCrypto `aes-gcm` (the
//! wasm32 backend). Run with: `cargo bench -p phylax-core --bench crypto`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests and benches fail loudly"
)]

use std::hint::black_box;

use aes_gcm::aead::{AeadInOut, KeyInit};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use phylax_core::crypto::{FieldSpec, IndexSpec, Keyring, Normalization, RecordSpec, RootKey};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::json;

const SIZES: [usize; 4] = [32, 256, 4096, 1 << 20];

fn label(size: usize) -> String {
    match size {
        s if s >= 1 << 20 => format!("{}MiB", s >> 20),
        s if s >= 1024 => format!("{}KiB", s >> 10),
        s => format!("{s}B"),
    }
}

fn keyring() -> Keyring {
    let root = RootKey::insecure_dev_key().unwrap();
    Keyring::create("bench-tenant", &root, 1).unwrap()
}

fn encrypt(c: &mut Criterion) {
    let keyring = keyring();
    let ring_key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7; 32]).unwrap());
    let rustcrypto = aes_gcm::Aes256Gcm::new(&[7u8; 32].into());
    let rng = SystemRandom::new();
    let mut group = c.benchmark_group("encrypt");
    for size in SIZES {
        let plain = vec![0x5a; size];
        group.throughput(Throughput::Bytes(size as u64));
        if size >= 1 << 20 {
            group.sample_size(20);
        }
        group.bench_with_input(
            BenchmarkId::new("phylax_binary", label(size)),
            &plain,
            |b, p| {
                b.iter(|| {
                    keyring
                        .encrypt_field_bytes("patients.notes", "p-1", black_box(p))
                        .unwrap()
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("phylax_text", label(size)),
            &plain,
            |b, p| {
                b.iter(|| {
                    keyring
                        .encrypt_field("patients.notes", "p-1", black_box(p))
                        .unwrap()
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("ring", label(size)), &plain, |b, p| {
            b.iter(|| {
                let mut nonce = [0u8; 12];
                rng.fill(&mut nonce).unwrap();
                let mut out = Vec::with_capacity(12 + p.len() + 16);
                out.extend_from_slice(&nonce);
                out.extend_from_slice(black_box(p));
                let tag = ring_key
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::from(b"aad"),
                        &mut out[12..],
                    )
                    .unwrap();
                out.extend_from_slice(tag.as_ref());
                out
            })
        });
        group.bench_with_input(
            BenchmarkId::new("rustcrypto_aes_gcm", label(size)),
            &plain,
            |b, p| {
                b.iter(|| {
                    let mut nonce = [0u8; 12];
                    getrandom::getrandom(&mut nonce).unwrap();
                    let mut out = Vec::with_capacity(12 + p.len() + 16);
                    out.extend_from_slice(&nonce);
                    out.extend_from_slice(black_box(p));
                    let tag = rustcrypto
                        .encrypt_inout_detached(
                            &aes_gcm::Nonce::from(nonce),
                            b"aad",
                            (&mut out[12..]).into(),
                        )
                        .unwrap();
                    out.extend_from_slice(&tag);
                    out
                })
            },
        );
    }
    group.finish();
}

fn decrypt(c: &mut Criterion) {
    let keyring = keyring();
    let ring_key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7; 32]).unwrap());
    let mut group = c.benchmark_group("decrypt");
    for size in SIZES {
        let plain = vec![0x5a; size];
        group.throughput(Throughput::Bytes(size as u64));
        if size >= 1 << 20 {
            group.sample_size(20);
        }
        let sealed = keyring
            .encrypt_field_bytes("patients.notes", "p-1", &plain)
            .unwrap();
        group.bench_with_input(
            BenchmarkId::new("phylax_binary", label(size)),
            &sealed,
            |b, s| {
                b.iter(|| {
                    keyring
                        .decrypt_field_bytes("patients.notes", "p-1", black_box(s))
                        .unwrap()
                })
            },
        );
        let mut ring_sealed = plain.clone();
        let tag = ring_key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key([1; 12]),
                Aad::from(b"aad"),
                &mut ring_sealed,
            )
            .unwrap();
        ring_sealed.extend_from_slice(tag.as_ref());
        group.bench_with_input(
            BenchmarkId::new("ring", label(size)),
            &ring_sealed,
            |b, s| {
                b.iter(|| {
                    let mut buf = black_box(s).clone();
                    let len = ring_key
                        .open_in_place(
                            Nonce::assume_unique_for_key([1; 12]),
                            Aad::from(b"aad"),
                            &mut buf,
                        )
                        .unwrap()
                        .len();
                    buf.truncate(len);
                    buf
                })
            },
        );
    }
    group.finish();
}

fn blind_index_and_record(c: &mut Criterion) {
    let keyring = keyring();
    let email = IndexSpec::new(Normalization::Email);
    c.bench_function("blind_index/email", |b| {
        b.iter(|| {
            keyring
                .blind_index(
                    "patients.email",
                    black_box("Ann.Example@Example.org"),
                    &email,
                )
                .unwrap()
        })
    });
    let fields = [
        "name",
        "dob",
        "ssn",
        "email",
        "phone",
        "address",
        "diagnosis",
        "medications",
        "allergies",
        "notes",
    ];
    let spec = RecordSpec {
        name: "patients".into(),
        fields: fields
            .iter()
            .map(|f| FieldSpec {
                pointer: format!("/{f}"),
                index: match *f {
                    "email" => Some(IndexSpec::new(Normalization::Email)),
                    "phone" | "ssn" => Some(IndexSpec::new(Normalization::Digits)),
                    _ => None,
                },
            })
            .collect(),
    };
    let record = json!({
        "id": "p-1", "name": "Ann Example", "dob": "1980-02-03", "ssn": "123-45-6789",
        "email": "ann@example.org", "phone": "+1 555 010 2030", "address": "1 Main St, Springfield",
        "diagnosis": "J45.909 Unspecified asthma, uncomplicated", "medications": ["albuterol", "fluticasone"],
        "allergies": "penicillin", "notes": "Follow up in 3 months; spirometry before next visit."
    });
    c.bench_function("record/encrypt_10_fields", |b| {
        b.iter(|| {
            keyring
                .encrypt_record(&spec, "p-1", black_box(&record))
                .unwrap()
        })
    });
    let sealed = keyring.encrypt_record(&spec, "p-1", &record).unwrap();
    c.bench_function("record/decrypt_10_fields", |b| {
        b.iter(|| {
            keyring
                .decrypt_record(&spec, "p-1", black_box(&sealed.record), None)
                .unwrap()
        })
    });
}

criterion_group!(benches, encrypt, decrypt, blind_index_and_record);
criterion_main!(benches);
