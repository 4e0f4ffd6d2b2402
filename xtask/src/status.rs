//! The progress list: every lab with its last result (kept by [`progress`]),
//! then the exact command for the next step. `cargo xtask`, `cargo xtask
//! list` and `cargo xtask check` without a lab all print it.

use std::path::Path;

use labs_meta::Catalog;

use crate::{
    progress::{Progress, Standing},
    style::Style,
};

/// Every lab with its last result, one aligned row each, then the command
/// for the next step: the first lab that does not pass yet.
pub fn print_list(root: &Path, catalog: &Catalog) {
    let progress = Progress::load(root, catalog);
    let style = Style::terminal();
    let slug_width = catalog
        .labs
        .iter()
        .map(|lab| lab.slug.len())
        .max()
        .unwrap_or(0);
    for lab in &catalog.labs {
        let total = lab.checks.len();
        // Padded before it is coloured: escape codes have no width.
        let (text, paint): (String, fn(Style, &str) -> String) = match progress.get(lab) {
            None => ("not checked yet".to_owned(), Style::dim),
            Some(entry) if entry.passes(lab) => (format!("✓ {total}/{total}"), Style::green),
            Some(entry) if matches!(entry.result, Standing::Failed | Standing::Passed) => {
                (format!("✗ {}/{total}", entry.passed.min(total)), Style::red)
            }
            Some(entry) => (format!("✗ {}", entry.result), Style::red),
        };
        let status = paint(style, &format!("{text:<18}"));
        println!(
            "{:<5} {:<slug_width$}  {status}  {}",
            lab.id, lab.slug, lab.title
        );
    }
    println!();
    let passed = catalog
        .labs
        .iter()
        .filter(|lab| progress.get(lab).is_some_and(|entry| entry.passes(lab)))
        .count();
    match progress.current(catalog) {
        Some(lab) => {
            println!("{passed}/{} labs pass.", catalog.labs.len());
            println!(
                "Next: `cargo xtask check {}` (docs/{}-{}.md); stuck? `cargo xtask hint {}`.",
                lab.id, lab.id, lab.slug, lab.id
            );
            println!(
                "      `cargo xtask watch` checks it again each time you save; `cargo xtask --help` lists every command."
            );
        }
        None => println!(
            "Every lab passes. `cargo xtask diff labN` shows your files beside the reference's, for other ways to do it."
        ),
    }
}
