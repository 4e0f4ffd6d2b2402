//! The catalogue (`labs.toml`), the checks crate and the lab folders agree.

use sha2::{Digest, Sha256};
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
fn the_checks_started_first_are_checks_of_their_lab() {
    for lab in common::catalog().labs {
        for id in checks::started_first(&lab.id) {
            assert!(
                lab.checks.iter().any(|check| check.id == *id),
                "{}: `started_first` names `{id}`, which is not one of its checks",
                lab.id
            );
        }
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

/// Files a starter carries over from the previous lab's solution on
/// purpose changed: the given files a lab wires its idea into. Every other
/// file a starter has that is neither a student file nor marked
/// `TODO(labN)` must equal the previous solution's, so that a fix there
/// reaches every later lab. Each entry pins both sides (a hash of the pair):
/// when either changes, the test shows the difference again, to carry the
/// fix over or to pin the pair anew.
const CHANGED_ON_PURPOSE: &[(&str, &str, &str, &str)] = &[
    (
        "lab2",
        "src/server.rs",
        "027ff3f6bd9bebb6",
        "wires the JWT middleware and `Keys` instead of the secret",
    ),
    (
        "lab3",
        "src/auth.rs",
        "430735a02e21850c",
        "doc header: lab 2's middleware, now also guarding `/resource`",
    ),
    (
        "lab3",
        "src/jwt.rs",
        "eb9558c80ed117fe",
        "doc header: lab 2's tokens, unchanged",
    ),
    (
        "lab3",
        "src/server.rs",
        "8f78264c597afdb0",
        "adds the public `/login` and the protected `/resource`",
    ),
    (
        "lab4",
        "src/auth.rs",
        "c7195dc5112fa1d4",
        "hands the token's `permissions` to the tools",
    ),
    (
        "lab4",
        "src/client.rs",
        "4ae1eaa3d7fad5eb",
        "calls a tool a reader may not call, to show the refusal",
    ),
    (
        "lab4",
        "src/jwt.rs",
        "b9f72698f471c8fa",
        "the `permissions` claim replaces `admin`",
    ),
    (
        "lab4",
        "src/login.rs",
        "07514a72b7cb698a",
        "mints the role's permissions",
    ),
    (
        "lab4",
        "src/resource.rs",
        "6c5e09b36bf100ce",
        "`/resource` needs `User.Read`",
    ),
    (
        "lab4",
        "src/server.rs",
        "7b082eefd90248a8",
        "every tool call goes through `rbac::Guarded`",
    ),
    (
        "lab4",
        "src/users.rs",
        "e969227d67fec01a",
        "a role per user instead of `admin`",
    ),
    (
        "lab5",
        "src/login.rs",
        "cda78291cd11285c",
        "hands out a refresh token with the access token",
    ),
    (
        "lab5",
        "src/server.rs",
        "9faa9338f2f179b2",
        "adds `/refresh`, `/logout` and the refresh-token store",
    ),
    (
        "lab5",
        "src/users.rs",
        "f8afac200bb48d54",
        "`Users::find` for `/refresh`",
    ),
    (
        "lab6",
        "src/login.rs",
        "44691f9a2cad8272",
        "shares the access-token denylist",
    ),
    (
        "lab6",
        "src/refresh.rs",
        "461b7085cb69999d",
        "`/logout` also revokes the access token sent with it",
    ),
    (
        "lab6",
        "src/resource.rs",
        "7a277b98402bcd3c",
        "the posture's state and responses",
    ),
    (
        "lab6",
        "src/server.rs",
        "d915013087434dfd",
        "wires metadata, guards, sessions and the denylist",
    ),
    (
        "lab7",
        "src/auth.rs",
        "2f8a621ed419e8f8",
        "tokens of the authorization server, checked against its keys",
    ),
    (
        "lab7",
        "src/guards.rs",
        "d01d2738a21873d0",
        "no `/login` to rate-limit any more",
    ),
    (
        "lab7",
        "src/metadata.rs",
        "51f23754e7cb3fc3",
        "names the real authorization server",
    ),
    (
        "lab7",
        "src/public_url.rs",
        "80835f17da57e8b3",
        "the issuer is not this server any more",
    ),
    (
        "lab7",
        "src/rbac.rs",
        "30588c4ea5690e03",
        "permissions are the token's scopes",
    ),
    (
        "lab7",
        "src/server.rs",
        "0d5cd0b6ac9491cd",
        "no `/login`, `/refresh` or `/logout`: the authorization server's",
    ),
];

/// A pin of both sides of a carried-over file: the first 16 hex digits of
/// the SHA-256 of the pair.
fn pin(theirs: &str, ours: &str) -> String {
    let digest = Sha256::digest(format!("{theirs}\0{ours}").as_bytes());
    digest
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[test]
fn every_starter_carries_the_previous_solution_over() {
    let root = checks::repo_root();
    let labs = common::catalog().labs;
    let mut differ = Vec::new();
    for (previous, lab) in labs.iter().zip(&labs[1..]) {
        let starter = root.join(lab.starter_dir());
        let solution = root.join(previous.solution_dir());
        for path in walk(&starter) {
            let Ok(rel) = path.strip_prefix(&starter) else {
                continue;
            };
            let rel = rel.to_string_lossy().replace('\\', "/");
            let ours = fs::read_to_string(&path).unwrap_or_default();
            let marked = ours.contains(&format!("TODO({})", lab.id));
            if rel == "Cargo.toml" || lab.student_files.contains(&rel) || marked {
                continue;
            }
            // A file new in this lab has nothing to carry over.
            let Ok(theirs) = fs::read_to_string(solution.join(&rel)) else {
                continue;
            };
            if ours != theirs {
                let pin = pin(&theirs, &ours);
                differ.push((lab.id.clone(), rel, pin, theirs, ours));
            }
        }
    }
    let mut wrong = Vec::new();
    for (lab, rel, pin, theirs, ours) in &differ {
        let listed = CHANGED_ON_PURPOSE
            .iter()
            .find(|(id, file, ..)| id == lab && file == rel);
        match listed {
            Some((.., pinned, _)) if *pinned == pin => {}
            Some(_) => wrong.push(format!(
                "{lab}/{rel} or the previous solution's copy changed: carry a fix over, or pin the pair anew (\"{pin}\")\n{}",
                checks::runner::mismatch(theirs, ours)
                    .diff
                    .iter()
                    .map(|line| format!("  {}\n", line.unified()))
                    .collect::<String>()
            )),
            None => wrong.push(format!(
                "{lab}/{rel} differs from the previous lab's solution: copy it over, or list it in CHANGED_ON_PURPOSE with a reason (\"{pin}\")"
            )),
        }
    }
    for (lab, rel, ..) in CHANGED_ON_PURPOSE {
        if !differ.iter().any(|(id, file, ..)| id == lab && file == rel) {
            wrong.push(format!(
                "{lab}/{rel} equals the previous solution's now: remove it from CHANGED_ON_PURPOSE"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A starter's `Cargo.toml` is its solution's, but for the package name,
/// `test = false` (a starter's unfinished code has no unit tests to run)
/// and the lints: the workspace's, with unused code allowed, since a
/// starter has pieces not wired up yet (and clippy's lints still on).
#[test]
fn starter_and_solution_manifests_agree() {
    let root = checks::repo_root();
    let read = |path: &Path| -> toml::Table {
        let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let workspace = read(&root.join("Cargo.toml"));
    let mut lints = workspace["workspace"]["lints"].clone();
    if let Some(rust) = lints.get_mut("rust").and_then(toml::Value::as_table_mut) {
        rust.insert("unused".to_owned(), toml::Value::from("allow"));
    }
    for lab in common::catalog().labs {
        let mut starter = read(&root.join(lab.starter_dir()).join("Cargo.toml"));
        let mut solution = read(&root.join(lab.solution_dir()).join("Cargo.toml"));
        assert_eq!(
            starter.remove("lints"),
            Some(lints.clone()),
            "{}: the starter's lints are not the workspace's with `unused = \"allow\"`",
            lab.id
        );
        for (manifest, package) in [
            (&mut starter, lab.package(false)),
            (&mut solution, lab.package(true)),
        ] {
            assert_eq!(manifest["package"]["name"].as_str(), Some(package.as_str()));
            manifest["package"]
                .as_table_mut()
                .map(|table| table.remove("name"));
            for bin in manifest
                .get_mut("bin")
                .and_then(toml::Value::as_array_mut)
                .into_iter()
                .flatten()
                .filter_map(toml::Value::as_table_mut)
            {
                assert_eq!(
                    bin.remove("name")
                        .and_then(|v| v.as_str().map(str::to_owned)),
                    Some(package.clone())
                );
                bin.remove("test");
            }
        }
        solution.remove("lints");
        assert_eq!(
            starter, solution,
            "{}: starter and solution Cargo.toml differ beyond the name, `test` and the lints",
            lab.id
        );
    }
}

/// Labs never depend on solutions or on the checks, and the checks never
/// link a lab: they judge it through its binary only.
#[test]
fn labs_and_checks_never_link_each_other() {
    let root = checks::repo_root();
    let labs = common::catalog().labs;
    let packages: Vec<String> = labs
        .iter()
        .flat_map(|lab| [lab.package(false), lab.package(true)])
        .collect();
    let dependencies = |manifest: &Path| -> Vec<String> {
        let text =
            fs::read_to_string(manifest).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
        let table: toml::Table =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
        ["dependencies", "dev-dependencies", "build-dependencies"]
            .iter()
            .filter_map(|kind| table.get(*kind).and_then(toml::Value::as_table))
            .flat_map(|deps| deps.keys().cloned())
            .collect()
    };
    for lab in &labs {
        for dir in [lab.starter_dir(), lab.solution_dir()] {
            for dependency in dependencies(&root.join(&dir).join("Cargo.toml")) {
                assert!(
                    dependency != "checks" && !packages.contains(&dependency),
                    "{dir} depends on {dependency}"
                );
            }
        }
    }
    for dependency in dependencies(&root.join("tests/Cargo.toml")) {
        assert!(
            !packages.contains(&dependency),
            "the checks depend on the lab {dependency}"
        );
    }
}
