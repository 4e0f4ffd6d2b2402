//! The result of each lab's last `cargo xtask check`, for `cargo xtask list`.
//! Kept in `target/xtask-status.json`: build output, not the student's tree.

use std::{collections::BTreeMap, path::Path};

use labs_meta::{Catalog, Lab};

use crate::style;

fn path(root: &Path) -> std::path::PathBuf {
    root.join("target").join("xtask-status.json")
}

fn load(root: &Path) -> BTreeMap<String, usize> {
    std::fs::read_to_string(path(root))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// Remembers how many checks of `lab` passed. Losing this file only loses
/// the list's status column, so a failure to write it is not an error.
pub fn record(root: &Path, lab: &Lab, passed: usize) {
    let mut all = load(root);
    all.insert(lab.id.clone(), passed);
    if let Ok(text) = serde_json::to_string_pretty(&all) {
        let _ = std::fs::create_dir_all(root.join("target"));
        let _ = std::fs::write(path(root), text);
    }
}

/// Every lab with its last result, one aligned row each, then the command
/// for the next step: the first lab that does not pass yet.
pub fn print_list(root: &Path, catalog: &Catalog) {
    let all = load(root);
    let slug_width = catalog.labs.iter().map(|lab| lab.slug.len()).max().unwrap_or(0);
    for lab in &catalog.labs {
        let total = lab.checks.len();
        // Padded before it is coloured: escape codes have no width.
        let (text, paint): (String, fn(&str) -> String) = match all.get(&lab.id) {
            None => ("not checked yet".to_owned(), style::dim),
            Some(&passed) if passed == total => (format!("✓ {passed}/{total}"), style::green),
            Some(&passed) => (format!("✗ {passed}/{total}"), style::red),
        };
        let status = paint(&format!("{text:<15}"));
        println!("{:<5} {:<slug_width$}  {status}  {}", lab.id, lab.slug, lab.title);
    }
    println!();
    match next_lab(catalog, &all) {
        Some(lab) => println!(
            "Next: `cargo xtask check {}` (docs/{}-{}.md); stuck? `cargo xtask hint {}`.",
            lab.id, lab.id, lab.slug, lab.id
        ),
        None => println!("Every lab passes. Compare your files with solutions/ for other ways to do it."),
    }
}

/// The first lab whose last check did not pass every check.
fn next_lab<'a>(catalog: &'a Catalog, all: &BTreeMap<String, usize>) -> Option<&'a Lab> {
    catalog
        .labs
        .iter()
        .find(|lab| all.get(&lab.id) != Some(&lab.checks.len()))
}
