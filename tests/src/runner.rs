//! Runs a lab's checks in order and judges each against its snapshot.

use std::{
    collections::VecDeque,
    path::PathBuf,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use insta::internals::TextSnapshotContents;
use labs_meta::report::{CheckResult, DiffLine, Event, Mismatch, Verdict};
use similar::{ChangeTag, udiff::UnifiedHunkHeader};
use tokio::sync::oneshot;

use crate::{
    CheckFn, LabBinary,
    harness::{NeverListened, Started},
};

/// How many checks run at once. Most of a check's time is spent waiting
/// for a lab's server, so a few side by side cost little even on two cores.
const CONCURRENT_CHECKS: usize = 4;

/// How many of each program's last lines a failure shows.
const OUTPUT_LINES: usize = 12;

/// How long one check may take before it counts as failed, unless the
/// caller says otherwise (the grader uses less: a class of hanging handlers
/// would otherwise cost half a minute per check).
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a check's snapshot lives: `tests/snapshots/<lab>/<check>.snap`.
pub fn snapshot_dir(lab: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("snapshots")
        .join(lab)
}

/// Runs the `ids` of `lab` (already in order) against `bin`, handing each
/// event to `emit` as soon as it is known. First the RUN stage: when the
/// server does not come up, that is the only event.
pub async fn run(lab: &str, bin: &LabBinary, ids: &[String], emit: impl FnMut(Event)) {
    run_with(lab, bin, ids, CHECK_TIMEOUT, emit).await;
}

/// [`run`], with `check_timeout` for each check instead of [`CHECK_TIMEOUT`].
pub async fn run_with(
    lab: &str,
    bin: &LabBinary,
    ids: &[String],
    check_timeout: Duration,
    mut emit: impl FnMut(Event),
) {
    let started = match crate::prerequisites(lab).await {
        Ok(needs) => {
            let args: Vec<&str> = needs.args.iter().map(String::as_str).collect();
            bin.start_server_with(&args, &[]).await
        }
        Err(e) => Err(e),
    };
    match started {
        Ok(server) => drop(server),
        Err(e) => {
            let event = match e.downcast::<NeverListened>() {
                Ok(never) => Event::NeverListened {
                    reason: never.reason,
                    output: never.output,
                },
                Err(e) => Event::NeverListened {
                    reason: format!("{e:#}"),
                    output: String::new(),
                },
            };
            emit(event);
            return;
        }
    }
    // Every check starts its own servers, so they can run side by side; the
    // verdicts still come out in catalogue order, so the first failure is
    // the first in the lab's order, whatever finished first.
    let checks = crate::checks_of(lab).unwrap_or_default();
    let mut verdicts = Vec::with_capacity(ids.len());
    let mut queue = Vec::with_capacity(ids.len());
    for id in ids {
        let check = checks.iter().find(|(name, _)| name == id).map(|(_, f)| *f);
        let (done, verdict) = oneshot::channel();
        verdicts.push((id.clone(), verdict));
        queue.push((id.clone(), check, done));
    }
    // The checks that mostly wait start first, so that their waits overlap
    // the others instead of ending the run (a stable sort: the rest keep
    // their order).
    let first = crate::started_first(lab);
    queue.sort_by_key(|(id, ..)| {
        first
            .iter()
            .position(|slow| slow == id)
            .unwrap_or(first.len())
    });
    let queue = Arc::new(Mutex::new(VecDeque::from(queue)));
    for _ in 0..CONCURRENT_CHECKS {
        let (queue, lab, bin) = (queue.clone(), lab.to_owned(), bin.clone());
        tokio::spawn(async move {
            loop {
                let next = queue
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .pop_front();
                let Some((id, check, done)) = next else {
                    break;
                };
                // A task of its own: a check that panics is a verdict, not a
                // lost worker.
                let (lab, bin, check_id) = (lab.clone(), bin.clone(), id.clone());
                let result = tokio::spawn(async move {
                    run_one(&lab, &check_id, check, &bin, check_timeout).await
                })
                .await
                .unwrap_or_else(|e| {
                    CheckResult::runner_broke(id, format!("the check itself failed: {e}"))
                });
                let _ = done.send(result);
            }
        });
    }
    for (id, verdict) in verdicts {
        let result = verdict.await.unwrap_or_else(|_| {
            CheckResult::runner_broke(id, "the checks stopped before this one".to_owned())
        });
        emit(Event::Check(result));
    }
}

async fn run_one(
    lab: &str,
    id: &str,
    check: Option<CheckFn>,
    bin: &LabBinary,
    timeout: Duration,
) -> CheckResult {
    let Some(check) = check else {
        return CheckResult::runner_broke(
            id,
            format!("the checks crate has no check `{id}` for {lab}"),
        );
    };
    let programs = Started::default();
    let observed = match tokio::time::timeout(timeout, programs.record(check(bin))).await {
        Ok(Ok(observation)) => Ok(observation),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(_) => Err(format!(
            "no answer within {} s (is a handler stuck?)",
            timeout.as_secs_f32()
        )),
    };
    let verdict = match (observed, load_snapshot(lab, id)) {
        (Err(why), expected) => Verdict::NotJudged {
            why,
            expected: expected.ok(),
        },
        (Ok(_), Err(why)) => Verdict::RunnerBroke { why },
        (Ok(actual), Ok(expected)) => {
            let actual = normalize(&actual);
            if actual == expected {
                Verdict::Passed
            } else {
                Verdict::Failed(mismatch(&expected, &actual))
            }
        }
    };
    let output = match &verdict {
        Verdict::Passed | Verdict::RunnerBroke { .. } => None,
        Verdict::Failed(_) => own_words(&programs, false),
        Verdict::NotJudged { .. } => own_words(&programs, true),
    };
    CheckResult {
        id: id.to_owned(),
        verdict,
        output,
    }
}

/// What the lab's programs said themselves, for a failed check: every
/// program's last lines when the check could not observe anything (a
/// dropped connection, a timeout), else only those of a program that
/// panicked, since a wrong answer is already in the diff.
fn own_words(programs: &Started, could_not_observe: bool) -> Option<String> {
    let mut out = String::new();
    for (what, output) in programs.programs() {
        let lines = output.lines();
        let panic = lines.iter().position(|line| line.contains("panicked at"));
        if lines.is_empty() || !(could_not_observe || panic.is_some()) {
            continue;
        }
        // The first panic's message and location, else the last lines.
        let tail = match panic {
            Some(at) => {
                let end = lines[at..]
                    .iter()
                    .position(|line| line.trim().is_empty())
                    .map_or(lines.len(), |blank| at + blank);
                &lines[at..end.min(at + OUTPUT_LINES)]
            }
            None => &lines[lines.len().saturating_sub(OUTPUT_LINES)..],
        };
        let label = if panic.is_some() {
            "panicked"
        } else {
            "last lines"
        };
        out.push_str(&format!("{what} ({label}):\n"));
        for line in tail {
            out.push_str(&format!("  {}\n", crate::redact::ports(line)));
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The snapshot's contents, normalized as insta compares them.
pub fn load_snapshot(lab: &str, id: &str) -> Result<String, String> {
    let path = snapshot_dir(lab).join(format!("{id}.snap"));
    let snapshot = insta::Snapshot::from_file(&path).map_err(|e| {
        format!(
            "no usable snapshot at `{}` ({e}); maintainers record it with `cargo insta test -p checks --test suite` and `cargo insta review`",
            path.display()
        )
    })?;
    snapshot
        .as_text()
        .map(ToString::to_string)
        .ok_or_else(|| format!("`{}` is not a text snapshot", path.display()))
}

/// An observation normalized as insta normalizes file snapshots (trailing
/// whitespace trimmed, CRLF → LF), so "equal" means what insta means.
pub fn normalize(observation: &str) -> String {
    TextSnapshotContents::new(observation.to_owned(), insta::TextSnapshotKind::File).to_string()
}

/// How `actual` differs from `expected`: the first line on each side, and
/// a unified diff with 3 lines of context.
pub fn mismatch(expected: &str, actual: &str) -> Mismatch {
    // Both end in a newline, so the diff has no "No newline at end of file".
    let (expected, actual) = (format!("{expected}\n"), format!("{actual}\n"));
    let text = similar::TextDiff::from_lines(&expected, &actual);
    let mut diff = Vec::new();
    for ops in text.grouped_ops(3) {
        diff.push(DiffLine::Hunk(UnifiedHunkHeader::new(&ops).to_string()));
        for op in &ops {
            for change in text.iter_changes(op) {
                let line = change.value().trim_end_matches('\n').to_owned();
                diff.push(match change.tag() {
                    ChangeTag::Equal => DiffLine::Same(line),
                    ChangeTag::Delete => DiffLine::Expected(line),
                    ChangeTag::Insert => DiffLine::Actual(line),
                });
            }
        }
    }
    let first = |side: fn(&DiffLine) -> Option<&String>| diff.iter().find_map(side).cloned();
    Mismatch {
        expected: first(|line| match line {
            DiffLine::Expected(text) => Some(text),
            _ => None,
        }),
        actual: first(|line| match line {
            DiffLine::Actual(text) => Some(text),
            _ => None,
        }),
        diff,
    }
}
