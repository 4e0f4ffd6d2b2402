//! A student's progress: the result of each lab's last `cargo xtask check`.
//!
//! Kept in `.labs-progress.toml` at the repository root, a small TOML file a
//! person can read (and delete): outside `target/`, so `cargo clean` keeps
//! it, and ignored by git. Each entry remembers its lab's slug as well as its
//! id, so that a renamed lab (same id, new slug) or a renumbered one (a lab
//! inserted before it: same slug, new id) keeps its result.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use labs_meta::{Catalog, Lab};
use serde::{Deserialize, Serialize};

use crate::outcome::Outcome;

/// The file's name at the repository root.
pub const FILE: &str = ".labs-progress.toml";

/// Overrides where the file lives (the runner's own tests use it, so that a
/// test never writes a developer's progress).
const PATH_VAR: &str = "XTASK_PROGRESS";

const HEADER: &str = "\
# Your progress in mcp-auth-labs: the result of each lab's last
# `cargo xtask check`, written by it. Safe to delete (you lose only this list).
";

/// One lab's last check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The lab's slug when it was checked (`basic-secret`).
    pub slug: String,
    pub result: Standing,
    /// Checks passed, of `total`.
    pub passed: usize,
    pub total: usize,
    /// When, in UTC (`2026-12-01 17:40 UTC`).
    pub checked: String,
}

/// How a lab's last check ended, as the file says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Standing {
    #[serde(rename = "passed")]
    Passed,
    #[serde(rename = "failed")]
    Failed,
    #[serde(rename = "does not compile")]
    DoesNotCompile,
    #[serde(rename = "did not start")]
    DidNotStart,
}

impl std::fmt::Display for Standing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Standing::Passed => "passed",
            Standing::Failed => "failed",
            Standing::DoesNotCompile => "does not compile",
            Standing::DidNotStart => "did not start",
        })
    }
}

impl Entry {
    /// Whether this result is a pass of every check `lab` has today.
    pub fn passes(&self, lab: &Lab) -> bool {
        self.result == Standing::Passed && self.passed == lab.checks.len()
    }
}

/// Every lab of the catalogue that has a recorded result, by its id today.
pub struct Progress {
    pub by_lab: BTreeMap<String, Entry>,
}

impl Progress {
    pub fn load(root: &Path, catalog: &Catalog) -> Progress {
        Progress {
            by_lab: resolve(catalog, read(&path(root))),
        }
    }

    pub fn get(&self, lab: &Lab) -> Option<&Entry> {
        self.by_lab.get(&lab.id)
    }

    /// The current lab: the first one whose last check did not pass.
    pub fn current<'a>(&self, catalog: &'a Catalog) -> Option<&'a Lab> {
        catalog
            .labs
            .iter()
            .find(|lab| !self.get(lab).is_some_and(|entry| entry.passes(lab)))
    }
}

/// Remembers `outcome` as `lab`'s last result. Losing this file only loses
/// the progress list, so a failure to write it is a warning, not an error.
pub fn record(root: &Path, catalog: &Catalog, lab: &Lab, outcome: &Outcome) {
    let mut by_lab = resolve(catalog, read(&path(root)));
    let total = lab.checks.len();
    let result = match outcome {
        Outcome::BuildFailed { .. } => Standing::DoesNotCompile,
        Outcome::NeverListened { .. } => Standing::DidNotStart,
        Outcome::Checked(_) if outcome.passed() == total => Standing::Passed,
        Outcome::Checked(_) => Standing::Failed,
    };
    by_lab.insert(
        lab.id.clone(),
        Entry {
            slug: lab.slug.clone(),
            result,
            passed: outcome.passed(),
            total,
            checked: now_utc(),
        },
    );
    if let Err(e) = write(&path(root), &by_lab) {
        eprintln!("warning: could not save your progress: {e:#}");
    }
}

fn path(root: &Path) -> PathBuf {
    std::env::var_os(PATH_VAR).map_or_else(|| root.join(FILE), PathBuf::from)
}

/// The file's entries as written, keyed by the lab id of their day; an
/// unreadable file counts as empty (it is only a list of results).
fn read(path: &Path) -> BTreeMap<String, Entry> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| toml::from_str(&text).ok())
        .unwrap_or_default()
}

fn write(path: &Path, by_lab: &BTreeMap<String, Entry>) -> anyhow::Result<()> {
    let text = format!("{HEADER}\n{}", toml::to_string(by_lab)?);
    std::fs::write(path, text)?;
    Ok(())
}

/// Matches recorded entries to today's labs: by slug first (a lab
/// renumbered because another was inserted keeps its slug), then by id when
/// the entry's slug belongs to no lab any more (a renamed lab). Entries that
/// match no lab are dropped.
fn resolve(catalog: &Catalog, recorded: BTreeMap<String, Entry>) -> BTreeMap<String, Entry> {
    let mut by_lab = BTreeMap::new();
    for lab in &catalog.labs {
        let by_slug = recorded.values().find(|entry| entry.slug == lab.slug);
        let by_id = recorded
            .get(&lab.id)
            .filter(|entry| !catalog.labs.iter().any(|other| other.slug == entry.slug));
        if let Some(entry) = by_slug.or(by_id) {
            by_lab.insert(lab.id.clone(), entry.clone());
        }
    }
    by_lab
}

/// The current time as `YYYY-MM-DD HH:MM UTC` (std has no calendar).
fn now_utc() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60
    )
}

/// Days since 1970-01-01 to a (year, month, day) date, after Howard
/// Hinnant's `civil_from_days` (<https://howardhinnant.github.io/date_algorithms.html>).
pub fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(labs: &[(&str, &str)]) -> Catalog {
        let mut text = String::from("format_version = 1\n");
        for (id, slug) in labs {
            text.push_str(&format!(
                "[[labs]]\nid = \"{id}\"\nslug = \"{slug}\"\ntitle = \"t\"\nstudent_files = []\nhints = [\"h\"]\nchecks = []\n"
            ));
        }
        Catalog::parse(&text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn entry(slug: &str) -> Entry {
        Entry {
            slug: slug.to_owned(),
            result: Standing::Failed,
            passed: 1,
            total: 2,
            checked: "2026-12-01 17:40 UTC".to_owned(),
        }
    }

    #[test]
    fn a_renamed_lab_keeps_its_result_by_id() {
        let recorded = BTreeMap::from([("lab1".to_owned(), entry("old-name"))]);
        let resolved = resolve(&catalog(&[("lab1", "new-name")]), recorded);
        assert_eq!(resolved.get("lab1"), Some(&entry("old-name")));
    }

    #[test]
    fn a_renumbered_lab_keeps_its_result_by_slug() {
        let recorded = BTreeMap::from([
            ("lab1".to_owned(), entry("one")),
            ("lab2".to_owned(), entry("two")),
        ]);
        // A new lab2 was inserted: "two" is lab3 now, and the new lab2 has
        // no result even though an entry is keyed `lab2`.
        let catalog = catalog(&[("lab1", "one"), ("lab2", "inserted"), ("lab3", "two")]);
        let resolved = resolve(&catalog, recorded);
        assert_eq!(resolved.get("lab1"), Some(&entry("one")));
        assert_eq!(resolved.get("lab2"), None);
        assert_eq!(resolved.get("lab3"), Some(&entry("two")));
    }

    #[test]
    fn dates_are_civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_788), (2026, 12, 1));
    }
}
