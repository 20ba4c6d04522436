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
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        command.arg("--release");
    }
    let status = command.status().expect("running cargo build for funboost-test-host");
    assert!(status.success(), "cargo build -p funboost-test-host failed (or set FUNBOOST_EDGE_TEST_HOST_BIN)");
    let bin = profile_dir.join(format!("funboost-test-host{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.is_file(), "{} not found after cargo build", bin.display());
    bin
}
