//! Helpers shared by the binary's end-to-end tests.

use std::process::{Command, Output};

/// The built `keva-sync` binary, ready for arguments.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_keva-sync"))
}

/// Runs `cmd` to completion and asserts it succeeded, showing its stderr if not.
pub fn output_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
