//! The catalogue (`labs.toml`), the checks crate and the lab folders agree.

use std::{collections::BTreeSet, fs, path::Path};

use crate::common;

#[test]
fn every_lab_lists_exactly_the_checks_the_checks_crate_has() {
    for lab in common::catalog().labs {
        // labs.toml orders them; the checks crate only has to have them all.
        let registered: BTreeSet<&str> = checks::checks_of(&lab.id)
            .unwrap_or_else(|| panic!("the checks crate has no module for {}", lab.id))
            .iter()
            .map(|(id, _)| *id)
            .collect();
        let listed: Vec<&str> = lab.checks.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            listed.iter().copied().collect::<BTreeSet<_>>(),
            registered,
            "labs.toml and tests/src/{}.rs + tests/src/security.rs disagree",
            lab.id
        );
        assert_eq!(
            listed.len(),
            registered.len(),
            "{}: a check is listed twice",
            lab.id
        );
    }
}

#[test]
fn every_check_has_a_snapshot_and_no_snapshot_is_orphaned() {
    for lab in common::catalog().labs {
        let dir = checks::runner::snapshot_dir(&lab.id);
        let on_disk: BTreeSet<String> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".snap").map(str::to_owned)
            })
            .collect();
        let listed: BTreeSet<String> = lab.checks.iter().map(|c| c.id.clone()).collect();
        assert_eq!(
            on_disk,
            listed,
            "snapshots in {} vs labs.toml",
            dir.display()
        );
    }
}

/// A finished student is the solution's student files copied over the
/// starter's, so every other file must be identical.
#[test]
fn starter_and_solution_differ_only_in_student_files() {
    let root = checks::repo_root();
    for lab in common::catalog().labs {
        let starter = root.join(lab.starter_dir());
        let solution = root.join(lab.solution_dir());
        let files = |dir: &Path| -> BTreeSet<String> {
            walk(dir)
                .into_iter()
                .filter_map(|p| {
                    p.strip_prefix(dir)
                        .ok()
                        .map(|p| p.to_string_lossy().into_owned())
                })
                .collect()
        };
        let starter_files = files(&starter);
        assert_eq!(
            starter_files,
            files(&solution),
            "{} and its solution have different files",
            lab.id
        );
        for file in &starter_files {
            if lab.student_files.contains(file) || file == "Cargo.toml" {
                continue;
            }
            let a = fs::read_to_string(starter.join(file)).unwrap_or_default();
            let b = fs::read_to_string(solution.join(file)).unwrap_or_default();
            assert!(
                a == b,
                "{}/{file} differs between starter and solution but is not a student file",
                lab.id
            );
        }
        for file in &lab.student_files {
            assert!(
                starter_files.contains(file),
                "{}: student file {file} does not exist",
                lab.id
            );
            let text = fs::read_to_string(starter.join(file)).unwrap_or_default();
            assert!(
                text.contains(&format!("TODO({})", lab.id)),
                "{}/{file} has no TODO({}) marker",
                lab.id,
                lab.id
            );
        }
    }
}

#[test]
fn every_lab_has_a_walkthrough() {
    let root = checks::repo_root();
    for lab in common::catalog().labs {
        let page = fs::read_to_string(root.join(lab.docs_page()))
            .unwrap_or_else(|e| panic!("{}: {e}", lab.docs_page()));
        for check in &lab.checks {
            assert!(
                headings(&page).contains(&check.docs),
                "{}: check {} points at #{}, which is not a heading",
                lab.docs_page(),
                check.id,
                check.docs
            );
        }
    }
}

/// GitHub-style anchors of the page's headings.
fn headings(page: &str) -> BTreeSet<String> {
    page.lines()
        .filter_map(|line| {
            line.strip_prefix("## ")
                .or_else(|| line.strip_prefix("### "))
        })
        .map(|title| {
            title
                .trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-')
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// `docs/README.md` lists the labs from `labs.toml`, between two markers.
/// `UPDATE_DOCS=1 cargo test -p checks --test suite docs_index` rewrites it.
#[test]
fn docs_index_lists_every_lab() {
    const BEGIN: &str = "<!-- labs: generated from labs.toml -->";
    const END: &str = "<!-- end of labs -->";
    let path = checks::repo_root().join("docs/README.md");
    let page = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (Some(start), Some(end)) = (page.find(BEGIN), page.find(END)) else {
        panic!("docs/README.md lacks the `{BEGIN}` … `{END}` markers");
    };
    let mut table = String::from("\n| lab | walkthrough | checks | points |\n|---|---|---|---|\n");
    for lab in common::catalog().labs {
        let page = lab.docs_page();
        let file = page.trim_start_matches("docs/");
        table.push_str(&format!(
            "| {} | [{}]({file}) | {} | {} |\n",
            lab.id,
            lab.title,
            lab.checks.len(),
            lab.total_points()
        ));
    }
    let expected = format!(
        "{}{BEGIN}{table}{END}{}",
        &page[..start],
        &page[end + END.len()..]
    );
    if expected != page {
        if std::env::var_os("UPDATE_DOCS").is_some() {
            fs::write(&path, expected).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        } else {
            panic!(
                "docs/README.md is out of date with labs.toml; run `UPDATE_DOCS=1 cargo test -p checks --test suite docs_index`"
            );
        }
    }
}
