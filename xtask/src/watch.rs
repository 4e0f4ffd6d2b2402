//! `cargo xtask watch [labN]`: check a lab again each time one of its files
//! is saved, until `q`, end of input or Ctrl-C.
//!
//! File events come from notify (inotify, FSEvents, ReadDirectoryChanges);
//! only writes count (cargo reading the sources is not a change), and an
//! editor's burst of writes is one run (debounced here). Where events
//! never arrive (WSL's `/mnt/…`, some container mounts) it polls instead:
//! `--poll`, or on its own when the file watcher cannot start. Each run is
//! an ordinary `check` (cargo rebuilds only what changed), so Ctrl-C reaches
//! cargo and the checks binary as it does during `cargo xtask check`, and
//! the checks binary stops its servers.
//!
//! Without a lab it follows the current one (the first that does not pass)
//! and moves on to the next when it passes.

use std::{
    io::{BufRead, IsTerminal, Write},
    path::{Path, PathBuf},
    process::ExitCode,
    sync::mpsc::{self, Receiver, RecvTimeoutError, Sender},
    time::Duration,
};

use anyhow::Context;
use labs_meta::{Catalog, Lab};
use notify::{
    Event, EventKind, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher as _,
    event::{AccessKind, AccessMode, MetadataKind, ModifyKind},
};

use crate::{
    check::{self, CheckArgs},
    progress::Progress,
    report,
    style::Style,
};

#[derive(clap::Args)]
pub struct WatchArgs {
    /// The lab to watch; without it, the first lab that does not pass yet,
    /// then the next one when it passes.
    pub lab: Option<String>,
    /// Watch and check the lab crate in DIR instead of labs/<lab>-<slug>.
    #[arg(long, value_name = "DIR", requires = "lab")]
    pub path: Option<PathBuf>,
    /// Look for changes every second instead of waiting for file events
    /// (for folders whose events never arrive: WSL's /mnt, some containers).
    #[arg(long)]
    pub poll: bool,
}

/// How long a burst of writes may last and still be one change.
const DEBOUNCE: Duration = Duration::from_millis(300);
/// How often the polling watcher looks.
const POLL_EVERY: Duration = Duration::from_secs(1);

enum Message {
    /// Files of the lab changed.
    Changed,
    /// A line typed at the terminal.
    Key(String),
    /// The file watcher failed.
    WatchError(String),
}

/// A running watcher of either kind; dropping it stops it.
#[expect(
    dead_code,
    reason = "held only to keep watching: dropping it stops the watcher"
)]
enum Watcher {
    Events(RecommendedWatcher),
    Polling(PollWatcher),
}

pub fn run(root: &Path, catalog: &Catalog, args: &WatchArgs) -> anyhow::Result<ExitCode> {
    let mut lab = match &args.lab {
        Some(id) => catalog.find(id).map_err(anyhow::Error::msg)?,
        None => match Progress::load(root, catalog).current(catalog) {
            Some(lab) => lab,
            None => {
                println!(
                    "Every lab passes: there is nothing left to watch. `cargo xtask` shows the list."
                );
                return Ok(ExitCode::SUCCESS);
            }
        },
    };
    let (tx, rx) = mpsc::channel();
    read_keys(tx.clone());
    loop {
        let dir = args
            .path
            .clone()
            .unwrap_or_else(|| root.join(lab.starter_dir()));
        let (_watcher, how) = start_watcher(&dir, args.poll, &tx)?;
        match watch_lab(root, catalog, lab, args, &dir, how, &rx)? {
            Next::Quit => return Ok(ExitCode::SUCCESS),
            Next::Lab(next) => lab = next,
            Next::AllPass => {
                println!(
                    "\nEvery lab passes. Well done! `cargo xtask diff labN` shows the reference's way."
                );
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
}

enum Next<'a> {
    Quit,
    Lab(&'a Lab),
    AllPass,
}

/// Checks `lab` now and after every change, until the student quits or
/// (when following) the lab passes.
fn watch_lab<'a>(
    root: &Path,
    catalog: &'a Catalog,
    lab: &'a Lab,
    args: &WatchArgs,
    dir: &Path,
    how: &str,
    rx: &Receiver<Message>,
) -> anyhow::Result<Next<'a>> {
    let follow = args.lab.is_none();
    let mut hint_level = 0;
    // A key typed while a burst of saves was being waited out.
    let mut pending = None;
    loop {
        let passed = check_once(root, catalog, lab, args);
        if follow && passed {
            return Ok(match Progress::load(root, catalog).current(catalog) {
                Some(next) if next.id != lab.id => {
                    println!(
                        "\n{} passes. On to {}: watching {}.",
                        lab.id,
                        next.id,
                        next.starter_dir()
                    );
                    Next::Lab(next)
                }
                Some(_) => Next::Lab(lab),
                None => Next::AllPass,
            });
        }
        footer(root, dir, how);
        // Wait for a change or a key that asks for a run.
        loop {
            let message = match pending.take() {
                Some(message) => Ok(message),
                None => rx.recv(),
            };
            match message {
                Ok(Message::Changed) => {
                    // Debounce: wait until the files are quiet for a moment,
                    // so that a burst of writes is one run.
                    loop {
                        match rx.recv_timeout(DEBOUNCE) {
                            Ok(Message::Changed) => {}
                            Ok(other) => {
                                pending = Some(other);
                                break;
                            }
                            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                                break;
                            }
                        }
                    }
                    break;
                }
                Ok(Message::Key(key)) => match key.trim() {
                    "q" | "quit" => return Ok(Next::Quit),
                    "r" | "" => break,
                    "h" => {
                        hint_level = (hint_level % lab.hints.len()) + 1;
                        println!();
                        report::print_hint(lab, hint_level);
                        println!();
                    }
                    other => println!("`{other}`: type r, h or q, then Enter."),
                },
                Ok(Message::WatchError(error)) => {
                    println!("warning: the file watcher reported: {error}");
                    println!("If saves are not noticed, run `cargo xtask watch --poll`.");
                }
                // Every sender is gone: nothing can wake us up again.
                Err(_) => return Ok(Next::Quit),
            }
        }
    }
}

