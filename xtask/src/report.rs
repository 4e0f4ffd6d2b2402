//! Rendering a check run: the checklist, the first failure explained, the
//! score. The same text goes to the terminal (live, as checks finish) and
//! into grading feedback files.
//!
//! **Invariant:** nothing here runs a process or reads the lab.

use labs_meta::{
    Lab,
    report::{CheckResult, Event},
};

use crate::{
    check::{Outcome, Progress},
    style,
};

/// Prints the checklist as a run progresses.
pub struct Live<'a> {
    lab: &'a Lab,
    package: String,
    checks_started: bool,
}

impl<'a> Live<'a> {
    pub fn new(lab: &'a Lab) -> Live<'a> {
        print!("{}", header(lab));
        Live {
            lab,
            package: lab.id.clone(),
            checks_started: false,
        }
    }

    pub fn event(&mut self, progress: Progress<'_>) {
        match progress {
            Progress::Building(package) => self.package = package.to_owned(),
            Progress::Built => print!("{}", build_ok(&self.package)),
            Progress::Event(Event::Check(result)) => {
                if !self.checks_started {
                    self.checks_started = true;
                    print!("{}", run_ok());
                }
                print!("{}", check_line(self.lab, result));
            }
            Progress::Event(Event::NeverListened { .. }) => {}
        }
    }

    pub fn finish(&self, outcome: &Outcome) {
        print!("{}", tail(self.lab, &self.package, outcome));
    }
}

/// The whole report at once (for feedback files).
pub fn render(lab: &Lab, package: &str, outcome: &Outcome) -> String {
    let mut out = header(lab);
    if !matches!(outcome, Outcome::BuildFailed { .. }) {
        out.push_str(&build_ok(package));
    }
    if let Outcome::Checked(results) = outcome {
        out.push_str(&run_ok());
        for result in results {
            out.push_str(&check_line(lab, result));
        }
    }
    out.push_str(&tail(lab, package, outcome));
    out
}

fn header(lab: &Lab) -> String {
    format!(
        "{}\n\n",
        style::bold(&format!("{} · {}", lab.id, lab.title))
    )
}

fn build_ok(package: &str) -> String {
    format!("BUILD  {} `{package}` compiles\n", style::green("✓"))
}

fn run_ok() -> String {
    format!(
        "RUN    {} the server started and is listening\nCHECK\n",
        style::green("✓")
    )
}

fn check_line(lab: &Lab, result: &CheckResult) -> String {
    let title = lab
        .checks
        .iter()
        .find(|check| check.id == result.id)
        .map_or(result.id.as_str(), |check| check.title.as_str());
    let mark = if result.passed {
        style::green("✓")
    } else {
        style::red("✗")
    };
    format!("  {mark} {title}\n")
}

fn tail(lab: &Lab, package: &str, outcome: &Outcome) -> String {
    let total = lab.checks.len();
    let mut out = String::new();
    match outcome {
        Outcome::BuildFailed { compiler } => {
            out.push_str(&format!(
                "BUILD  {} `{package}` does not compile:\n\n{}\n",
                style::red("✗"),
                compiler.trim_end()
            ));
            out.push_str(&format!(
                "\n0/{total} checks passed: fix the compile error first.\n"
            ));
        }
        Outcome::NeverListened { reason, output } => {
            out.push_str(&format!("RUN    {} {reason}\n", style::red("✗")));
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
            if let Some(first) = results.iter().find(|result| !result.passed) {
                out.push_str(&explain(lab, first));
            }
            out.push_str(&format!("\n{passed}/{total} checks passed\n"));
            if passed == total {
                out.push_str(&format!(
                    "Well done. Your files beside the reference's: `cargo xtask diff {}`; then read \"Going further\" in {}.\n",
                    lab.id,
                    lab.docs_page()
                ));
            }
        }
    }
    out
}

/// The first failing check: what was expected, what happened, what to do.
fn explain(lab: &Lab, result: &CheckResult) -> String {
    let Some(check) = lab.checks.iter().find(|check| check.id == result.id) else {
        return String::new();
    };
    let mut out = format!(
        "\n{} {}\n",
        style::red("First failure:"),
        style::bold(&check.title)
    );
    if let Some(diff) = &result.diff {
        out.push_str(&format!(
            "  expected ({}) vs actual ({}):\n",
            style::red("-"),
            style::green("+")
        ));
        for line in diff
            .lines()
            .filter(|line| !line.starts_with("---") && !line.starts_with("+++"))
        {
            let line = match line.chars().next() {
                Some('-') => style::red(line),
                Some('+') => style::green(line),
                _ => line.to_owned(),
            };
            out.push_str(&format!("    {line}\n"));
        }
    } else if let Some(error) = &result.error {
        out.push_str(&format!("  could not check: {error}\n"));
        if let Some(expected) = &result.expected {
            out.push_str("  expected:\n");
            for line in expected.lines() {
                out.push_str(&format!("    {line}\n"));
            }
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
