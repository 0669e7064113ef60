//! One healthcare-pack decision, native vs through the wasm component (DESIGN.md §6
//! "wasmtime component vs native"), plus a field encryption both ways.
//!
//! Run with (the component must be built first):
//! `cargo build -p phylax-component --target wasm32-wasip2 --release && cargo bench -p phylax-engine-wasm`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "benches fail loudly"
)]

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use phylax_core::crypto::calls::{encrypt_field, EncryptFieldRequest};
use phylax_core::crypto::{Keyring, RootKey};
use phylax_core::policy::calls::{authorize_json, build_engine_json, call_json};
use phylax_core::policy::pack;
use phylax_engine_wasm::{WasmEngine, WasmKeyring, WasmRuntime};
use serde_json::{json, Value};

const ROOT: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn decision(c: &mut Criterion) {
    let cases: Value =
        serde_json::from_str(include_str!("../../../core/tests/pack_cases.json")).unwrap();
    let spec = pack::healthcare(
        BTreeMap::new(),
        cases["baseEntities"].as_array().unwrap().clone(),
    )
    .unwrap();
    let spec = serde_json::to_string(&spec).unwrap();
    let case = cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "provider view same-tenant mfa own-patient")
        .unwrap();
    let request = case["request"].to_string();

    // Startup, once: compiling the component is a one-off per process, too slow to
    // sample; reported here, and as JSON in $PHYLAX_BENCH_OUT if set (bench/run sets it).
    let started = std::time::Instant::now();
    let runtime = WasmRuntime::new()
        .expect("build the component first: cargo build -p phylax-component --target wasm32-wasip2 --release");
    let compile = started.elapsed();
    eprintln!("startup/compile_component: {compile:?}");
    if let Some(dir) = std::env::var_os("PHYLAX_BENCH_OUT") {
        let path = std::path::Path::new(&dir).join("engine_wasm_compile.json");
        let json = json!({"compileComponentNs": compile.as_nanos() as u64});
        std::fs::write(&path, json.to_string()).unwrap();
    }
    let native = build_engine_json(&spec).unwrap();
    let wasm = WasmEngine::from_spec_json(&runtime, &spec)
        .unwrap()
        .with_pool_size(1);
    assert_eq!(
        wasm.authorize_json(&request).unwrap(),
        authorize_json(&native, &request)
    );

    let mut group = c.benchmark_group("pack_decision");
    group.bench_function("native", |b| {
        b.iter(|| authorize_json(&native, black_box(&request)))
    });
    group.bench_function("wasm", |b| {
        b.iter(|| wasm.authorize_json(black_box(&request)).unwrap())
    });
    group.finish();

    let keyring = Keyring::create("acme", &RootKey::parse(ROOT).unwrap(), 1).unwrap();
    let wasm_keyring = WasmKeyring::open(&runtime, &keyring.to_json(), ROOT).unwrap();
    let field =
        json!({"field": "patients.diagnosis", "recordId": "r1", "plaintext": "x".repeat(256)})
            .to_string();
    let mut group = c.benchmark_group("encrypt_field_256B");
    group.bench_function("native", |b| {
        b.iter(|| {
            call_json(black_box(&field), |r: &EncryptFieldRequest| {
                encrypt_field(&keyring, r)
            })
        })
    });
    group.bench_function("wasm", |b| {
        b.iter(|| wasm_keyring.encrypt_field_json(black_box(&field)).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("startup");
    group.sample_size(10);
    group.bench_function("engine_from_spec_wasm", |b| {
        b.iter(|| {
            WasmEngine::from_spec_json(&runtime, black_box(&spec))
                .unwrap()
                .with_pool_size(1)
        })
    });
    group.bench_function("engine_from_spec_native", |b| {
        b.iter(|| build_engine_json(black_box(&spec)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, decision);
criterion_main!(benches);
