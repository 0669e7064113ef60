//! Compiles the admin console (`console/dist/`, built by `node console/build.mjs`) into
//! the binary: writes `$OUT_DIR/console_assets.rs`, a table of every file with its
//! gzip sibling (`x.gz` beside `x`) when there is one. Without a built console the table
//! is empty and `/console/` answers 503 `console.not_built` saying how to build it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dist = manifest.join("../console/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    let mut all = Vec::new();
    files(&dist, &mut all);
    let mut table = String::from(
        "/// One file: path under /console/, bytes, gzip bytes.\npub type Entry = (&'static str, &'static [u8], Option<&'static [u8]>);\n/// Every file.\npub static ASSETS: &[Entry] = &[\n",
    );
    for path in &all {
        let Ok(rel) = path.strip_prefix(&dist) else {
            continue;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        if rel.ends_with(".gz") || rel.starts_with('.') {
            continue;
        }
        let gz = PathBuf::from(format!("{}.gz", path.display()));
        let gz = if gz.is_file() {
            format!("Some(include_bytes!({:?}))", gz.display().to_string())
        } else {
            "None".to_owned()
        };
        let _ = writeln!(
            table,
            "    ({rel:?}, include_bytes!({:?}), {gz}),",
            path.display().to_string()
        );
    }
    table.push_str("];\n");
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("console_assets.rs");
    if std::fs::read_to_string(&out).ok().as_deref() != Some(table.as_str()) {
        if let Err(e) = std::fs::write(&out, table) {
            println!("cargo:warning=cannot write {}: {e}", out.display());
        }
    }
}
