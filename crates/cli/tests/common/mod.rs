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

/// A `keva-sync quickstart` child on free loopback ports in its own folder (its
/// own SQLite file and sandbox portal), killed when dropped, pass or fail.
pub struct Quickstart {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Quickstart {
    /// Starts one in `dir`, without the batch-sync demo's 2,000 customers.
    pub fn start(dir: &std::path::Path) -> Self {
        use std::io::{BufRead, BufReader};
        let mut child = bin()
            .current_dir(dir)
            .env_remove("KEVA_MASTER_KEY")
            .env_remove("KEVA_DATABASE_URL")
            .env_remove("KEVA_LISTEN")
            .args([
                "quickstart",
                "--listen",
                "127.0.0.1:0",
                "--sandbox-listen",
                "127.0.0.1:0",
                "--demo-customers",
                "0",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Quickstart { child, lines }
    }

    /// The first word after each of `labels` in the printed summary (in `labels`'
    /// order), waiting up to a minute for all of them.
    pub fn fields(&self, labels: &[&str]) -> Vec<String> {
        use std::time::{Duration, Instant};
        let mut found: Vec<Option<String>> = vec![None; labels.len()];
        let deadline = Instant::now() + Duration::from_secs(60);
        while found.iter().any(Option::is_none) {
            let line = self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("quickstart printed {labels:?}"));
            for (label, slot) in labels.iter().zip(found.iter_mut()) {
                if slot.is_none() {
                    *slot = line.trim().strip_prefix(label).map(|rest| {
                        rest.split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_string()
                    });
                }
            }
        }
        found.into_iter().flatten().collect()
    }
}

impl Drop for Quickstart {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
