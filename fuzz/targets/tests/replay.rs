//! Every fuzz target over its seed corpus (the conformance cases) and over every crash
//! the fuzzer ever found (`fuzz/regressions/<target>/`): none may panic. A run takes
//! seconds; `scripts/fuzz` is the long, coverage-guided run.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::path::PathBuf;

use phylax_fuzz_targets::{seeds, target, TARGETS};

#[test]
fn every_target_survives_its_seeds() {
    let files = phylax_conformance::load(&phylax_conformance::cases_dir()).unwrap();
    let mut fed = std::collections::BTreeMap::<&str, usize>::new();
    for file in &files {
        for case in &file.cases {
            for (name, bytes) in seeds(&case.op, &case.request) {
                target(name).unwrap()(&bytes);
                *fed.entry(name).or_default() += 1;
            }
        }
    }
    for (name, _) in TARGETS {
        assert!(
            fed.get(name).copied().unwrap_or(0) > 0,
            "target {name} has no seed"
        );
    }
}

#[test]
fn every_saved_crash_stays_fixed() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../regressions");
    let mut replayed = 0;
    for (name, body) in TARGETS {
        let Ok(entries) = std::fs::read_dir(dir.join(name)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            body(&std::fs::read(&path).unwrap());
            replayed += 1;
        }
    }
    println!("{replayed} saved crash inputs replayed");
}
