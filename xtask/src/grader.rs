//! The grading pipeline: a class folder's students ([`discover`]), then
//! every submission of every lab judged against the instructor's checks
//! ([`Grader::grade`]; see [`overlay`] for what is taken from a
//! submission). What it returns, [`LabGrade`]s, the report writers
//! ([`crate::grades`]) render.
//!
//! Builds run one at a time in the shared scratch workspace (they must:
//! see the invariant in [`crate::workspace`]); each built binary is copied
//! out and its checks run on a worker thread while the next submission
//! builds.
//!
//! **Invariant:** a student's failure is data. Only the grader's own
//! trouble (a lab whose starter does not build, a disk that is full) is an
//! `Err`, and even that is recorded per submission so that the other
//! students are still graded and every report is written.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::{Mutex, mpsc},
    time::{Duration, Instant},
};

use anyhow::Context;
use labs_meta::Lab;

use crate::{
    build::{self, Built},
    contain,
    outcome::Outcome,
    overlay::{self, Layout},
    pipeline, unzip,
    workspace::{KitSeal, Workspace},
};

/// Time limits for one submission of one lab.
#[derive(clap::Args, Clone)]
pub struct Limits {
    /// Seconds a submission's build may take, and again its checks.
    #[arg(long, default_value_t = 120.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// Seconds one check may take (a hanging handler fails after this).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub check_timeout: f64,
    /// Seconds the server gets to print `listening on`.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub start_timeout: f64,
}

/// One student's folder.
pub struct Student {
    pub name: String,
    pub dir: PathBuf,
    pub layout: Option<Layout>,
    /// Why there is nothing to grade, when `layout` is `None`.
    pub unusable: Option<String>,
    /// Kit files the student changed, which grading ignored.
    pub tampered: Vec<String>,
}

/// A class folder: its students, and every entry of it that is not one.
pub struct Class {
    pub students: Vec<Student>,
    /// `(entry, why it was not graded)`, in name order.
    pub skipped: Vec<(String, String)>,
    /// Processes still running after every submission was graded, which no
    /// submission could be tied to (see [`contain`]); they were killed.
    pub adopted: Vec<String>,
    /// Where zip files were unpacked; removed when the class is dropped.
    _unpacked: Unpacked,
}

/// A scratch folder removed on drop.
struct Unpacked(PathBuf);

impl Drop for Unpacked {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// One student's result for one lab.
pub struct LabGrade {
    pub student: String,
    pub lab: String,
    pub verdict: Assessment,
    /// Files ignored, manifest changes: what the student should know.
    pub notes: Vec<String>,
    /// The student's changed kit files ([`Student::tampered`]): the
    /// feedback of every lab names them, the summary once per student.
    pub ignored_kit_files: Vec<String>,
    /// The student files were the starter's (or missing): the summary
    /// gives such a lab one line.
    pub untouched: bool,
    pub build_secs: f64,
    pub check_secs: f64,
}

pub enum Assessment {
    /// Built and run: the same outcome `cargo xtask check` reports.
    Judged(Outcome),
    /// The submission has nothing for this lab.
    Missing(String),
    /// The grader could not grade this one (not the student's fault).
    GraderError(String),
}

/// Every sub-folder of `dir` is a student, named after it, and so is every
/// `.zip` file (unpacked under `target/grade/`); students in name order.
/// Anything else is listed in `skipped`, so that no entry of the class
/// folder disappears without a word.
pub fn discover(root: &Path, dir: &Path, labs: &[&Lab]) -> anyhow::Result<Class> {
    let entries = fs::read_dir(dir).with_context(|| format!("cannot read `{}`", dir.display()))?;
    let unpacked = Unpacked(
        root.join("target")
            .join("grade")
            .join(format!("unzipped-{}", std::process::id())),
    );
    let mut names: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|entry| {
            (
                entry.file_name().to_string_lossy().into_owned(),
                entry.path(),
            )
        })
        .collect();
    names.sort();
    let folders: Vec<&str> = names
        .iter()
        .filter(|(_, path)| path.is_dir())
        .map(|(name, _)| name.as_str())
        .collect();
    let mut students = Vec::new();
    let mut skipped = Vec::new();
    for (name, path) in &names {
        let stem = Path::new(name)
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            skipped.push((name.clone(), "hidden".to_owned()));
        } else if path.is_dir() {
            students.push(student(root, name.clone(), path.clone(), labs));
        } else if !unzip::is_zip(path) {
            skipped.push((
                name.clone(),
                "a file, not a student's folder or .zip".to_owned(),
            ));
        } else if folders.contains(&stem.as_str()) {
            skipped.push((
                name.clone(),
                format!("the folder `{stem}` is graded instead"),
            ));
        } else {
            let into = unpacked.0.join(&stem);
            students.push(match unzip::unpack(path, &into) {
                Ok(left_out) => {
                    let mut student = student(root, stem, into, labs);
                    if !left_out.is_empty() {
                        student.tampered.extend(
                            left_out
                                .into_iter()
                                .map(|entry| format!("{entry} in {name}, not unpacked")),
                        );
                    }
                    student
                }
                Err(e) => Student {
                    name: stem,
                    dir: path.clone(),
                    layout: None,
                    unusable: Some(format!("{e:#}")),
                    tampered: Vec::new(),
                },
            });
        }
    }
    Ok(Class {
        students,
        skipped,
        adopted: Vec::new(),
        _unpacked: unpacked,
    })
}

