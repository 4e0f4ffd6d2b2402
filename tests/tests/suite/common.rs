//! Helpers shared by the suite's modules.

use std::{collections::HashMap, path::PathBuf, sync::Mutex, time::Duration};

use checks::{LabBinary, runner};
use labs_meta::{
    Catalog, Lab,
    report::{CheckResult, Event},
};

/// The catalogue, as the runner reads it.
pub fn catalog() -> Catalog {
    Catalog::load(&checks::repo_root().join("labs.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// Builds a workspace binary (once per test run) and returns its path.
pub fn binary(package: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    let built = built.get_or_insert_with(HashMap::new);
    if let Some(path) = built.get(package) {
        return path.clone();
    }
    let run = escargot::CargoBuild::new()
        .manifest_path(checks::repo_root().join("Cargo.toml"))
        .package(package)
        .bin(package)
        .run()
        .unwrap_or_else(|e| panic!("cannot build `{package}`: {e}"));
    let path = run.path().to_path_buf();
    built.insert(package.to_owned(), path.clone());
    path
}

/// `package`'s binary, built if needed, as the checks run it.
///
/// Its servers get 30 s to start instead of a student's 10: the suite runs
/// labs side by side with the planted mistakes' builds on two cores, and
/// it judges behaviour, not start-up speed.
pub fn lab_binary(package: &str) -> LabBinary {
    let mut bin = LabBinary::new(binary(package));
    bin.start_timeout = Duration::from_secs(30);
    bin
}

/// Runs every check of `lab` against its solution and asserts each
/// observation with insta, so a changed behaviour shows up as a snapshot
/// to review (`cargo insta review`).
pub async fn assert_solution_matches_snapshots(lab: String) {
    let bin = lab_binary(&format!("{lab}-solution"));
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(runner::snapshot_dir(&lab));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    // Bound to this future, not to the thread: labs run side by side.
    settings
        .bind_async(async {
            let checks = checks::checks_of(&lab).unwrap_or_else(|| panic!("no checks for {lab}"));
            for (id, check) in checks {
                let observation = check(&bin)
                    .await
                    .unwrap_or_else(|e| panic!("{lab}/{id} could not observe the solution: {e:#}"));
                insta::assert_snapshot!(id, observation);
            }
        })
        .await;
}

/// A check's deadline in the suite, twice a student's: under the planted
/// mistakes' builds, a starter check that takes a second alone failed once
/// in CI, most likely on the 30 s deadline. A stuck handler still fails.
const SUITE_CHECK_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `lab`'s checks through the runner against `package` and returns the
/// failed ones, in order. Panics when the server never started.
pub async fn failed_checks(lab: &str, package: &str) -> Vec<CheckResult> {
    let bin = lab_binary(package);
    let ids: Vec<String> = catalog()
        .lab(lab)
        .unwrap_or_else(|| panic!("no {lab} in labs.toml"))
        .checks
        .iter()
        .map(|c| c.id.clone())
        .collect();
    let mut failed = Vec::new();
    runner::run_with(lab, &bin, &ids, SUITE_CHECK_TIMEOUT, |event| match event {
        Event::NeverListened { reason, output } => {
            panic!("{package} never listened: {reason}\n{output}")
        }
        Event::Check(result) if !result.passed() => failed.push(result),
        Event::Check(_) => {}
    })
    .await;
    failed
}

/// The untouched starter of `lab` fails exactly its `starter_fails`, in
/// order.
///
/// This proves the kit (each check catches the starter's gaps), not a
/// student's progress: outside CI, a starter that fails other checks is
/// most likely being solved, so the test says so on one line and passes
/// instead of looking like the student's fault. With `CI=true` (the kit's
/// own CI, as for insta) a difference always fails.
pub async fn assert_starter_fails(lab: &Lab) {
    let expected = &lab.starter_fails;
    let results = failed_checks(&lab.id, &lab.package(false)).await;
    let failed = ids(&results);
    if failed == *expected {
        return;
    }
    let in_ci = std::env::var("CI").is_ok_and(|value| value != "false" && value != "0");
    if !in_ci {
        eprintln!(
            "skipped: {} is not the untouched starter (it fails {} of the {} checks the starter fails), so there is nothing to prove; `CI=true` enforces it",
            lab.starter_dir(),
            failed.iter().filter(|id| expected.contains(id)).count(),
            expected.len()
        );
        return;
    }
    let unexpected: Vec<&CheckResult> = results
        .iter()
        .filter(|result| !expected.contains(&result.id))
        .collect();
    assert_eq!(
        failed,
        *expected,
        "the untouched starter of {} fails other checks than labs.toml's starter_fails; the unexpected ones:\n{}",
        lab.id,
        explain(&unexpected)
    );
}

/// The ids of `results`, in order.
pub fn ids(results: &[CheckResult]) -> Vec<String> {
    results.iter().map(|result| result.id.clone()).collect()
}

/// Why each of `results` failed, with the programs' own words, for an
/// assertion message that tells a CI failure's cause without a rerun.
pub fn explain(results: &[&CheckResult]) -> String {
    results
        .iter()
        .map(|result| {
            format!(
                "{}: {:#?}\n{}",
                result.id,
                result.verdict,
                result.output.as_deref().unwrap_or("")
            )
        })
        .collect()
}
