//! The binary contract every lab keeps (issue: "every lab keeps it"):
//! `server --addr 127.0.0.1:0` announces its real port and stops cleanly on
//! SIGTERM and SIGINT; a bad `--addr` is a clear error, not a panic.

use tokio::process::Command;

use crate::common;

/// Unix only: Windows has no signals to send another process (the servers
/// stop on Ctrl-C there, which needs a shared console to send).
#[cfg(unix)]
#[tokio::test]
async fn every_solution_stops_cleanly_on_sigterm_and_sigint() {
    use std::time::Duration;

    use nix::{sys::signal::Signal, unistd::Pid};
    use tokio::io::AsyncBufReadExt;

    for lab in common::catalog().labs {
        for signal in [Signal::SIGTERM, Signal::SIGINT] {
            let bin = common::binary(&lab.package(true));
            // Lab 5 keeps its database in the working directory.
            let scratch = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let needs = checks::prerequisites(&lab.id)
                .await
                .unwrap_or_else(|e| panic!("{}: {e:#}", lab.id));
            let mut child = Command::new(&bin)
                .args(["server", "--addr", "127.0.0.1:0"])
                .args(&needs.args)
                .current_dir(scratch.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
            let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
            let first = tokio::io::BufReader::new(stdout).lines().next_line().await;
            let first = first.ok().flatten().unwrap_or_default();
            let port = first
                .strip_prefix("listening on http://127.0.0.1:")
                .and_then(|port| port.parse::<u16>().ok())
                .unwrap_or_else(|| panic!("{}: first line was {first:?}", lab.id));
            assert_ne!(
                port, 0,
                "{} announced port 0 instead of the real one",
                lab.id
            );

            let pid = child.id().unwrap_or_else(|| panic!("no pid"));
            nix::sys::signal::kill(Pid::from_raw(pid as i32), signal)
                .unwrap_or_else(|e| panic!("cannot signal: {e}"));
            let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
                .await
                .unwrap_or_else(|_| panic!("{} did not stop within 5 s of {signal}", lab.id))
                .unwrap_or_else(|e| panic!("wait: {e}"));
            assert!(
                status.success(),
                "{} exited with {status} on {signal}",
                lab.id
            );
        }
    }
}

#[tokio::test]
async fn a_bad_address_is_a_clear_error() {
    for lab in common::catalog().labs {
        let scratch = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let needs = checks::prerequisites(&lab.id)
            .await
            .unwrap_or_else(|e| panic!("{}: {e:#}", lab.id));
        let output = Command::new(common::binary(&lab.package(true)))
            .args(["server", "--addr", "not-an-address"])
            .args(&needs.args)
            .current_dir(scratch.path())
            .output()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("cannot listen on not-an-address") && !stderr.contains("panicked"),
            "{}: {stderr}",
            lab.id
        );
    }
}
