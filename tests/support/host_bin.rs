//! The test host's binary, for tests that run it as a process (shared by `tests/common` and
//! `tests/firing`, each including this file).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `funboost-test-host` binary (the stand-in for `spin up`): `$FUNBOOST_EDGE_TEST_HOST_BIN`,
/// else built with `cargo build -p funboost-test-host` into this test's target directory and
/// profile (a no-op after `cargo test`, which builds it already).
pub fn test_host_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("FUNBOOST_EDGE_TEST_HOST_BIN").filter(|b| !b.is_empty()) {
        return PathBuf::from(bin);
    }
    // <target>/<profile>/deps/<this test>
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).expect("test binary in <target>/<profile>/deps").to_path_buf();
    let target_dir = profile_dir.parent().unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--quiet", "-p", "funboost-test-host", "--bin", "funboost-test-host"])
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    // Cargo sets these for the test process; passed on, build scripts that watch them (ring's)
    // would see another build and rebuild half the tree, and the next build would undo it.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let per_crate = name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_")
            || ["CARGO_MANIFEST_DIR", "CARGO_MANIFEST_PATH", "CARGO_CRATE_NAME", "CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"]
                .contains(&name.as_ref());
        if per_crate {
            command.env_remove(name.as_ref());
        }
    }
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        command.arg("--release");
    }
    let status = command.status().expect("running cargo build for funboost-test-host");
    assert!(status.success(), "cargo build -p funboost-test-host failed (or set FUNBOOST_EDGE_TEST_HOST_BIN)");
    let bin = profile_dir.join(format!("funboost-test-host{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.is_file(), "{} not found after cargo build", bin.display());
    bin
}
