//! What the checks binary prints: one JSON [`Event`] per line on stdout, in
//! check order, as each check finishes. The runner renders them; the grader
//! scores them. A run cut short (timeout, crash) still leaves every line
//! printed so far.

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
    pub passed: bool,
    /// The snapshot's contents, when there is one.
    pub expected: Option<String>,
    /// What the lab did, rendered like the snapshot.
    pub actual: Option<String>,
    /// A unified diff of expected against actual, for a mismatch.
    pub diff: Option<String>,
    /// Why the check could not observe anything (timeout, crash, …).
    pub error: Option<String>,
    /// On a failure that the lab's own words explain better than the diff
    /// (it crashed, panicked or timed out): the last lines the programs the
    /// check started wrote, labelled by program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    pub millis: u64,
}

impl CheckResult {
    /// A check that failed without observing anything: it never ran to the
    /// end (a deadline, the checks binary stopped, the check itself broke).
    pub fn not_observed(id: impl Into<String>, error: impl Into<String>) -> CheckResult {
        CheckResult {
            id: id.into(),
            passed: false,
            expected: None,
            actual: None,
            diff: None,
            error: Some(error.into()),
            output: None,
            millis: 0,
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