pub fn student(root: &Path, name: String, dir: PathBuf, labs: &[&Lab]) -> Student {
    let mut layout = overlay::layout(&dir, labs);
    let mut dir = dir;
    if layout.is_none()
        && let Some(inner) = overlay::only_folder(&dir)
    {
        // An unzipped archive often wraps everything in one folder
        // (`mcp-auth-labs-main/`): look inside it.
        layout = overlay::layout(&inner, labs);
        if layout.is_some() {
            dir = inner;
        }
    }
    let tampered = if layout == Some(Layout::Kit) {
        overlay::tampered(root, &dir)
    } else {
        Vec::new()
    };
    // Nothing to grade, but something close: say what it is.
    let unusable = layout.is_none().then(|| {
        let close: Vec<String> = labs
            .iter()
            .flat_map(|lab| overlay::near_misses(&dir, lab))
            .collect();
        if close.is_empty() {
            overlay::NOT_A_SUBMISSION.to_owned()
        } else {
            format!(
                "{}; these folders look like labs but are not named as the kit names them: {}",
                overlay::NOT_A_SUBMISSION,
                overlay::list(&close)
            )
        }
    });
    Student {
        name,
        dir,
        layout,
        unusable,
        tampered,
    }
}

/// The checks binary, the scratch workspace and the limits: everything a
/// class shares.
pub struct Grader {
    root: PathBuf,
    checks_bin: PathBuf,
    workspace: Workspace,
    limits: Limits,
    /// Where built binaries wait for their checks.
    bins: PathBuf,
}

/// What follows a build.
enum Next<'a> {
    /// Built: its checks are next.
    Check(Job<'a>),
    /// Graded already (nothing to run).
    Done(LabGrade),
}

/// A built submission waiting for its checks.
struct Job<'a> {
    lab: &'a Lab,
    student: String,
    bin: PathBuf,
    notes: Vec<String>,
    ignored_kit_files: Vec<String>,
    untouched: bool,
    build_secs: f64,
}

