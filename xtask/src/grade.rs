//! `cargo xtask grade`: every student's submission, every lab asked for,
//! judged against the instructor's checks (see [`overlay`] for what is
//! taken from a submission), then the reports ([`grades`]).
//!
//! The pipeline: builds run one at a time in the shared scratch workspace
//! (they must: see the invariant in [`crate::workspace`]); each built binary is
//! copied out and its checks run on a worker thread while the next
//! submission builds.
//!
//! **Invariant:** a student's failure is data. Only the grader's own
//! trouble (a lab whose starter does not build, a disk that is full) is an
//! `Err`, and even that is recorded per submission so that the other
//! students are still graded and every report is written.

use std::{
    fs,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::{Mutex, mpsc},
    time::{Duration, Instant},
};

use anyhow::Context;
use labs_meta::{Catalog, Lab};

use crate::{
    build::{self, Built},
    check::{self, Outcome},
    grades,
    overlay::{self, Layout},
    workspace::{KitSeal, Workspace},
};

#[derive(clap::Args)]
pub struct GradeArgs {
    /// A folder with one sub-folder per student: a copy of the kit, or the
    /// contents of its labs/ folder.
    pub submissions: PathBuf,
    /// Grade this lab only, e.g. lab1.
    #[arg(long, conflicts_with = "all")]
    pub lab: Option<String>,
    /// Grade every lab in labs.toml (the default).
    #[arg(long)]
    pub all: bool,
    /// Where the reports go.
    #[arg(long, default_value = "grades", value_name = "DIR")]
    pub out: PathBuf,
    /// Submissions whose checks run at the same time (each also overlaps
    /// the next build).
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub jobs: usize,
    #[command(flatten)]
    pub limits: Limits,
}

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
    /// Kit files the student changed, which grading ignored.
    pub tampered: Vec<String>,
}

/// One student's result for one lab.
pub struct LabGrade {
    pub student: String,
    pub lab: String,
    pub verdict: Verdict,
    /// Files ignored, manifest changes: what the student should know.
    pub notes: Vec<String>,
    pub build_secs: f64,
    pub check_secs: f64,
}

pub enum Verdict {
    /// Built and run: the same outcome `cargo xtask check` reports.
    Judged(Outcome),
    /// The submission has nothing for this lab.
    Missing(String),
    /// The grader could not grade this one (not the student's fault).
    GraderError(String),
}

