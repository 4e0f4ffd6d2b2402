//! Starting a lab's binary and watching it.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::{Context, bail};
use nix::{sys::signal::Signal, unistd::Pid};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, Command},
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
    child: Child,
    /// Everything it wrote on stdout and stderr, line by line.
    output: Output,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

/// What a finished `client` run left behind.
#[derive(Debug)]
pub struct ClientRun {
    pub success: bool,
    pub code: Option<i32>,
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
    /// environment (plus `PATH`), in a fresh temporary directory.
    pub async fn start_server_with(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<RunningServer> {
        let mut command = self.command(&["server", "--addr", "127.0.0.1:0"], env);
        command.args(args);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start `{}`", self.path.display()))?;

        let output = Output::default();
        Started::note("server", &output);
        let (announced, first_line) = oneshot::channel();
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let stderr = child.stderr.take().context("no stderr pipe")?;
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
                }),
                _ => {
                    kill_group(&child);
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
                kill_group(&child);
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
        let mut command = self.command(args, env);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start `{}`", self.path.display()))?;
        let (stdout, stderr) = (Output::default(), Output::default());
        Started::note(args.first().copied().unwrap_or("program"), &stderr);
        let readers = [
            tokio::spawn(collect(
                child.stdout.take().context("no stdout pipe")?,
                stdout.clone(),
            )),
            tokio::spawn(collect(
                child.stderr.take().context("no stderr pipe")?,
                stderr.clone(),
            )),
        ];
        let Ok(status) = tokio::time::timeout(CLIENT_TIMEOUT, child.wait()).await else {
            kill_group(&child);
            bail!(
                "`{}` did not finish within {} s",
                args.first().copied().unwrap_or("the program"),
                CLIENT_TIMEOUT.as_secs()
            )
        };
        let status = status.context("cannot wait for the client")?;
        for reader in readers {
            // A grandchild may hold the pipes open; what was read is enough.
            let _ = tokio::time::timeout(Duration::from_secs(1), reader).await;
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
            code: status.code(),
            stdout: text(&stdout),
            stderr: text(&stderr),
        })
    }

    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(&self.path);
        command
            .args(args)
            .env_clear()
            .envs(std::env::var_os("PATH").map(|path| ("PATH", path)))
            .envs(env.iter().copied())
            .current_dir(scratch_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so everything it starts dies with it.
            .process_group(0)
            .kill_on_drop(true);
        command
    }
}

impl RunningServer {
    /// Stops the server (SIGTERM, as Ctrl-C would) and returns every line it
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

    /// Sends SIGTERM and waits for a clean exit (restart checks).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.terminate().await
    }

    async fn terminate(&mut self) -> anyhow::Result<()> {
        if let Some(pid) = self.child.id() {
            let pid = Pid::from_raw(i32::try_from(pid).context("pid out of range")?);
            nix::sys::signal::kill(pid, Signal::SIGTERM).context("cannot signal the server")?;
        }
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .context("the server did not stop within 10 s of SIGTERM")??;
        if !status.success() {
            bail!("the server exited with {status} on SIGTERM");
        }
        Ok(())
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        kill_group(&self.child);
    }
}

fn kill_group(child: &Child) {
    if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
        // The group may already be gone; nothing to do then.
        let _ = nix::sys::signal::killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// A directory the lab may write into (e.g. lab 5's database), removed at
/// exit of the checks process.
fn scratch_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<Option<tempfile::TempDir>> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().ok())
        .as_ref()
        .map_or_else(|| Path::new("."), |dir| dir.path())
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