impl Grader {
    /// Builds the instructor's checks and prepares the scratch workspace.
    pub fn new(root: &Path, limits: Limits) -> anyhow::Result<Grader> {
        limits.validate()?;
        contain::check_run_as()?;
        contain::become_subreaper();
        let built = pipeline::build_checks(root)?;
        let workspace = Workspace::prepare(root)?;
        let bins = root.join("target").join("grade").join("bin");
        if bins.exists() {
            fs::remove_dir_all(&bins)
                .with_context(|| format!("cannot clear `{}`", bins.display()))?;
        }
        // A copy: a `cargo build` in the checkout while the class is graded
        // must not swap the checks under a run (it still reads labs.toml and
        // the snapshots from the checkout, where they were compiled).
        fs::create_dir_all(&bins).with_context(|| format!("cannot create `{}`", bins.display()))?;
        // `checks.exe` on Windows, which runs only what ends in `.exe`.
        let checks_bin = bins.join(format!("checks{}", std::env::consts::EXE_SUFFIX));
        fs::copy(&built, &checks_bin)
            .with_context(|| format!("cannot copy `{}`", built.display()))?;
        Ok(Grader {
            root: root.to_path_buf(),
            checks_bin,
            workspace,
            limits,
            bins,
        })
    }

    /// The instructor's files the checks of `labs` read, as they are now.
    pub fn seal(&self, labs: &[&Lab]) -> KitSeal {
        KitSeal::take(&self.root, labs, &self.checks_bin)
    }

    /// Grades every student on every lab, calling `on_done` as each
    /// finishes; returns the grades lab by lab, students in order.
    pub fn grade(
        &self,
        labs: &[&Lab],
        students: &[Student],
        jobs: usize,
        on_done: impl Fn(&LabGrade) + Sync,
    ) -> Vec<LabGrade> {
        let (queue, waiting) = mpsc::channel::<Job<'_>>();
        let waiting = Mutex::new(waiting);
        let done = Mutex::new(Vec::new());
        let finish = |grade: LabGrade| {
            on_done(&grade);
            done.lock().unwrap_or_else(|p| p.into_inner()).push(grade);
        };
        std::thread::scope(|scope| {
            for _ in 0..jobs {
                scope.spawn(|| {
                    loop {
                        let job = waiting.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        let Ok(job) = job else { break };
                        finish(self.check(job));
                    }
                });
            }
            for lab in labs {
                let mut warm = None;
                for (index, student) in students.iter().enumerate() {
                    let next = match self.locate(lab, student) {
                        Err(reason) => Next::Done(grade(student, lab, Assessment::Missing(reason))),
                        // The pristine starter first, once per lab and only
                        // if someone submitted it: it compiles the
                        // dependencies and proves the workspace builds.
                        Ok(found) => match warm.get_or_insert_with(|| self.warm_up(lab)) {
                            Ok(()) => self.build(lab, student, found, index),
                            Err(e) => Next::Done(grade(
                                student,
                                lab,
                                Assessment::GraderError(format!("{e:#}")),
                            )),
                        },
                    };
                    match next {
                        Next::Check(job) => {
                            // Only fails when every worker is gone, and
                            // they live as long as this scope.
                            let _ = queue.send(job);
                        }
                        Next::Done(grade) => finish(grade),
                    }
                }
            }
            drop(queue);
        });
        let mut done = done.into_inner().unwrap_or_else(|p| p.into_inner());
        let position = |grade: &LabGrade| {
            let lab = labs.iter().position(|lab| lab.id == grade.lab);
            let student = students.iter().position(|s| s.name == grade.student);
            (lab, student)
        };
        done.sort_by_key(position);
        done
    }

    fn warm_up(&self, lab: &Lab) -> anyhow::Result<()> {
        let manifest = self.workspace.place(lab, None)?;
        let target = build::Target::Manifest {
            path: &manifest,
            target_dir: &self.workspace.target,
        };
        let started = Instant::now();
        match build::build(&self.root, &target, false)? {
            Built::Binary(_) => {
                // The one slow build of a class; the line says where it went.
                println!(
                    "  {:<6} the starter and its dependencies: built in {:.1} s (once per lab)",
                    lab.id,
                    started.elapsed().as_secs_f64()
                );
                Ok(())
            }
            Built::Failed { compiler } => anyhow::bail!(
                "{}'s starter does not build in the grading workspace:\n{compiler}",
                lab.id
            ),
        }
    }

