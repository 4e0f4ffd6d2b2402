//! The harness itself, where its behaviour is not visible through a lab.

/// A program that exits while something it started still holds its
/// stdout: the harness returns what was written, and says why the output
/// ended late instead of hanging until the client time-out.
#[cfg(unix)]
#[tokio::test]
async fn a_grandchild_holding_stdout_open_is_named() {
    let shell = checks::LabBinary::new("/bin/sh");
    let run = shell
        .run(&["-c", "sleep 30 & echo started"], &[])
        .await
        .expect("sh runs");
    assert!(run.success);
    assert_eq!(run.stdout, "started\n");
    assert!(
        run.stderr
            .contains("`-c` exited, but a process it started still held its output open"),
        "stderr: {}",
        run.stderr
    );
}
