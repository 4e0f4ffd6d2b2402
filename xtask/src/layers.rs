//! The runner's modules in layers, and a test that every `crate::` path in
//! a module names a module of a lower layer: so there is no import circle
//! and nothing reaches up (main → commands → the stages below them).

use std::collections::BTreeMap;

/// From the top: a module may use only modules of the layers below its own.
const LAYERS: &[&[&str]] = &[
    &["main"],
    // A command built on another command.
    &["watch"],
    // Commands: each `cargo xtask <command>`.
    &[
        "check",
        "reset",
        "diff",
        "doctor",
        "classroom",
        "grade",
        "gradescope",
    ],
    // Rendering a finished result: the progress list, the grader's report
    // writers (Markdown, CSV, JSON, Gradescope).
    &["status", "grades"],
    // The checklist, the progress file, and grading on top of the pipeline.
    &["report", "progress", "grader"],
    // discover → build → run → judge; the grading workspace.
    &["pipeline", "workspace"],
    &["build", "overlay"],
    // Leaves: the types a run produces, child processes, colour, and the
    // grader's containment, reach and unzip helpers.
    &["outcome", "process", "style", "contain", "reach", "unzip"],
];

/// The layer of `module`, 0 at the top.
fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The modules that `source` names through `crate::` (in `use crate::…`,
/// groups included, and in paths), outside comments and tests.
fn uses(source: &str) -> Vec<String> {
    let code: String = source
        .split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::{c, d}, e}`: the first segment of each
            // top-level item.
            let (mut depth, mut item) = (0, String::new());
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.push(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            found.push(first_segment(&item));
        } else {
            found.push(first_segment(rest));
        }
    }
    found.retain(|module| !module.is_empty());
    found.sort();
    found.dedup();
    found
}

fn first_segment(path: &str) -> String {
    path.trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

#[test]
fn every_module_uses_only_lower_layers() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{e}")) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let module = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        if module == "layers" {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        graph.insert(module, uses(&source));
    }
    let mut wrong = Vec::new();
    for (module, used) in &graph {
        let Some(own) = layer(module) else {
            wrong.push(format!("{module} is in no layer of LAYERS"));
            continue;
        };
        for other in used {
            match layer(other) {
                Some(below) if below > own => {}
                _ => wrong.push(format!("{module} uses {other}")),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers in xtask/src/layers.rs:\n{}\n(the graph: {graph:#?})",
        wrong.join("\n")
    );
}

#[test]
fn groups_and_paths_are_read() {
    let source = "use crate::{\n    build::{self, Built},\n    contain, grades,\n};\n// crate::ignored\nfn f() { crate::style::red(\"x\"); }\n";
    assert_eq!(uses(source), ["build", "contain", "grades", "style"]);
}

/// ARCHITECTURE.md's invariants on the runner that a reading can hold.
#[test]
fn the_pipeline_never_prints_the_renderers_never_run_and_xtask_stays_small() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let read =
        |rel: &str| std::fs::read_to_string(src.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    for module in ["src/pipeline.rs", "src/outcome.rs", "src/grader.rs"] {
        let code = read(module);
        for print in ["print!(", "println!(", "eprint!(", "eprintln!("] {
            // The grader prints one line per slow warm-up build, its only
            // word during a class; the rest is for the writers.
            let allowed = module == "src/grader.rs" && print == "println!(";
            assert!(allowed || !code.contains(print), "{module} prints");
        }
    }
    for module in ["src/report.rs", "src/grades.rs", "src/status.rs"] {
        let code = read(module);
        for run in ["Command::new", "process::", "Child::"] {
            assert!(!code.contains(run), "{module} runs a program ({run})");
        }
    }
    let manifest: toml::Table =
        toml::from_str(&read("Cargo.toml")).unwrap_or_else(|e| panic!("{e}"));
    let dependencies = manifest["dependencies"]
        .as_table()
        .unwrap_or_else(|| panic!("no [dependencies]"));
    for heavy in ["rmcp", "axum", "checks", "tokio", "reqwest"] {
        assert!(
            !dependencies.contains_key(heavy),
            "xtask depends on {heavy}: it is the first thing a student compiles"
        );
    }
}
