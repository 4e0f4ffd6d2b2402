//! Running a child program: its stdout line by line with a deadline, its
//! stderr kept (and shown live when asked), and a way to stop it together
//! with everything it started. cargo (build.rs) and the checks binary
//! (pipeline.rs) both run through here.
//!
//! A program runs in its own process group (a job object on Windows) only
//! when it has a deadline ([`Tree::Own`]): killing the group then ends the
//! compilers and build scripts cargo started too. A program a person is
//! waiting for stays in the terminal's group ([`Tree::Shared`]), so that
//! Ctrl-C reaches it as it reaches `cargo xtask`.

use std::{
    io::{BufRead, BufReader, Read, Write},
    process::{Command, ExitStatus, Stdio},
    sync::mpsc::{self, Receiver, RecvTimeoutError},
    time::{Duration, Instant},
};

use anyhow::Context;
use process_wrap::std::{ChildWrapper, CommandWrap};

/// Which process tree a program belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    /// The terminal's: Ctrl-C reaches it; [`Child::stop`] ends only it.
    Shared,
    /// One of its own (process group, job object): [`Child::stop`] ends it
    /// and everything it started.
    Own,
}

/// What [`Child::next_line`] found.
pub enum Stdout {
    Line(String),
    /// Stdout is closed: the program is ending.
    End,
    /// The deadline passed first.
    Deadline,
}

/// A running program whose stdout and stderr are read on threads of their own.
pub struct Child {
    child: Box<dyn ChildWrapper>,
    lines: Receiver<String>,
    stderr: Receiver<String>,
}

impl Child {
    /// Starts `command` with stdin closed and stdout and stderr piped; with
    /// `relay_stderr`, each stderr line is also written to ours as it comes.
    pub fn spawn(command: Command, tree: Tree, relay_stderr: bool) -> anyhow::Result<Child> {
        let program = command.get_program().to_string_lossy().into_owned();
        let mut command = CommandWrap::from(command);
        command
            .command_mut()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if tree == Tree::Own {
            #[cfg(unix)]
            command.wrap(process_wrap::std::ProcessGroup::leader());
            #[cfg(windows)]
            command.wrap(process_wrap::std::JobObject);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot run `{program}`"))?;
        let stderr = child.stderr().take().context("no stderr pipe")?;
        let (stderr_tx, stderr_rx) = mpsc::channel();
        std::thread::spawn(move || stderr_tx.send(read_stderr(stderr, relay_stderr)));
        let stdout = child.stdout().take().context("no stdout pipe")?;
        let (lines_tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Child {
            child,
            lines,
            stderr: stderr_rx,
        })
    }

    /// The next line on stdout, waiting at most until `deadline`.
    pub fn next_line(&self, deadline: Option<Instant>) -> Stdout {
        let received = match deadline {
            None => self
                .lines
                .recv()
                .map_err(|_| RecvTimeoutError::Disconnected),
            Some(at) => self
                .lines
                .recv_timeout(at.saturating_duration_since(Instant::now())),
        };
        match received {
            Ok(line) => Stdout::Line(line),
            Err(RecvTimeoutError::Disconnected) => Stdout::End,
            Err(RecvTimeoutError::Timeout) => Stdout::Deadline,
        }
    }

    /// Kills the program, with its whole tree when it has one of its own,
    /// and waits for the program itself.
    pub fn stop(&mut self) {
        // The group or job; already gone is fine.
        let _ = self.child.start_kill();
        // The program itself, again, so that `wait` returns even if the
        // group could not be signalled.
        let program = self.child.inner_mut();
        let _ = program.start_kill();
        let _ = program.wait();
    }

    /// Waits for the program itself, not for its whole group or job as
    /// `ChildWrapper::wait` would: a process it left behind (adopted by the
    /// grader, a subreaper) would hold us until it ended. contain.rs ends it.
    pub fn wait(&mut self) -> anyhow::Result<ExitStatus> {
        self.child
            .inner_mut()
            .wait()
            .context("cannot wait for a child process")
    }

    /// Everything the program wrote on stderr. A process it left behind may
    /// hold the pipe open: after `patience`, go on without the rest.
    pub fn stderr(&self, patience: Duration) -> String {
        self.stderr.recv_timeout(patience).unwrap_or_default()
    }
}

/// Reads stderr to its end, echoing each line to ours when `relay`.
fn read_stderr(stderr: impl Read, relay: bool) -> String {
    let mut all = String::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if relay {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
        all.push_str(&line);
        all.push('\n');
    }
    all
}
