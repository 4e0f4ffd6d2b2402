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

pub fn print_list(root: &Path, catalog: &Catalog) {
    let all = load(root);
    for lab in &catalog.labs {
        let total = lab.checks.len();
        let status = match all.get(&lab.id) {
            None => style::dim("not checked yet"),
            Some(&passed) if passed == total => style::green(&format!("✓ {passed}/{total}")),
            Some(&passed) => style::red(&format!("✗ {passed}/{total}")),
        };
        println!("{:<6} {:<62} {status}", lab.id, lab.title);
    }
    println!();
    println!("Check a lab with `cargo xtask check <lab>`; stuck? `cargo xtask hint <lab>`.");
}