    /// The submission's folder for `lab`, or why there is none.
    fn locate(&self, lab: &Lab, student: &Student) -> Result<(Layout, PathBuf), String> {
        let Some(layout) = student.layout else {
            return Err(student
                .unusable
                .clone()
                .unwrap_or_else(|| overlay::NOT_A_SUBMISSION.to_owned()));
        };
        match overlay::lab_dir(&student.dir, layout, lab) {
            Some(dir) => Ok((layout, dir)),
            None => {
                let folder = format!("{}-{}", lab.id, lab.slug);
                let missing = missing_folder(layout, lab);
                let close = overlay::near_misses(&student.dir, lab);
                Err(if close.is_empty() {
                    missing
                } else {
                    format!(
                        "{missing}, but {} looks like it: rename it `{folder}` to have it graded",
                        overlay::list(&close)
                    )
                })
            }
        }
    }

    /// Places and builds one submission.
    fn build<'a>(
        &self,
        lab: &'a Lab,
        student: &Student,
        (layout, lab_dir): (Layout, PathBuf),
        index: usize,
    ) -> Next<'a> {
        let mut taken = overlay::take(&self.root, lab, &lab_dir, layout);
        // Unique to this checkout (its workspace is locked) and submission.
        let mark = format!("build {} {index}", self.bins.join(&lab.id).display());
        let started = Instant::now();
        let built = self
            .workspace
            .place(lab, Some(&taken))
            .and_then(|manifest| {
                let target = build::Target::Manifest {
                    path: &manifest,
                    target_dir: &self.workspace.target,
                };
                build::build_submission(&self.root, &target, self.limits.build_limit(), &mark)
            });
        let build_secs = started.elapsed().as_secs_f64();
        let left = contain::kill_marked(&mark);
        if !left.is_empty() {
            taken.notes.push(left_running("its build", &left));
        }
        let finished = |verdict| LabGrade {
            build_secs,
            notes: taken.notes.clone(),
            untouched: taken.untouched,
            ..grade(student, lab, verdict)
        };
        match built {
            Err(e) => Next::Done(finished(Assessment::GraderError(format!("{e:#}")))),
            Ok(Built::Failed { compiler }) => {
                Next::Done(finished(Assessment::Judged(Outcome::BuildFailed {
                    compiler,
                })))
            }
            Ok(Built::Binary(path)) => {
                // Copied out before the next build overwrites it.
                let keep = self.bins.join(&lab.id).join(index.to_string());
                let bin = keep.join(path.file_name().unwrap_or_default());
                // Canonical: the checks mark what they start with this
                // path (see `contain`), and they canonicalize it.
                let copied = fs::create_dir_all(&keep)
                    .and_then(|()| fs::copy(&path, &bin))
                    .and_then(|_| fs::canonicalize(&bin));
                match copied {
                    Ok(bin) => Next::Check(Job {
                        lab,
                        student: student.name.clone(),
                        bin,
                        notes: taken.notes.clone(),
                        ignored_kit_files: student.tampered.clone(),
                        untouched: taken.untouched,
                        build_secs,
                    }),
                    Err(e) => Next::Done(finished(Assessment::GraderError(format!(
                        "cannot copy the binary to `{}`: {e}",
                        bin.display()
                    )))),
                }
            }
        }
    }

    fn check(&self, job: Job<'_>) -> LabGrade {
        let options = pipeline::Options {
            start_timeout: self.limits.start_timeout,
            check_timeout: Some(self.limits.per_check(job.lab)),
            // Only a backstop: with each check held to its share, all of
            // them end within `--timeout` (after the server's first start).
            deadline: Some(self.limits.timeout + self.limits.start_timeout + DEADLINE_SLACK),
            colour: false,
        };
        let started = Instant::now();
        let outcome = pipeline::run_checks(&self.checks_bin, &job.bin, job.lab, &options, |_| {});
        let mut notes = job.notes;
        let left = contain::kill_marked(&job.bin.to_string_lossy());
        if !left.is_empty() {
            notes.push(left_running("its checks", &left));
        }
        let verdict = match outcome {
            Ok(outcome) => Assessment::Judged(outcome),
            Err(e) => Assessment::GraderError(format!("{e:#}")),
        };
        // The binary is not needed any more; a class's worth adds up.
        let _ = fs::remove_file(&job.bin);
        LabGrade {
            student: job.student,
            lab: job.lab.id.clone(),
            verdict,
            notes,
            ignored_kit_files: job.ignored_kit_files,
            untouched: job.untouched,
            build_secs: job.build_secs,
            check_secs: started.elapsed().as_secs_f64(),
        }
    }
}

