//! What a check run found, stage by stage: the types the pipeline
//! ([`crate::pipeline`]) returns and everything above it renders, records
//! and scores.

use labs_meta::report::{CheckResult, Event};

/// The verdict of one `check` run.
pub enum Outcome {
    /// BUILD: the lab does not compile.
    BuildFailed { compiler: String },
    /// RUN: the server never announced `listening on`.
    NeverListened { reason: String, output: String },
    /// CHECK: one result per check, in catalogue order.
    Checked(Vec<CheckResult>),
}

impl Outcome {
    pub fn passed(&self) -> usize {
        match self {
            Outcome::Checked(results) => results.iter().filter(|r| r.passed()).count(),
            _ => 0,
        }
    }
}

/// Steps of a run, for the live checklist.
pub enum Step<'a> {
    Building(&'a str),
    Built,
    Event(&'a Event),
}
