//! Writes the seed corpus of every fuzz target from the conformance cases:
//! `fuzz-seeds DIR` fills `DIR/<target>/<n>` (the corpus `cargo fuzz run` starts from).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: fuzz-seeds DIR");
        return ExitCode::FAILURE;
    };
    let files = match phylax_conformance::load(&phylax_conformance::cases_dir()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (target, _) in phylax_fuzz_targets::TARGETS {
        if std::fs::create_dir_all(dir.join(target)).is_err() {
            eprintln!("cannot create {}", dir.join(target).display());
            return ExitCode::FAILURE;
        }
    }
    for file in &files {
        for case in &file.cases {
            for (target, bytes) in phylax_fuzz_targets::seeds(&case.op, &case.request) {
                let n = counts.entry(target).or_default();
                *n += 1;
                if std::fs::write(dir.join(target).join(format!("seed-{n}")), bytes).is_err() {
                    eprintln!("cannot write into {}", dir.display());
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    for (target, n) in &counts {
        println!("{target}: {n} seeds");
    }
    ExitCode::SUCCESS
}
