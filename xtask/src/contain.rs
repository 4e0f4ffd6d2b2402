//! Student processes that outlive their checks (or their build).
//!
//! A check kills the process group of every program it starts, but a
//! student's program can leave that group (`setsid`, `process_group(0)`, a
//! double fork): a server that starts `sleep 601` in a group of its own left
//! it running after `grade --all`, 17 of them for a class. So the grader
//! also finds them by a mark and ends them:
//!
//! - every program the checks start carries [`MARK`] in its environment (the
//!   path of the binary being judged), and every submission build carries
//!   it in cargo's (build scripts and compilers inherit it); whatever those
//!   programs start inherits it too, in any process group;
//! - on Linux the grader is a child subreaper (`PR_SET_CHILD_SUBREAPER`), so
//!   an escaped process whose parents died becomes the grader's child,
//!   whatever group or session it made, even if it cleared its environment;
//! - after each submission's checks and build, every process carrying that
//!   submission's mark is killed and named in its grade; after the class,
//!   every child the grader still has is killed and named in `summary.md`.
//!
//! Elsewhere (macOS, Windows) this finds nothing: there is no `/proc` to
//! read, and process groups (job objects on Windows, which a child cannot
//! leave unless it is allowed to break away) are all the containment there
//! is (see docs/grading.md).

/// The environment variable that marks a submission's processes.
pub const MARK: &str = "MCP_AUTH_LABS_BIN";

/// `UID:GID` the checks run the lab's programs as, when set (Gradescope,
/// where everything else runs as root); read by the checks' harness.
pub const RUN_AS: &str = "MCP_AUTH_LABS_RUN_AS";

/// Refuses a [`RUN_AS`] that cannot work: malformed, or set for a grader
/// that is not root (every program would fail to start, and every student
/// would get 0 for the grader's mistake).
pub fn check_run_as() -> anyhow::Result<()> {
    let Ok(value) = std::env::var(RUN_AS) else {
        return Ok(());
    };
    let valid = value.split_once(':').is_some_and(|(uid, gid)| {
        uid.trim().parse::<u32>().is_ok() && gid.trim().parse::<u32>().is_ok()
    });
    if !valid {
        anyhow::bail!(
            "{RUN_AS}=`{value}` is not UID:GID (e.g. `$(id -u student):$(id -g student)`)"
        );
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt as _;
        if std::fs::metadata("/proc/self").map(|meta| meta.uid()).ok() != Some(0) {
            anyhow::bail!("{RUN_AS} is set, but only root can run programs as another user");
        }
    }
    Ok(())
}

/// Makes this process the subreaper of everything it starts (Linux).
pub fn become_subreaper() {
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        eprintln!(
            "note: cannot become a child subreaper ({e}): escaped student processes are found by their mark only"
        );
    }
}

/// Kills every process whose environment has `MARK=key`; returns what each
/// was (its command line), one entry per process.
pub fn kill_marked(key: &str) -> Vec<String> {
    let wanted = format!("{MARK}={key}");
    kill_while(|process| process.environ.contains(&wanted))
}

/// Kills every child this process still has that it did not start itself
/// (they were adopted as a subreaper): call when nothing it started is
/// running any more.
pub fn kill_adopted() -> Vec<String> {
    let me = std::process::id();
    let killed = kill_while(|process| process.parent == me);
    // Adopted processes that ended on their own are zombies until waited
    // for; nothing else of ours is running now, so any child will do.
    #[cfg(unix)]
    while let Ok(status) = nix::sys::wait::waitpid(None, Some(nix::sys::wait::WaitPidFlag::WNOHANG))
    {
        if status == nix::sys::wait::WaitStatus::StillAlive {
            break;
        }
    }
    killed
}

/// How long a process that was being killed gets to be gone.
const GRACE: std::time::Duration = std::time::Duration::from_millis(500);

/// What [`kill_while`] reads of a process.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
struct Process {
    pid: u32,
    parent: u32,
    command: String,
    environ: Vec<String>,
}

/// Kills the processes `select` picks, again until none is left (one may
/// fork while it is being killed); returns their command lines.
fn kill_while(select: impl Fn(&Process) -> bool) -> Vec<String> {
    if !processes().iter().any(&select) {
        return Vec::new();
    }
    // A server the checks killed just before they exited may not be gone
    // yet: a moment's grace, so that only what really outlived them is
    // killed here and named.
    std::thread::sleep(GRACE);
    let mut killed = Vec::new();
    for _ in 0..20 {
        let found: Vec<Process> = processes().into_iter().filter(|p| select(p)).collect();
        if found.is_empty() {
            break;
        }
        for process in found {
            kill(&process);
            killed.push(process.command);
        }
    }
    killed
}

#[cfg(target_os = "linux")]
fn processes() -> Vec<Process> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
            let (_, rest) = stat.rsplit_once(')')?;
            let mut fields = rest.split_whitespace();
            let state = fields.next()?;
            let parent = fields.next()?.parse().ok()?;
            if state == "Z" {
                // Already dead; only its parent's wait is missing (and if
                // that is us, the code that started it will wait).
                return None;
            }
            let split = |bytes: Vec<u8>| -> Vec<String> {
                bytes
                    .split(|&b| b == 0)
                    .filter(|part| !part.is_empty())
                    .map(|part| String::from_utf8_lossy(part).into_owned())
                    .collect()
            };
            let environ = split(std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default());
            let command = split(std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default());
            Some(Process {
                pid,
                parent,
                command: command.join(" "),
                environ,
            })
        })
        .collect()
}

#[cfg(not(target_os = "linux"))]
fn processes() -> Vec<Process> {
    Vec::new()
}

#[cfg(unix)]
fn kill(process: &Process) {
    use nix::{sys::signal, unistd::Pid};
    let Ok(pid) = i32::try_from(process.pid) else {
        return;
    };
    // Gone already is fine: that is what we wanted.
    let _ = signal::kill(Pid::from_raw(pid), signal::Signal::SIGKILL);
    if process.parent == std::process::id() {
        reap(process.pid);
    }
}

#[cfg(not(unix))]
fn kill(_: &Process) {}

/// Waits for our own child `pid`, so that it does not stay a zombie. Only
/// adopted processes get here: a child the grader started itself is waited
/// for by the code that started it.
#[cfg(unix)]
fn reap(pid: u32) {
    use nix::{sys::wait, unistd::Pid};
    if let Ok(pid) = i32::try_from(pid) {
        let _ = wait::waitpid(Pid::from_raw(pid), None);
    }
}

/// `commands` counted: "`sleep 601` ×17, `lab1 server` ×2".
pub fn describe(commands: &[String]) -> String {
    let mut counted: Vec<(&str, usize)> = Vec::new();
    for command in commands {
        let command = command.as_str();
        match counted.iter_mut().find(|(c, _)| *c == command) {
            Some((_, n)) => *n += 1,
            None => counted.push((command, 1)),
        }
    }
    counted
        .iter()
        .map(|(command, n)| {
            let command = if command.is_empty() {
                "(no command line)"
            } else {
                command
            };
            if *n == 1 {
                format!("`{command}`")
            } else {
                format!("`{command}` ×{n}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}
