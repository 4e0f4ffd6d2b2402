//! What the checks binary prints: one JSON [`Event`] per line on stdout, in
//! check order, as each check finishes. The runner renders them; the grader
//! scores them. A run cut short (timeout, crash) still leaves every line
//! printed so far.
//!
//! A check's result is a typed [`Verdict`] from end to end: the runner, the
//! feedback file and `results.json` each render it, and nothing parses
//! rendered text back.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The lab's server did not print `listening on http://…` in time (the
    /// RUN stage). No check ran.
    NeverListened {
        /// What happened: exited with a status, or timed out.
        reason: String,
        /// The last lines the server wrote on stdout and stderr.
        output: String,
    },
    /// One check's verdict.
    Check(CheckResult),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's id from `labs.toml`.
    pub id: String,
    pub verdict: Verdict,
    /// On a failure that the lab's own words explain better than the diff
    /// (it crashed, panicked or timed out): the last lines the programs the
    /// check started wrote, labelled by program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

/// How one check went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// What the lab did is the snapshot.
    Passed,
    /// What the lab did differs from the snapshot.
    Failed(Mismatch),
    /// The check could not observe the lab: it timed out, a connection
    /// dropped, the run's deadline came first. A failure of the lab.
    NotJudged {
        why: String,
        /// The snapshot, to show what was expected.
        expected: Option<String>,
    },
    /// The checks themselves broke: no snapshot, no such check, a check
    /// that panicked, a checks binary that stopped. Not the lab's doing,
    /// but nothing was judged, so it does not pass either.
    RunnerBroke { why: String },
}

/// How an observation differs from its snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// The first snapshot line the observation lacks (or changed), and the
    /// first line the observation has instead; `None` when there is none.
    pub expected: Option<String>,
    pub actual: Option<String>,
    /// A unified diff, `Expected` for the snapshot's side.
    pub diff: Vec<DiffLine>,
}

/// One line of a unified diff, without its sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffLine {
    /// `@@ -1,3 +1,3 @@`
    Hunk(String),
    Same(String),
    /// Only in the snapshot (`-`).
    Expected(String),
    /// Only in the observation (`+`).
    Actual(String),
}

impl CheckResult {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Passed
    }

    /// A check that failed without observing anything: it never ran to the
    /// end (a deadline, a timeout).
    pub fn not_judged(id: impl Into<String>, why: impl Into<String>) -> CheckResult {
        CheckResult {
            id: id.into(),
            verdict: Verdict::NotJudged {
                why: why.into(),
                expected: None,
            },
            output: None,
        }
    }

    /// A check the checks could not run (see [`Verdict::RunnerBroke`]).
    pub fn runner_broke(id: impl Into<String>, why: impl Into<String>) -> CheckResult {
        CheckResult {
            id: id.into(),
            verdict: Verdict::RunnerBroke { why: why.into() },
            output: None,
        }
    }
}

impl DiffLine {
    /// The line as a unified diff writes it: `-`, `+` or ` ` and the text,
    /// or the hunk header.
    pub fn unified(&self) -> String {
        match self {
            DiffLine::Hunk(header) => header.clone(),
            DiffLine::Same(text) => format!(" {text}"),
            DiffLine::Expected(text) => format!("-{text}"),
            DiffLine::Actual(text) => format!("+{text}"),
        }
    }
}

impl Event {
    /// Parses one output line; `None` for lines that are not events.
    pub fn parse(line: &str) -> Option<Event> {
        serde_json::from_str(line).ok()
    }

    pub fn to_line(&self) -> String {
        // An enum of strings and numbers always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_survives_the_wire() {
        let events = [
            Event::Check(CheckResult {
                id: "a".into(),
                verdict: Verdict::Passed,
                output: None,
            }),
            Event::Check(CheckResult {
                id: "b".into(),
                verdict: Verdict::Failed(Mismatch {
                    expected: Some("status: 401".into()),
                    actual: None,
                    diff: vec![
                        DiffLine::Hunk("@@ -1 +0,0 @@".into()),
                        DiffLine::Expected("status: 401".into()),
                    ],
                }),
                output: Some("server (panicked):\n  at src/auth.rs\n".into()),
            }),
            Event::Check(CheckResult::not_judged("c", "no answer within 1 s")),
            Event::Check(CheckResult::runner_broke("d", "no snapshot")),
            Event::NeverListened {
                reason: "exited".into(),
                output: String::new(),
            },
        ];
        for event in events {
            assert_eq!(Event::parse(&event.to_line()), Some(event));
        }
    }
}
