//! Where the built component is.

use std::path::PathBuf;

/// The environment variable that names the component file explicitly.
pub const COMPONENT_ENV: &str = "PHYLAX_COMPONENT_WASM";

/// The component's file name as cargo writes it.
const FILE: &str = "phylax_component.wasm";

/// Where the component is expected, in this order:
///
/// 1. `$PHYLAX_COMPONENT_WASM`, when set;
/// 2. `$CARGO_TARGET_DIR/wasm32-wasip2/release/phylax_component.wasm`, with
///    `CARGO_TARGET_DIR` read at run time, else as it was when this crate was built;
/// 3. `<workspace>/target/wasm32-wasip2/release/phylax_component.wasm`.
///
/// The first candidate that exists is returned; when none does, the last one, so the
/// read error names a sensible path.
pub fn component_path() -> PathBuf {
    if let Some(path) = std::env::var_os(COMPONENT_ENV) {
        return PathBuf::from(path);
    }
    let in_target = |dir: PathBuf| dir.join("wasm32-wasip2").join("release").join(FILE);
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(in_target(PathBuf::from(dir)));
    }
    if let Some(dir) = option_env!("CARGO_TARGET_DIR") {
        candidates.push(in_target(PathBuf::from(dir)));
    }
    let workspace_target = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
        .join("target");
    candidates.push(in_target(workspace_target));
    candidates
        .iter()
        .find(|path| path.is_file())
        .or_else(|| candidates.last())
        .cloned()
        .unwrap_or_default()
}
