//! The kit's lab catalogue, `labs.toml` at the repository root, read by the
//! runner (`cargo xtask`), the checks crate and the grader; and [`report`],
//! the line protocol the checks binary speaks to the runner.
//!
//! Adding a lab is a folder under `labs/` and `solutions/` plus one `[[labs]]`
//! entry; nothing else lists labs.

pub mod report;

use std::path::Path;

use serde::Deserialize;

/// The catalogue format this crate understands.
pub const FORMAT_VERSION: u32 = 1;

/// The whole `labs.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Bumped when a field changes meaning; see [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Labs in the order students take them.
    pub labs: Vec<Lab>,
}

/// One lab: a starter crate, its reference solution and its ordered checks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lab {
    /// Short id used on the command line and in snapshot paths, e.g. `lab1`.
    pub id: String,
    /// Folder suffix: the starter is `labs/<id>-<slug>`, the solution `solutions/<id>-<slug>`.
    pub slug: String,
    /// One line shown by `cargo xtask list`.
    pub title: String,
    /// Files (relative to the lab folder) the student edits. Starter and
    /// solution differ only here, and grading takes only these (plus the
    /// manifest) from a submission.
    pub student_files: Vec<String>,
    /// Hints from vague to concrete, shown by `cargo xtask hint <id> --level N`.
    pub hints: Vec<String>,
    /// The checks the untouched starter fails, in check order: the kit's
    /// own proof that each check catches the starter's gap (the suite's
    /// `labs::every_starter_fails_its_list`). Not shown to students.
    #[serde(default)]
    pub starter_fails: Vec<String>,
    /// Checks in the order they run; the first failure is the one explained.
    pub checks: Vec<Check>,
}

/// One named check. Its id names the function in the checks crate and the
/// snapshot file `tests/snapshots/<lab>/<id>.snap`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub id: String,
    /// A sentence saying what is checked, shown in the checklist.
    pub title: String,
    /// Points for grading.
    pub points: u32,
    /// One line shown under the first failing check.
    pub hint: String,
    /// Anchor in the lab's walkthrough, e.g. `step-2`.
    pub docs: String,
}

impl Catalog {
    /// Reads and validates `labs.toml`.
    pub fn load(path: &Path) -> Result<Catalog, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        Catalog::parse(&text).map_err(|e| format!("`{}`: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Catalog, String> {
        let catalog: Catalog = toml::from_str(text).map_err(|e| e.to_string())?;
        catalog.validate()?;
        Ok(catalog)
    }

    pub fn lab(&self, id: &str) -> Option<&Lab> {
        self.labs.iter().find(|lab| lab.id == id)
    }

    /// The lab named `id`, or an error that lists the ones that exist.
    pub fn find(&self, id: &str) -> Result<&Lab, String> {
        self.lab(id).ok_or_else(|| {
            let known: Vec<&str> = self.labs.iter().map(|lab| lab.id.as_str()).collect();
            format!("there is no lab `{id}`; the labs are: {}", known.join(", "))
        })
    }

    fn validate(&self) -> Result<(), String> {
        if self.format_version != FORMAT_VERSION {
            return Err(format!(
                "format_version {} is not supported (expected {FORMAT_VERSION})",
                self.format_version
            ));
        }
        let mut lab_ids = std::collections::HashSet::new();
        for lab in &self.labs {
            if !lab_ids.insert(&lab.id) {
                return Err(format!("lab `{}` is listed twice", lab.id));
            }
            if lab.hints.is_empty() {
                return Err(format!("lab `{}` has no hints", lab.id));
            }
            let mut check_ids = std::collections::HashSet::new();
            for check in &lab.checks {
                if !check_ids.insert(&check.id) {
                    return Err(format!(
                        "lab `{}`: check `{}` is listed twice",
                        lab.id, check.id
                    ));
                }
            }
            if let Some(unknown) = lab.starter_fails.iter().find(|id| !check_ids.contains(id)) {
                return Err(format!(
                    "lab `{}`: starter_fails names `{unknown}`, which is not one of its checks",
                    lab.id
                ));
            }
        }
        Ok(())
    }
}

impl Lab {
    /// The walkthrough page, relative to the repository root.
    pub fn docs_page(&self) -> String {
        format!("docs/{}-{}.md", self.id, self.slug)
    }

    /// The starter's folder, relative to the repository root.
    pub fn starter_dir(&self) -> String {
        format!("labs/{}-{}", self.id, self.slug)
    }

    /// The reference solution's folder, relative to the repository root.
    pub fn solution_dir(&self) -> String {
        format!("solutions/{}-{}", self.id, self.slug)
    }

    /// Cargo package (and binary) name of the starter; the solution's adds `-solution`.
    pub fn package(&self, solution: bool) -> String {
        if solution {
            format!("{}-solution", self.id)
        } else {
            self.id.clone()
        }
    }

    pub fn total_points(&self) -> u32 {
        self.checks.iter().map(|check| check.points).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_a_duplicate_check() {
        let text = r#"
            format_version = 1
            [[labs]]
            id = "lab1"
            slug = "x"
            title = "t"
            student_files = []
            hints = ["h"]
            [[labs.checks]]
            id = "a"
            title = "a"
            points = 1
            hint = ""
            docs = ""
            [[labs.checks]]
            id = "a"
            title = "a"
            points = 1
            hint = ""
            docs = ""
        "#;
        let err = Catalog::parse(text).unwrap_err();
        assert_eq!(err, "lab `lab1`: check `a` is listed twice");
    }

    #[test]
    fn rejects_an_unknown_format_version() {
        let err = Catalog::parse("format_version = 9\nlabs = []").unwrap_err();
        assert!(err.contains("format_version 9 is not supported"), "{err}");
    }

    #[test]
    fn the_repository_catalogue_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../labs.toml");
        let catalog = Catalog::load(&path).unwrap();
        assert!(catalog.lab("lab1").is_some());
    }
}
