//! The scratch workspace every submission is built in, `target/grade/`,
//! and the seal on the instructor's files while students' code runs.
//!
//! **Invariant:** every submission of a lab is built at the same path
//! (`target/grade/work/labs/<lab>-<slug>`) into the same target directory,
//! so the dependencies compile once per class. Cargo tells builds apart by
//! that path and by source modification times, so [`Workspace::place`]
//! rewrites the lab's folder from scratch before every build (fresh mtimes),
//! `build::build_submission` refuses a build cargo considers fresh, and the
//! workspace is locked against a second grading run in the same checkout.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::Context;
use labs_meta::Lab;

use crate::overlay::{Taken, files_under};

/// The scratch workspace under `target/grade/`, held exclusively: two
/// grading runs in one checkout would rewrite each other's lab folder in
/// the middle of a build.
pub struct Workspace {
    /// Locked; released when the workspace is dropped (the file is closed),
    /// or when the process dies.
    _lock: fs::File,
    root: PathBuf,
    /// `work/`: the instructor's workspace manifest, lock file and shared
    /// crates, plus the one lab being built.
    work: PathBuf,
    /// The target directory every submission shares.
    pub target: PathBuf,
}

impl Workspace {
    /// Creates or refreshes the scratch workspace of `root`. Unchanged files
    /// keep their mtime, so the shared crates are not rebuilt every run.
    pub fn prepare(root: &Path) -> anyhow::Result<Workspace> {
        let grade = root.join("target").join("grade");
        let work = grade.join("work");
        fs::create_dir_all(&work).with_context(|| format!("cannot create `{}`", work.display()))?;
        let workspace = Workspace {
            _lock: lock(&grade.join("lock"))?,
            root: root.to_path_buf(),
            work,
            target: grade.join("target"),
        };
        workspace.restore()?;
        Ok(workspace)
    }

    /// Makes the shared crates, lock file and toolchain file match the
    /// instructor's again. Run before every build: the previous student's
    /// code (a build script, its server) could have edited them, and the
    /// next student must not be built against that.
    fn restore(&self) -> anyhow::Result<()> {
        sync_tree(&self.root.join("crates"), &self.work.join("crates"))?;
        for file in ["Cargo.lock", "rust-toolchain.toml", "rust-toolchain"] {
            if self.root.join(file).is_file() {
                write_if_changed(&self.work.join(file), &read(&self.root.join(file))?)?;
            }
        }
        Ok(())
    }

    /// Rebuilds `labs/<lab>-<slug>` in the workspace from the starter plus
    /// `taken` (or the pristine starter for `None`) and returns its manifest.
    pub fn place(&self, lab: &Lab, taken: Option<&Taken>) -> anyhow::Result<PathBuf> {
        let folder = format!("{}-{}", lab.id, lab.slug);
        self.write_manifest(&format!("labs/{folder}"))?;
        // Also undoes a lock file that a student's added dependency changed.
        self.restore()?;

        let labs = self.work.join("labs");
        if labs.exists() {
            fs::remove_dir_all(&labs)
                .with_context(|| format!("cannot clear `{}`", labs.display()))?;
        }
        let dest = labs.join(&folder);
        copy_tree(&self.root.join(lab.starter_dir()), &dest)?;
        if let Some(taken) = taken {
            for (rel, source) in &taken.files {
                copy_file(source, &dest.join(rel))?;
            }
            if let Some(manifest) = &taken.manifest {
                copy_file(manifest, &dest.join("Cargo.toml"))?;
            }
        }
        Ok(dest.join("Cargo.toml"))
    }

