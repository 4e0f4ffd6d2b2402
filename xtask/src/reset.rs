//! `cargo xtask reset labN`: the lab's student files back to the starter,
//! after saving the student's own to a backup; `--undo` brings those back.
//!
//! Only the files `labs.toml` lists as the lab's student files are read or
//! written: never another lab's, never the lab's `main.rs` or manifest.
//!
//! The starter comes from git, where the kit ships it: the repository's
//! first commit when it has the lab (a repository made from the template on
//! GitHub starts with the kit as it was), otherwise the last commit (the
//! kit's own checkout, or a clone without your commits), or `--from REV`.
//! Backups live in `.labs-backup/<lab>/<time>/`, ignored by git.

use std::{
    path::{Path, PathBuf},
    process::{Command, ExitCode},
    time::{SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, bail};
use labs_meta::{Catalog, Lab};

use crate::progress::civil_from_days;

#[derive(clap::Args)]
pub struct ResetArgs {
    /// The lab to reset, e.g. lab1.
    pub lab: String,
    /// Bring back the files the last reset (or undo) saved.
    #[arg(long)]
    pub undo: bool,
    /// Take the starter from this git revision instead.
    #[arg(long, value_name = "REV", conflicts_with = "undo")]
    pub from: Option<String>,
}

/// Where backups are kept, at the repository root.
pub const BACKUP_DIR: &str = ".labs-backup";

pub fn run(root: &Path, catalog: &Catalog, args: &ResetArgs) -> anyhow::Result<ExitCode> {
    let lab = catalog.find(&args.lab).map_err(anyhow::Error::msg)?;
    if args.undo {
        undo(root, lab)
    } else {
        reset(root, lab, args.from.as_deref())
    }
}

fn reset(root: &Path, lab: &Lab, from: Option<&str>) -> anyhow::Result<ExitCode> {
    let files = student_files(lab);
    // Every starter file is read before anything is written.
    let (rev, origin) = match from {
        Some(rev) => (rev.to_owned(), format!("`{rev}`")),
        None => starter_revision(root, lab, &files)?,
    };
    let starters = files
        .iter()
        .map(|file| git_file(root, &rev, file).map(|text| (file, text)))
        .collect::<anyhow::Result<Vec<_>>>()?;

    let backup = save(root, lab, &files)?;
    println!(
        "{}: your files are saved in {}",
        lab.id,
        shown(root, &backup)
    );
    for (file, text) in starters {
        std::fs::write(root.join(file), text).with_context(|| format!("cannot write `{file}`"))?;
        println!("  restored {file}");
    }
    println!("from the starter in git ({origin}).");
    println!("Undo: `cargo xtask reset {} --undo`", lab.id);
    Ok(ExitCode::SUCCESS)
}

fn undo(root: &Path, lab: &Lab) -> anyhow::Result<ExitCode> {
    let Some(backup) = newest_backup(root, lab)? else {
        bail!(
            "there is no backup of {} to bring back (`cargo xtask reset {}` makes one)",
            lab.id,
            lab.id
        );
    };
    let files = student_files(lab);
    // The files being replaced are saved too, so an undo can be undone.
    let saved = save(root, lab, &files)?;
    println!(
        "{}: bringing back {} (your current files are saved in {})",
        lab.id,
        shown(root, &backup),
        shown(root, &saved)
    );
    for file in &files {
        let from = backup.join(file);
        if from.is_file() {
            std::fs::copy(&from, root.join(file))
                .with_context(|| format!("cannot restore `{file}`"))?;
            println!("  restored {file}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The lab's student files, relative to the repository root, with `/`.
fn student_files(lab: &Lab) -> Vec<String> {
    lab.student_files
        .iter()
        .map(|file| format!("{}/{file}", lab.starter_dir()))
        .collect()
}

/// Copies `files` (those that exist) into a new backup folder.
fn save(root: &Path, lab: &Lab, files: &[String]) -> anyhow::Result<PathBuf> {
    let parent = root.join(BACKUP_DIR).join(&lab.id);
    let stamp = stamp();
    let mut backup = parent.join(&stamp);
    let mut n = 2;
    while backup.exists() {
        backup = parent.join(format!("{stamp}-{n}"));
        n += 1;
    }
    for file in files {
        let from = root.join(file);
        if !from.is_file() {
            continue;
        }
        let to = backup.join(file);
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create `{}`", dir.display()))?;
        }
        std::fs::copy(&from, &to).with_context(|| format!("cannot back up `{file}`"))?;
    }
    std::fs::create_dir_all(&backup)
        .with_context(|| format!("cannot create `{}`", backup.display()))?;
    Ok(backup)
}

fn newest_backup(root: &Path, lab: &Lab) -> anyhow::Result<Option<PathBuf>> {
    let parent = root.join(BACKUP_DIR).join(&lab.id);
    let Ok(entries) = std::fs::read_dir(&parent) else {
        return Ok(None);
    };
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read `{}`", parent.display()))?;
        if entry.path().is_dir() {
            dirs.push(entry.path());
        }
    }
    // Names are times, `2026-12-01T17-40-05` (then `-2`, `-3` within a second).
    dirs.sort_by_key(|dir| {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        let (time, n) = match name.get(19..) {
            Some(rest) if !rest.is_empty() => {
                (name[..19].to_owned(), rest[1..].parse().unwrap_or(0))
            }
            _ => (name.clone(), 0u32),
        };
        (time, n)
    });
    Ok(dirs.pop())
}

/// The revision holding the starter, and how to say where it came from.
fn starter_revision(root: &Path, lab: &Lab, files: &[String]) -> anyhow::Result<(String, String)> {
    let roots = git(root, &["rev-list", "--max-parents=0", "HEAD"])?;
    for first in roots.lines() {
        if files.iter().all(|file| has_file(root, first, file)) {
            return Ok((
                first.to_owned(),
                format!("commit {}, the repository's first", short(first)),
            ));
        }
    }
    if files.iter().all(|file| has_file(root, "HEAD", file)) {
        let head = git(root, &["rev-parse", "HEAD"])?;
        return Ok((
            "HEAD".to_owned(),
            format!("commit {}, the last one", short(head.trim())),
        ));
    }
    bail!(
        "the starter of {} is not in git's history (neither in the first commit nor in the last); \
         name a commit that has it: `cargo xtask reset {} --from <commit>`",
        lab.starter_dir(),
        lab.id
    )
}

fn has_file(root: &Path, rev: &str, file: &str) -> bool {
    git(root, &["cat-file", "-e", &format!("{rev}:./{file}")]).is_ok()
}

/// `file` at `rev`, with the line endings a checkout would give it.
fn git_file(root: &Path, rev: &str, file: &str) -> anyhow::Result<Vec<u8>> {
    git_bytes(root, &["cat-file", "--filters", &format!("{rev}:./{file}")])
        .with_context(|| format!("cannot read `{file}` at `{rev}` from git"))
}

fn git(root: &Path, args: &[&str]) -> anyhow::Result<String> {
    git_bytes(root, args).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

fn git_bytes(root: &Path, args: &[&str]) -> anyhow::Result<Vec<u8>> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .context("cannot run git: install it (https://git-scm.com/downloads) to reset a lab")?;
    if !output.status.success() {
        bail!(
            "`git {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output.stdout)
}

fn short(rev: &str) -> &str {
    rev.get(..7).unwrap_or(rev)
}

/// `path` relative to the root when it is inside it, with `/`.
fn shown(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    let text = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    format!("{text}/")
}

/// The current UTC time as a folder name, `2026-12-01T17-40-05`.
fn stamp() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}-{:02}-{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}