pub fn run(root: &Path, catalog: &Catalog, args: &GradeArgs) -> anyhow::Result<ExitCode> {
    let labs: Vec<&Lab> = match &args.lab {
        Some(id) => vec![crate::find_lab(catalog, id)?],
        None => catalog.labs.iter().collect(),
    };
    let started = Instant::now();
    let students = discover(root, &args.submissions, &labs)?;
    if students.is_empty() {
        anyhow::bail!(
            "`{}` has no sub-folders: put one folder per student in it",
            args.submissions.display()
        );
    }
    println!(
        "Grading {} submission(s) of {} in `{}`",
        students.len(),
        labs.iter()
            .map(|lab| lab.id.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        args.submissions.display()
    );
    if root.join("solutions").is_dir() {
        eprintln!("{SOLUTIONS_PRESENT}");
    }
    let grader = Grader::new(root, args.limits.clone())?;
    let seal = grader.seal(&labs);
    let out = &args.out;
    let results = grader.grade(&labs, &students, args.jobs.max(1), |grade| {
        println!("{}", grades::progress_line(catalog, grade));
        // Written as each one finishes: an interrupted run keeps them.
        if let Err(e) = grades::write_student(out, catalog, grade) {
            eprintln!("error: {e:#}");
        }
    });
    let elapsed = started.elapsed();
    let kit_changed = grader.seal(&labs) != seal;
    grades::write_reports(out, &labs, &students, &results, elapsed, kit_changed)?;
    println!(
        "\nGraded in {:.0} s; reports in `{}` (summary.md, grades.csv, grades.json, students/)",
        elapsed.as_secs_f64(),
        out.display()
    );
    let failed = results
        .iter()
        .any(|grade| matches!(grade.verdict, Verdict::GraderError(_)));
    if failed {
        eprintln!("error: the grader could not grade some submissions; see summary.md");
    }
    if kit_changed {
        eprintln!("error: {}", grades::KIT_CHANGED);
    }
    Ok(if failed || kit_changed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Every sub-folder of `dir` is a student, named after it, in name order.
pub fn discover(root: &Path, dir: &Path, labs: &[&Lab]) -> anyhow::Result<Vec<Student>> {
    let entries = fs::read_dir(dir).with_context(|| format!("cannot read `{}`", dir.display()))?;
    let mut students = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.path().is_dir() {
            continue;
        }
        students.push(student(root, name, entry.path(), labs));
    }
    students.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(students)
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
    Student {
        name,
        dir,
        layout,
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
    build_secs: f64,
}

impl Grader {
    /// Builds the instructor's checks and prepares the scratch workspace.
    pub fn new(root: &Path, limits: Limits) -> anyhow::Result<Grader> {
        limits.validate()?;
        let built = match build::build(root, &build::Target::Package("checks"), false)? {
            Built::Binary(path) => path,
            Built::Failed { compiler } => {
                anyhow::bail!("the kit's checks crate does not build:\n{compiler}")
            }
        };
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
        let checks_bin = bins.join("checks");
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
                        Err(reason) => Next::Done(grade(student, lab, Verdict::Missing(reason))),
                        // The pristine starter first, once per lab and only
                        // if someone submitted it: it compiles the
                        // dependencies and proves the workspace builds.
                        Ok(found) => match warm.get_or_insert_with(|| self.warm_up(lab)) {
                            Ok(()) => self.build(lab, student, found, index),
                            Err(e) => Next::Done(grade(
                                student,
                                lab,
                                Verdict::GraderError(format!("{e:#}")),
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
            return Err(overlay::NOT_A_SUBMISSION.to_owned());
        };
        match overlay::lab_dir(&student.dir, layout, lab) {
            Some(dir) => Ok((layout, dir)),
            None => {
                let folder = format!("{}-{}", lab.id, lab.slug);
                Err(match layout {
                    Layout::Kit => format!("no labs/{folder} folder in the submission"),
                    _ => format!("no {folder} folder in the submission"),
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
        if !student.tampered.is_empty() {
            taken.notes.push(format!(
                "these kit files differ from the instructor's copy and were ignored (grading always uses the instructor's checks, snapshots, runner and labs.toml): {}",
                overlay::list(&student.tampered)
            ));
        }
        let started = Instant::now();
        let built = self
            .workspace
            .place(lab, Some(&taken))
            .and_then(|manifest| {
                let target = build::Target::Manifest {
                    path: &manifest,
                    target_dir: &self.workspace.target,
                };
                build::build_submission(&self.root, &target, self.limits.build_limit())
            });
        let build_secs = started.elapsed().as_secs_f64();
        let finished = |verdict| LabGrade {
            build_secs,
            notes: taken.notes.clone(),
            ..grade(student, lab, verdict)
        };
        match built {
            Err(e) => Next::Done(finished(Verdict::GraderError(format!("{e:#}")))),
            Ok(Built::Failed { compiler }) => {
                Next::Done(finished(Verdict::Judged(Outcome::BuildFailed { compiler })))
            }
            Ok(Built::Binary(path)) => {
                // Copied out before the next build overwrites it.
                let keep = self.bins.join(&lab.id).join(index.to_string());
                let bin = keep.join(path.file_name().unwrap_or_default());
                let copied = fs::create_dir_all(&keep).and_then(|()| fs::copy(&path, &bin));
                match copied {
                    Ok(_) => Next::Check(Job {
                        lab,
                        student: student.name.clone(),
                        bin,
                        notes: taken.notes.clone(),
                        build_secs,
                    }),
                    Err(e) => Next::Done(finished(Verdict::GraderError(format!(
                        "cannot copy the binary to `{}`: {e}",
                        bin.display()
                    )))),
                }
            }
        }
    }

    fn check(&self, job: Job<'_>) -> LabGrade {
        let options = check::Options {
            start_timeout: self.limits.start_timeout,
            check_timeout: Some(self.limits.check_timeout),
            deadline: Some(self.limits.timeout),
            colour: false,
        };
        let started = Instant::now();
        let outcome = check::run_checks(&self.checks_bin, &job.bin, job.lab, &options, |_| {});
        let verdict = match outcome {
            Ok(outcome) => Verdict::Judged(outcome),
            Err(e) => Verdict::GraderError(format!("{e:#}")),
        };
        // The binary is not needed any more; a class's worth adds up.
        let _ = fs::remove_file(&job.bin);
        LabGrade {
            student: job.student,
            lab: job.lab.id.clone(),
            verdict,
            notes: job.notes,
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

    fn build_limit(&self) -> Duration {
        Duration::try_from_secs_f64(self.timeout).unwrap_or(Duration::from_secs(120))
    }
}

fn grade(student: &Student, lab: &Lab, verdict: Verdict) -> LabGrade {
    LabGrade {
        student: student.name.clone(),
        lab: lab.id.clone(),
        verdict,
        notes: Vec::new(),
        build_secs: 0.0,
        check_secs: 0.0,
    }
}

const SOLUTIONS_PRESENT: &str = "note: this checkout has solutions/, and a submission's code runs with your rights: it could read them. \
For marks that count, grade in a container from a copy without them (docs/grading.md#limits-this-is-not-a-sandbox).";