    /// The instructor's workspace manifest with one lab as the only
    /// member besides the shared crates: another lab's folder (or a
    /// student's broken manifest left over) must not break this build.
    fn write_manifest(&self, lab_member: &str) -> anyhow::Result<()> {
        let path = self.root.join("Cargo.toml");
        let mut manifest: toml::Table = toml::from_str(&String::from_utf8_lossy(&read(&path)?))
            .with_context(|| format!("cannot parse `{}`", path.display()))?;
        let workspace = manifest
            .get_mut("workspace")
            .and_then(toml::Value::as_table_mut)
            .with_context(|| format!("`{}` has no [workspace]", path.display()))?;
        workspace.insert(
            "members".to_owned(),
            toml::Value::Array(vec!["crates/*".into(), lab_member.into()]),
        );
        workspace.remove("exclude");
        let text = toml::to_string(&manifest).context("cannot write the grading manifest")?;
        write_if_changed(&self.work.join("Cargo.toml"), text.as_bytes())
    }
}

/// A fingerprint of what the checks read from the instructor's checkout
/// while they run: the graded labs' snapshots and labs.toml (by contents)
/// and the checks binary (by size and time: hashing 100 MB after every run
/// would cost more than it guards). Student code runs unsandboxed and could
/// rewrite them; comparing the seal before and after grading at least tells.
#[derive(PartialEq, Eq)]
pub struct KitSeal(u64);

impl KitSeal {
    pub fn take(root: &Path, labs: &[&Lab], checks_bin: &Path) -> KitSeal {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        for lab in labs {
            let snapshots = root.join("tests").join("snapshots").join(&lab.id);
            for rel in files_under(&snapshots) {
                rel.hash(&mut hasher);
                fs::read(snapshots.join(&rel)).ok().hash(&mut hasher);
            }
        }
        fs::read(root.join("labs.toml")).ok().hash(&mut hasher);
        let binary = fs::metadata(checks_bin).ok();
        binary.as_ref().map(fs::Metadata::len).hash(&mut hasher);
        binary
            .and_then(|meta| meta.modified().ok())
            .hash(&mut hasher);
        KitSeal(hasher.finish())
    }
}

/// Takes the lock file at `path`, waiting (and saying so) while another
/// grading run holds it.
///
/// `flock` on Unix, `LockFileEx` on Windows, through fs4. Called by path
/// (`fs4::FileExt::try_lock(&file)`): from Rust 1.89 `File` has methods of
/// the same names, which a method call would pick instead.
fn lock(path: &Path) -> anyhow::Result<fs::File> {
    // Not truncated: Windows refuses to truncate a file another process
    // holds a lock on, which would make waiting for it an error.
    let file = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("cannot create `{}`", path.display()))?;
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => return Ok(file),
        Err(fs4::TryLockError::WouldBlock) => {
            eprintln!("waiting for another grading run in this checkout to finish…");
        }
        Err(fs4::TryLockError::Error(e)) => {
            anyhow::bail!("cannot lock `{}`: {e}", path.display())
        }
    }
    fs4::FileExt::lock(&file).with_context(|| format!("cannot lock `{}`", path.display()))?;
    Ok(file)
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))
}

fn write_if_changed(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    if fs::read(path).is_ok_and(|old| old == contents) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create `{}`", parent.display()))?;
    }
    fs::write(path, contents).with_context(|| format!("cannot write `{}`", path.display()))
}

/// Copies `from` to `to` as a new file: fresh mtime, whatever `from` had.
fn copy_file(from: &Path, to: &Path) -> anyhow::Result<()> {
    let contents = read(from)?;
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create `{}`", parent.display()))?;
    }
    fs::write(to, contents).with_context(|| format!("cannot write `{}`", to.display()))
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    for rel in files_under(from) {
        copy_file(&from.join(&rel), &to.join(&rel))?;
    }
    Ok(())
}

/// Makes `to` a copy of `from`, touching only what differs.
fn sync_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    let wanted = files_under(from);
    for rel in files_under(to) {
        if !wanted.contains(&rel) {
            let path = to.join(&rel);
            fs::remove_file(&path)
                .with_context(|| format!("cannot remove `{}`", path.display()))?;
        }
    }
    for rel in &wanted {
        write_if_changed(&to.join(rel), &read(&from.join(rel))?)?;
    }
    Ok(())
}
