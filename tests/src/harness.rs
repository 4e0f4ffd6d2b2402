//! Starting a lab's binary and watching it.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::{Context, bail};
use process_wrap::tokio::{ChildWrapper, CommandWrap, KillOnDrop};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::Command,
    sync::oneshot,
};

/// How long a server gets to print `listening on` (the RUN stage).
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client run may take before it is killed.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);

/// The lab binary under test (a student's `labN` or a `labN-solution`).
#[derive(Debug, Clone)]
pub struct LabBinary {
    pub path: PathBuf,
    pub start_timeout: Duration,
}

/// A running `server`; killed (with everything it started) when dropped.
#[derive(Debug)]
pub struct RunningServer {
    /// `http://127.0.0.1:PORT`, as the server announced it.
    pub base_url: String,
    child: Box<dyn ChildWrapper>,
    /// Everything it wrote on stdout and stderr, line by line.
    output: Output,
    readers: Vec<tokio::task::JoinHandle<()>>,
    /// Its working directory, removed when the server is dropped (after it
    /// is killed: fields drop after `Drop::drop`).
    _scratch: tempfile::TempDir,
}

/// What a finished `client` run left behind.
#[derive(Debug)]
pub struct ClientRun {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Why a server did not come up: the runner's RUN stage.
#[derive(Debug, thiserror::Error)]
#[error("the server did not announce `listening on http://HOST:PORT`: {reason}")]
pub struct NeverListened {
    pub reason: String,
    /// The last lines it wrote on stdout and stderr.
    pub output: String,
}

/// Lines a child wrote, kept for error messages and the log checks.
#[derive(Debug, Clone, Default)]
pub struct Output(Arc<Mutex<Vec<String>>>);

impl Output {
    fn push(&self, line: String) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(line);
        }
    }

    pub fn lines(&self) -> Vec<String> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The last `n` lines.
    pub fn tail(&self, n: usize) -> String {
        let lines = self.lines();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

tokio::task_local! {
    /// The programs the current check started, so that the runner can show
    /// their own output when the check fails (a panic message, an error).
    static STARTED: Started;
}

/// The programs one check ran: what each was (`server`, `client`, …) and
/// what it wrote.
#[derive(Debug, Clone, Default)]
pub struct Started(Arc<Mutex<Vec<(String, Output)>>>);

impl Started {
    /// Runs `check` with every program it starts recorded here.
    pub async fn record<F: std::future::Future>(&self, check: F) -> F::Output {
        STARTED.scope(self.clone(), check).await
    }

    pub fn programs(&self) -> Vec<(String, Output)> {
        self.0.lock().map(|p| p.clone()).unwrap_or_default()
    }

    fn note(what: &str, output: &Output) {
        // Outside a recorded check (the suite's own calls) there is no one to tell.
        let _ = STARTED.try_with(|started| {
            if let Ok(mut programs) = started.0.lock() {
                programs.push((what.to_owned(), output.clone()));
            }
        });
    }
}

impl LabBinary {
    pub fn new(path: impl Into<PathBuf>) -> LabBinary {
        LabBinary {
            path: path.into(),
            start_timeout: DEFAULT_START_TIMEOUT,
        }
    }

    /// `server --addr 127.0.0.1:0` with no lab settings in its environment.
    pub async fn start_server(&self) -> anyhow::Result<RunningServer> {
        self.start_server_with(&[], &[]).await
    }

    /// Starts `server --addr 127.0.0.1:0 <args>` with exactly the given
    /// environment (plus `PATH` and the grader's mark, `MCP_AUTH_LABS_BIN`),
    /// in a fresh temporary directory of its own.
    pub async fn start_server_with(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<RunningServer> {
        let scratch = scratch_dir()?;
        let mut command = self.command(&["server", "--addr", "127.0.0.1:0"], env, scratch.path());
        command.command_mut().args(args);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start `{}`", self.path.display()))?;

        let output = Output::default();
        Started::note("server", &output);
        let (announced, first_line) = oneshot::channel();
        let stdout = child.stdout().take().context("no stdout pipe")?;
        let stderr = child.stderr().take().context("no stderr pipe")?;
        let readers = vec![
            tokio::spawn(watch_stdout(stdout, output.clone(), announced)),
            tokio::spawn(collect(stderr, output.clone())),
        ];

        let exited = |status: std::io::Result<std::process::ExitStatus>| async {
            // Let the readers drain what the process wrote before it died.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
            NeverListened {
                reason: format!(
                    "the server exited ({status}) before printing `listening on http://HOST:PORT`"
                ),
                output: output.tail(20),
            }
        };
        let outcome = tokio::select! {
            line = first_line => match line {
                Ok(line) => Some(line),
                // Stdout closed before its first line: the server is on its
                // way out (a panic, an error from `main`). Say so, rather
                // than that it was slow.
                Err(_) => match tokio::time::timeout(self.start_timeout, child.wait()).await {
                    Ok(status) => return Err(exited(status).await.into()),
                    Err(_) => None,
                },
            },
            status = child.wait() => return Err(exited(status).await.into()),
            () = tokio::time::sleep(self.start_timeout) => None,
        };
        match outcome {
            Some(line) => match line.strip_prefix("listening on ") {
                Some(url) if url.starts_with("http://") => Ok(RunningServer {
                    base_url: url.trim().to_owned(),
                    child,
                    output,
                    readers,
                    _scratch: scratch,
                }),
                _ => {
                    kill_tree(child.as_mut());
                    Err(NeverListened {
                        reason: format!(
                            "the server's first line on stdout was `{line}`, not `listening on http://HOST:PORT`"
                        ),
                        output: output.tail(20),
                    }
                    .into())
                }
            },
            None => {
                kill_tree(child.as_mut());
                Err(NeverListened {
                    reason: format!(
                        "the server did not print `listening on http://HOST:PORT` within {} s",
                        self.start_timeout.as_secs_f32()
                    ),
                    output: output.tail(20),
                }
                .into())
            }
        }
    }

    /// Runs `client <args>` to completion (killed after [`CLIENT_TIMEOUT`]).
    pub async fn run_client(&self, args: &[&str]) -> anyhow::Result<ClientRun> {
        let mut full = vec!["client"];
        full.extend_from_slice(args);
        self.run(&full, &[]).await
    }

    /// Runs the binary with `args` (any subcommand, e.g. lab 2's `mint`) and
    /// exactly the given environment, to completion (killed after
    /// [`CLIENT_TIMEOUT`]).
    pub async fn run(&self, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<ClientRun> {
        // Lives until this function returns, after the program is gone.
        let scratch = scratch_dir()?;
        let mut command = self.command(args, env, scratch.path());
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start `{}`", self.path.display()))?;
        let (stdout, stderr) = (Output::default(), Output::default());
        Started::note(args.first().copied().unwrap_or("program"), &stderr);
        let readers = [
            tokio::spawn(collect(
                child.stdout().take().context("no stdout pipe")?,
                stdout.clone(),
            )),
            tokio::spawn(collect(
                child.stderr().take().context("no stderr pipe")?,
                stderr.clone(),
            )),
        ];
        let Ok(status) = tokio::time::timeout(CLIENT_TIMEOUT, child.wait()).await else {
            kill_tree(child.as_mut());
            bail!(
                "`{}` did not finish within {} s",
                args.first().copied().unwrap_or("the program"),
                CLIENT_TIMEOUT.as_secs()
            )
        };
        let status = status.context("cannot wait for the client")?;
        let mut held_open = false;
        for reader in readers {
            // A grandchild may hold the pipes open; what was read is enough.
            held_open |= tokio::time::timeout(Duration::from_secs(1), reader)
                .await
                .is_err();
        }
        if held_open {
            // Said in the program's own output, so that a check failing
            // because of it (or a grader's containment report) is explained.
            stderr.push(format!(
                "[mcp-auth-labs] `{}` exited, but a process it started still held its output open; it is stopped with its process group",
                args.first().copied().unwrap_or("the program")
            ));
        }
        let text = |output: &Output| {
            let lines = output.lines();
            if lines.is_empty() {
                String::new()
            } else {
                lines.join("\n") + "\n"
            }
        };
        Ok(ClientRun {
            success: status.success(),
            stdout: text(&stdout),
            stderr: text(&stderr),
        })
    }

    fn command(&self, args: &[&str], env: &[(&str, &str)], dir: &Path) -> CommandWrap {
        let mut command = Command::new(&self.path);
        command
            .args(args)
            .env_clear()
            .envs(std::env::var_os("PATH").map(|path| ("PATH", path)))
            // Windows cannot open a socket without `SystemRoot` (WSAStartup
            // fails with error 10106), so a cleared environment keeps it.
            .envs(
                cfg!(windows)
                    .then(|| std::env::var_os("SystemRoot"))
                    .flatten()
                    .map(|root| ("SystemRoot", root)),
            )
            // The grader's mark: whatever this program starts inherits it,
            // in any process group, so the grader can find what outlives
            // the check (xtask/src/contain.rs).
            .env("MCP_AUTH_LABS_BIN", &self.path)
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        if let Some((uid, gid)) = run_as() {
            // Gradescope runs everything as root: the lab's programs run as
            // an unprivileged user instead, which cannot write where the
            // grader writes the results. The folders they must write in are
            // given to that user: their working directory, and the folder of
            // any path a check hands them (lab 5's `--db`).
            command.uid(uid).gid(gid);
            let folders = std::iter::once(dir.to_path_buf()).chain(
                args.iter()
                    .map(Path::new)
                    .filter(|arg| arg.is_absolute())
                    .filter_map(|arg| arg.parent().map(Path::to_path_buf))
                    .filter(|folder| folder.is_dir() && folder.starts_with(std::env::temp_dir())),
            );
            for folder in folders {
                let _ = std::os::unix::fs::chown(&folder, Some(uid), Some(gid));
            }
        }
        // Its own process group (Unix) or job object (Windows), so that
        // everything it starts dies with it.
        let mut command = CommandWrap::from(command);
        #[cfg(unix)]
        command.wrap(process_wrap::tokio::ProcessGroup::leader());
        #[cfg(windows)]
        command.wrap(process_wrap::tokio::JobObject);
        // On Windows this also kills the whole job when the child is dropped.
        command.wrap(KillOnDrop);
        command
    }
}

/// `MCP_AUTH_LABS_RUN_AS=UID:GID`: the user the lab's programs run as, set
/// by `docs/gradescope/run_autograder` (the grader must be root for it).
pub const RUN_AS: &str = "MCP_AUTH_LABS_RUN_AS";

/// The user and group in [`RUN_AS`], when it is set.
#[cfg(unix)]
fn run_as() -> Option<(u32, u32)> {
    let value = std::env::var(RUN_AS).ok()?;
    let (uid, gid) = value.split_once(':')?;
    Some((uid.trim().parse().ok()?, gid.trim().parse().ok()?))
}

impl RunningServer {
    /// Stops the server (see [`RunningServer::stop`]) and returns every line it
    /// wrote on stdout and stderr, once its pipes are drained.
    pub async fn stop_and_read_output(mut self) -> anyhow::Result<Vec<String>> {
        self.terminate().await?;
        for reader in std::mem::take(&mut self.readers) {
            let _ = tokio::time::timeout(Duration::from_secs(2), reader).await;
        }
        Ok(self.output.lines())
    }

    /// `base_url` + `path`, e.g. `server.url("/mcp")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Stops the server as Ctrl-C would and waits for it to be gone
    /// (restart checks): SIGTERM on Unix, and the server must exit cleanly.
    ///
    /// On Windows one process cannot send another Ctrl-C without sharing its
    /// console (and `unsafe` code), so the server's job is killed instead.
    /// Restart checks still hold: lab 5's SQLite commits are durable (WAL),
    /// so a killed server loses nothing it had answered.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.terminate().await
    }

    #[cfg(unix)]
    async fn terminate(&mut self) -> anyhow::Result<()> {
        use nix::{
            sys::signal::{Signal, kill},
            unistd::Pid,
        };
        if let Some(pid) = self.child.id() {
            let pid = Pid::from_raw(i32::try_from(pid).context("pid out of range")?);
            kill(pid, Signal::SIGTERM).context("cannot signal the server")?;
        }
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .context("the server did not stop within 10 s of SIGTERM")??;
        if !status.success() {
            bail!("the server exited with {status} on SIGTERM");
        }
        Ok(())
    }

    #[cfg(not(unix))]
    async fn terminate(&mut self) -> anyhow::Result<()> {
        self.child.start_kill().context("cannot stop the server")?;
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .context("the server did not stop within 10 s of being killed")??;
        Ok(())
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        kill_tree(self.child.as_mut());
    }
}

/// Kills `child` with everything it started: its process group (Unix) or
/// job object (Windows).
fn kill_tree(child: &mut dyn ChildWrapper) {
    // Already gone is fine: that is what we wanted.
    let _ = child.start_kill();
}

/// A fresh working directory for one program (lab 5's server writes its
/// default database there), removed when the returned guard is dropped.
///
/// One per program, not one per checks process: a `static` is never
/// dropped, so a shared directory outlived every grading run (one left in
/// the temporary folder per graded submission), and two checks running side
/// by side would have shared its files.
fn scratch_dir() -> anyhow::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("mcp-auth-labs-")
        .tempdir()
        .context("cannot make a scratch directory for the lab's program")
}

/// Hands the first stdout line to `first_line`, then keeps collecting.
async fn watch_stdout(
    stdout: impl AsyncRead + Unpin,
    output: Output,
    first_line: oneshot::Sender<String>,
) {
    let mut lines = BufReader::new(stdout);
    let mut first_line = Some(first_line);
    while let Some(line) = next_line(&mut lines).await {
        if let Some(sender) = first_line.take() {
            let _ = sender.send(line.clone());
        }
        output.push(line);
    }
}

async fn collect(stream: impl AsyncRead + Unpin, output: Output) {
    let mut lines = BufReader::new(stream);
    while let Some(line) = next_line(&mut lines).await {
        output.push(line);
    }
}

/// The next line, without its line ending; bytes that are not UTF-8 (a log
/// line echoing a bad header, say) are replaced rather than ending the read,
/// so a program never blocks on a full pipe.
async fn next_line(reader: &mut (impl AsyncBufReadExt + Unpin)) -> Option<String> {
    let mut bytes = Vec::new();
    match reader.read_until(b'\n', &mut bytes).await {
        Ok(0) | Err(_) => None,
        Ok(_) => {
            let line = String::from_utf8_lossy(&bytes);
            Some(line.trim_end_matches(['\n', '\r']).to_owned())
        }
    }
}