impl Limits {
    /// Refuses limits that would fail every student for the grader's
    /// mistake (a negative or zero timeout).
    fn validate(&self) -> anyhow::Result<()> {
        for (flag, seconds) in [
            ("--timeout", self.timeout),
            ("--check-timeout", self.check_timeout),
            ("--start-timeout", self.start_timeout),
        ] {
            if !(seconds.is_finite() && seconds > 0.0) {
                anyhow::bail!("{flag} must be a positive number of seconds, not {seconds}");
            }
        }
        Ok(())
    }

    /// Seconds one check of `lab` may take: `--check-timeout`, or less, so
    /// that the checks, [`CHECKS_AT_ONCE`] at a time, end within
    /// `--timeout` even if every one of them runs out of time. A slow
    /// submission then loses the checks that were too slow, and keeps the
    /// others; a limit on the whole run would fail every check still
    /// waiting for its turn.
    fn per_check(&self, lab: &Lab) -> f64 {
        let waves = lab.checks.len().max(1).div_ceil(CHECKS_AT_ONCE);
        let share = self.timeout / waves as f64;
        // Tenths: the reasons print it ("no answer within 2.6 s").
        (self.check_timeout.min(share) * 10.0).floor().max(1.0) / 10.0
    }

    fn build_limit(&self) -> Duration {
        Duration::try_from_secs_f64(self.timeout).unwrap_or(Duration::from_secs(120))
    }
}

/// How many checks the checks binary runs side by side
/// (`CONCURRENT_CHECKS` in tests/src/runner.rs).
const CHECKS_AT_ONCE: usize = 4;

/// Seconds the checks binary gets past the time its checks can take before
/// it stops them all (it should never need them).
const DEADLINE_SLACK: f64 = 5.0;

/// The note for processes a submission's programs left running.
fn left_running(after: &str, commands: &[String]) -> String {
    format!(
        "{} process(es) started by this submission's programs were still running after {after} and were killed: {}. \
A program must end everything it starts (a process group or session of its own does not hide it from the grader)",
        commands.len(),
        contain::describe(commands)
    )
}

/// Why `lab` is missing from a submission laid out as `layout`, when
/// nothing there is close to its folder.
pub fn missing_folder(layout: Layout, lab: &Lab) -> String {
    let folder = format!("{}-{}", lab.id, lab.slug);
    match layout {
        Layout::Kit => format!("no labs/{folder} folder in the submission"),
        _ => format!("no {folder} folder in the submission"),
    }
}

fn grade(student: &Student, lab: &Lab, verdict: Assessment) -> LabGrade {
    LabGrade {
        student: student.name.clone(),
        lab: lab.id.clone(),
        verdict,
        notes: Vec::new(),
        ignored_kit_files: student.tampered.clone(),
        untouched: false,
        build_secs: 0.0,
        check_secs: 0.0,
    }
}

/// The note on kit files a student changed (the summary gives it once per
/// student, the feedback once per lab).
pub const TAMPER_NOTE: &str = "these kit files differ from the instructor's copy and were ignored (grading always uses the instructor's checks, snapshots, runner and labs.toml)";
