//! Rendering a check run: the checklist, the first failure explained, the
//! score. The same text goes to the terminal (live, as checks finish) and
//! into grading feedback files.
//!
//! **Invariant:** nothing here runs a process or reads the lab.

use labs_meta::{
    Lab,
    report::{CheckResult, DiffLine, Event, Verdict},
};

use crate::{
    outcome::{Outcome, Step},
    style::Style,
};

/// Who reads a report, which decides where it sends them next.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// A student at their checkout, where `cargo xtask diff` shows the
    /// reference's files.
    Checkout,
    /// A graded student's feedback file: no reference to compare with.
    Graded,
}

/// Prints the checklist as a run progresses.
pub struct Live<'a> {
    lab: &'a Lab,
    style: Style,
    package: String,
    checks_started: bool,
}

impl<'a> Live<'a> {
    pub fn new(lab: &'a Lab, style: Style) -> Live<'a> {
        print!("{}", header(lab, style));
        Live {
            lab,
            style,
            package: lab.id.clone(),
            checks_started: false,
        }
    }

    pub fn step(&mut self, step: Step<'_>) {
        match step {
            Step::Building(package) => self.package = package.to_owned(),
            Step::Built => print!("{}", build_ok(&self.package, self.style)),
            Step::Event(Event::Check(result)) => {
                if !self.checks_started {
                    self.checks_started = true;
                    print!("{}", run_ok(self.style));
                }
                print!("{}", check_line(self.lab, result, self.style));
            }
            Step::Event(Event::NeverListened { .. }) => {}
        }
    }

    pub fn finish(&self, outcome: &Outcome) {
        print!(
            "{}",
            tail(
                self.lab,
                &self.package,
                outcome,
                self.style,
                Reader::Checkout
            )
        );
    }
}

/// The whole report at once (for feedback files).
pub fn render(lab: &Lab, package: &str, outcome: &Outcome, style: Style, reader: Reader) -> String {
    let mut out = header(lab, style);
    if !matches!(outcome, Outcome::BuildFailed { .. }) {
        out.push_str(&build_ok(package, style));
    }
    if let Outcome::Checked(results) = outcome {
        out.push_str(&run_ok(style));
        for result in results {
            out.push_str(&check_line(lab, result, style));
        }
    }
    out.push_str(&tail(lab, package, outcome, style, reader));
    out
}

fn header(lab: &Lab, style: Style) -> String {
    format!("{}\n\n", style.bold(&format!("{} · {}", lab.id, lab.title)))
}

fn build_ok(package: &str, style: Style) -> String {
    format!("BUILD  {} `{package}` compiles\n", style.green("✓"))
}

fn run_ok(style: Style) -> String {
    format!(
        "RUN    {} the server started and is listening\nCHECK\n",
        style.green("✓")
    )
}

fn check_line(lab: &Lab, result: &CheckResult, style: Style) -> String {
    let title = lab
        .checks
        .iter()
        .find(|check| check.id == result.id)
        .map_or(result.id.as_str(), |check| check.title.as_str());
    let mark = if result.passed() {
        style.green("✓")
    } else {
        style.red("✗")
    };
    format!("  {mark} {title}\n")
}

fn tail(lab: &Lab, package: &str, outcome: &Outcome, style: Style, reader: Reader) -> String {
    let total = lab.checks.len();
    let mut out = String::new();
    match outcome {
        Outcome::BuildFailed { compiler } => {
            out.push_str(&format!(
                "BUILD  {} `{package}` does not compile:\n\n{}\n",
                style.red("✗"),
                compiler.trim_end()
            ));
            out.push_str(&format!(
                "\n0/{total} checks passed: fix the compile error first.\n"
            ));
        }
        Outcome::NeverListened { reason, output } => {
            out.push_str(&format!("RUN    {} {reason}\n", style.red("✗")));
            if !output.trim().is_empty() {
                out.push_str("  its last output:\n");
                for line in output.lines() {
                    out.push_str(&format!("    {line}\n"));
                }
            }
            out.push_str(&format!(
                "  `{package} server --addr 127.0.0.1:0` must bind, then print `listening on http://HOST:PORT` as its first line on stdout.\n"
            ));
            out.push_str(&format!(
                "\n0/{total} checks passed: the server has to start first.\n"
            ));
        }
        Outcome::Checked(results) => {
            let passed = outcome.passed();
            if let Some(first) = results.iter().find(|result| !result.passed()) {
                out.push_str(&explain(lab, first, style));
            }
            out.push_str(&format!("\n{passed}/{total} checks passed\n"));
            match reader {
                _ if passed < total => {}
                Reader::Checkout => out.push_str(&format!(
                    "Well done. Your files beside the reference's: `cargo xtask diff {}`; then read \"Going further\" in {}.\n",
                    lab.id,
                    lab.docs_page()
                )),
                Reader::Graded => out.push_str(&format!(
                    "Well done. Read \"Going further\" in {}.\n",
                    lab.docs_page()
                )),
            }
        }
    }
    out
}

/// The first failing check: what was expected, what happened, what to do.
fn explain(lab: &Lab, result: &CheckResult, style: Style) -> String {
    let Some(check) = lab.checks.iter().find(|check| check.id == result.id) else {
        return String::new();
    };
    let mut out = format!(
        "\n{} {}\n",
        style.red("First failure:"),
        style.bold(&check.title)
    );
    match &result.verdict {
        Verdict::Passed => {}
        Verdict::Failed(mismatch) => {
            out.push_str(&format!(
                "  expected ({}) vs actual ({}):\n",
                style.red("-"),
                style.green("+")
            ));
            for line in &mismatch.diff {
                let text = line.unified();
                let text = match line {
                    DiffLine::Expected(_) => style.red(&text),
                    DiffLine::Actual(_) => style.green(&text),
                    DiffLine::Hunk(_) | DiffLine::Same(_) => text,
                };
                out.push_str(&format!("    {text}\n"));
            }
        }
        Verdict::NotJudged { why, expected } => {
            out.push_str(&format!("  could not check: {why}\n"));
            if let Some(expected) = expected {
                out.push_str("  expected:\n");
                for line in expected.lines() {
                    out.push_str(&format!("    {line}\n"));
                }
            }
        }
        Verdict::RunnerBroke { why } => {
            out.push_str(&format!("  could not check: {why}\n"));
        }
    }
    if let Some(output) = &result.output {
        out.push_str("  what your program printed:\n");
        for line in output.lines() {
            out.push_str(&format!("    {line}\n"));
        }
    }
    out.push_str(&format!("  hint: {}\n", check.hint));
    out.push_str(&format!("  read: {}#{}\n", lab.docs_page(), check.docs));
    out.push_str(&format!("  more: cargo xtask hint {}\n", lab.id));
    out
}

pub fn print_hint(lab: &Lab, level: usize) {
    let count = lab.hints.len();
    let level = level.clamp(1, count);
    println!("{} · hint {level}/{count}", lab.id);
    println!("{}", lab.hints[level - 1]);
    if level < count {
        println!(
            "\nStill stuck? `cargo xtask hint {} --level {}` is more concrete.",
            lab.id,
            level + 1
        );
    } else {
        println!(
            "\nThat was the last hint; the walkthrough is {}.",
            lab.docs_page()
        );
    }
}