/// One `cargo xtask check`, on a clear screen; whether every check passed.
fn check_once(root: &Path, catalog: &Catalog, lab: &Lab, args: &WatchArgs) -> bool {
    if std::io::stdout().is_terminal() {
        // Clear the screen and the scrollback, cursor home.
        print!("\x1b[2J\x1b[3J\x1b[H");
    }
    let check = CheckArgs {
        lab: Some(lab.id.clone()),
        current: false,
        solution: false,
        path: args.path.clone(),
        start_timeout: 10.0,
    };
    match check::run(root, catalog, &check) {
        Ok(code) => code == ExitCode::SUCCESS,
        Err(e) => {
            // The runner itself broke (the checks crate does not build, …):
            // say so and keep watching, a save may fix it.
            println!("error: {e:#}");
            false
        }
    }
}

fn footer(root: &Path, dir: &Path, how: &str) {
    let shown = dir.strip_prefix(root).unwrap_or(dir).display().to_string();
    println!(
        "\n{}",
        Style::terminal().dim(&format!(
            "Watching {shown} ({how}) · save to check again · r⏎ check now · h⏎ hint · q⏎ quit"
        ))
    );
    let _ = std::io::stdout().flush();
}

/// Starts watching `dir`: with file events unless `poll` or they cannot be
/// had, by polling otherwise. Returns the watcher and how it watches.
fn start_watcher(
    dir: &Path,
    poll: bool,
    tx: &Sender<Message>,
) -> anyhow::Result<(Watcher, &'static str)> {
    if !poll && !events_unlikely(dir) {
        let events = notify::recommended_watcher(handler(tx.clone())).and_then(|mut watcher| {
            watcher
                .watch(dir, RecursiveMode::Recursive)
                .map(|()| watcher)
        });
        match events {
            Ok(watcher) => return Ok((Watcher::Events(watcher), "file events")),
            Err(e) => println!("The file watcher could not start ({e}); polling instead."),
        }
    }
    let config = notify::Config::default().with_poll_interval(POLL_EVERY);
    let mut watcher = PollWatcher::new(handler(tx.clone()), config)
        .context("cannot start the polling watcher")?;
    watcher
        .watch(dir, RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch `{}`", dir.display()))?;
    Ok((Watcher::Polling(watcher), "polling every second"))
}

/// WSL does not deliver file events for Windows folders (`/mnt/c/…`).
fn events_unlikely(dir: &Path) -> bool {
    let wsl = std::fs::read_to_string("/proc/version")
        .is_ok_and(|version| version.to_lowercase().contains("microsoft"));
    wsl && dir.starts_with("/mnt/")
}

/// Turns file events into `Changed` when a source file was written:
/// `.rs` and `.toml` files, outside any `target/` folder (editors' swap and
/// backup files do not count, nor does `Cargo.lock`, which cargo rewrites).
fn handler(tx: Sender<Message>) -> impl FnMut(notify::Result<Event>) + Send + 'static {
    move |result: notify::Result<Event>| {
        let message = match result {
            Ok(event) if is_write(&event.kind) && event.paths.iter().any(|p| is_source(p)) => {
                Message::Changed
            }
            Ok(_) => return,
            Err(e) => Message::WatchError(e.to_string()),
        };
        let _ = tx.send(message);
    }
}

/// Whether an event is a write, not a read: every build opens and reads the
/// sources (and may touch their access time), which must not start another.
fn is_write(kind: &EventKind) -> bool {
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        // The polling watcher sees a save as a new modification time.
        EventKind::Modify(ModifyKind::Metadata(metadata)) => {
            matches!(metadata, MetadataKind::WriteTime)
        }
        EventKind::Modify(_) => true,
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Any | EventKind::Other => false,
    }
}

fn is_source(path: &Path) -> bool {
    let in_target = path.components().any(|c| c.as_os_str() == "target");
    let source = path
        .extension()
        .is_some_and(|ext| ext == "rs" || ext == "toml");
    source && !in_target
}

/// Lines typed at the terminal, on a thread of their own. At the end of
/// input (nothing to read, or Ctrl-D) the keys stop; watching goes on.
fn read_keys(tx: Sender<Message>) {
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if tx.send(Message::Key(line)).is_err() {
                break;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_a_file_is_not_a_change() {
        use notify::event::{CreateKind, DataChange};
        assert!(is_write(&EventKind::Modify(ModifyKind::Data(
            DataChange::Any
        ))));
        assert!(is_write(&EventKind::Create(CreateKind::File)));
        assert!(is_write(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(!is_write(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!is_write(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(!is_write(&EventKind::Modify(ModifyKind::Metadata(
            MetadataKind::AccessTime
        ))));
    }

    #[test]
    fn only_source_files_outside_target_count() {
        assert!(is_source(Path::new("labs/lab1-basic-secret/src/auth.rs")));
        assert!(is_source(Path::new("labs/lab1-basic-secret/Cargo.toml")));
        assert!(!is_source(Path::new(
            "labs/lab1-basic-secret/src/.auth.rs.swp"
        )));
        assert!(!is_source(Path::new("labs/lab1-basic-secret/src/auth.rs~")));
        assert!(!is_source(Path::new("labs/lab1-basic-secret/Cargo.lock")));
        assert!(!is_source(Path::new("lab/target/debug/build/x.rs")));
    }
}
