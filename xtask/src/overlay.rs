//! What grading takes from a submission.
//!
//! A submission contributes only a lab's student files (`student_files` in
//! labs.toml) and its `Cargo.toml` (unless that reaches outside the lab
//! folder); everything else (the starter's other files, the shared crates,
//! the workspace manifest and lock file, and of course the checks and
//! snapshots) comes from the instructor's checkout. Files the student
//! changed elsewhere are listed, so the report can say they were ignored.
//! Where the taken files are built is [`crate::workspace`].

use std::{
    fs,
    path::{Path, PathBuf},
};

use labs_meta::Lab;

/// How a submission folder is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A copy of the whole kit: `labs/<lab>-<slug>/`.
    Kit,
    /// The contents of the kit's `labs/` folder: `<lab>-<slug>/`.
    LabsFolder,
    /// One lab's folder, or only its student files (a Gradescope upload).
    /// Accepted only when a single lab is graded.
    LabFolder,
}

impl Layout {
    pub fn describe(self) -> &'static str {
        match self {
            Layout::Kit => "a copy of the kit",
            Layout::LabsFolder => "a labs/ folder",
            Layout::LabFolder => "a lab folder",
        }
    }
}

/// Works out how `dir` is laid out; `labs` are the labs being graded.
pub fn layout(dir: &Path, labs: &[&Lab]) -> Option<Layout> {
    if dir.join("labs").is_dir() {
        return Some(Layout::Kit);
    }
    if labs.iter().any(|lab| lab_folder(dir, lab).is_some()) {
        return Some(Layout::LabsFolder);
    }
    let has_student_files = |lab: &Lab| {
        lab.student_files
            .iter()
            .any(|file| student_file(dir, Layout::LabFolder, file).is_some())
    };
    match labs {
        [lab] if has_student_files(lab) || dir.join("Cargo.toml").is_file() => {
            Some(Layout::LabFolder)
        }
        _ => None,
    }
}

/// The one folder `dir` holds, when it holds nothing else (hidden entries
/// aside).
pub fn only_folder(dir: &Path) -> Option<PathBuf> {
    let mut entries = fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'));
    match (entries.next(), entries.next()) {
        (Some(only), None) if only.path().is_dir() => Some(only.path()),
        _ => None,
    }
}

/// The submission's folder for `lab`, if it has one.
pub fn lab_dir(dir: &Path, layout: Layout, lab: &Lab) -> Option<PathBuf> {
    match layout {
        Layout::Kit => lab_folder(&dir.join("labs"), lab),
        Layout::LabsFolder => lab_folder(dir, lab),
        Layout::LabFolder => Some(dir.to_path_buf()),
    }
}

/// `<id>-<slug>` in `parent`, or else the only `<id>-…` folder there: a
/// student on an older copy of the kit may have a lab whose slug changed.
fn lab_folder(parent: &Path, lab: &Lab) -> Option<PathBuf> {
    let exact = parent.join(format!("{}-{}", lab.id, lab.slug));
    if exact.is_dir() {
        return Some(exact);
    }
    let prefix = format!("{}-", lab.id);
    let mut candidates = fs::read_dir(parent)
        .ok()?
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(&prefix))
        .map(|entry| entry.path())
        .filter(|path| path.is_dir());
    match (candidates.next(), candidates.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// Where a student file is in a lab folder. A bare upload may have put
/// `src/auth.rs` at the top as `auth.rs`. Symbolic links never count: one
/// could point at the instructor's solution.
fn student_file(lab_dir: &Path, layout: Layout, file: &str) -> Option<PathBuf> {
    let mut candidates = vec![lab_dir.join(file)];
    if layout == Layout::LabFolder
        && let Some(name) = Path::new(file).file_name()
    {
        candidates.push(lab_dir.join(name));
    }
    candidates
        .into_iter()
        .find(|path| fs::symlink_metadata(path).is_ok_and(|meta| meta.is_file()))
}

/// What grading takes from one submission for one lab.
pub struct Taken {
    /// `(path in the lab folder, file in the submission)`.
    pub files: Vec<(String, PathBuf)>,
    /// The lab's manifest; `None` keeps the starter's.
    pub manifest: Option<PathBuf>,
    /// What the student should know about what was (not) taken.
    pub notes: Vec<String>,
    /// Every student file is the starter's (or missing): nothing was done.
    pub untouched: bool,
}

/// Picks the student files and manifest of `lab` from `lab_dir`, and notes
/// every other file there that differs from the starter (it is ignored).
pub fn take(root: &Path, lab: &Lab, lab_dir: &Path, layout: Layout) -> Taken {
    let starter = root.join(lab.starter_dir());
    let mut taken = Taken {
        files: Vec::new(),
        manifest: None,
        notes: Vec::new(),
        untouched: false,
    };
    for file in &lab.student_files {
        match student_file(lab_dir, layout, file) {
            Some(path) => match fs::read_to_string(&path)
                .ok()
                .and_then(|text| crate::reach::reaches_outside(file, &text))
            {
                // It could be compiling the instructor's solution: a file
                // that does is not the student's work.
                Some(how) => taken.notes.push(format!(
                    "`{file}` reaches outside the lab folder ({how}): it was not used, the starter's was"
                )),
                None => taken.files.push((file.clone(), path)),
            },
            None => taken.notes.push(format!(
                "`{file}` is missing (or is a link): the starter's was used"
            )),
        }
    }
    // Every file missing or the starter's (a refused file is not).
    taken.untouched = lab.student_files.iter().all(|file| {
        student_file(lab_dir, layout, file).is_none_or(|path| same_text(&path, &starter.join(file)))
    });
    // The kit ships its solutions for self-study: say when they were
    // handed in as they are, and let the instructor decide what it means.
    let solution = root.join(lab.solution_dir());
    if has_reference(root, lab)
        && taken.files.len() == lab.student_files.len()
        && taken
            .files
            .iter()
            .all(|(rel, path)| same_text(path, &solution.join(rel)))
    {
        taken.notes.push(format!(
            "the student files are identical to the reference solution in {}/",
            lab.solution_dir()
        ));
    }
    let manifest = lab_dir.join("Cargo.toml");
    if fs::symlink_metadata(&manifest).is_ok_and(|meta| meta.is_file()) {
        // Unparsable manifests pass the checks below: cargo reports them.
        let submitted = read_manifest(&manifest);
        if same_text(&manifest, &starter.join("Cargo.toml")) {
            taken.manifest = Some(manifest);
        } else if let Some(outside) = submitted.as_ref().and_then(reaches_outside) {
            taken.notes.push(format!(
                "`Cargo.toml` points outside the lab folder ({outside}): the starter's was used"
            ));
        } else if let Some(what) = submitted.as_ref().and_then(build_time_code) {
            taken.notes.push(format!(
                "`Cargo.toml` asks to run {what} at build time, which would run with the grader's rights: the starter's was used"
            ));
        } else if let added = added_dependencies(submitted.as_ref(), &starter.join("Cargo.toml"))
            && !added.is_empty()
        {
            taken.notes.push(format!(
                "dependencies cannot be added ({}): every submission is built with the kit's own dependencies and lock file, so the starter's `Cargo.toml` was used",
                list(&added)
            ));
        } else {
            taken.notes.push(
                "`Cargo.toml` differs from the starter's; it was used as submitted".to_owned(),
            );
            taken.manifest = Some(manifest);
        }
    }
    // No manifest is fine: students rarely change it, and an upload of the
    // sources alone is graded with the starter's.
    if layout != Layout::LabFolder {
        let graded: Vec<&str> = lab.student_files.iter().map(String::as_str).collect();
        let ignored: Vec<String> = files_under(lab_dir)
            .into_iter()
            .filter(|rel| rel != "Cargo.toml" && !graded.contains(&rel.as_str()))
            .filter(|rel| !same_text(&lab_dir.join(rel), &starter.join(rel)))
            .collect();
        if !ignored.is_empty() {
            taken.notes.push(format!(
                "only {} and Cargo.toml are graded; these changed files were ignored: {}",
                lab.student_files.join(", "),
                list(&ignored)
            ));
        }
    }
    taken
}

/// The first setting of a submitted manifest that reaches outside the lab
/// folder: a target `path` or `build` script elsewhere (say, the
/// instructor's solution five folders up), a path dependency that climbs
/// out, or a `[patch]`.
fn reaches_outside(table: &toml::Table) -> Option<String> {
    fn escapes(path: &str) -> bool {
        let path = Path::new(path);
        path.is_absolute()
            || path
                .components()
                .any(|c| c == std::path::Component::ParentDir)
    }
    fn find(key: &str, value: &toml::Value) -> Option<String> {
        match value {
            toml::Value::String(path)
                if matches!(key, "path" | "build" | "workspace") && escapes(path) =>
            {
                Some(format!("`{key} = \"{path}\"`"))
            }
            toml::Value::Table(table) => table.iter().find_map(|(key, value)| find(key, value)),
            toml::Value::Array(items) => items.iter().find_map(|value| find(key, value)),
            _ => None,
        }
    }
    if let Some(section) = ["patch", "replace"]
        .into_iter()
        .find(|s| table.contains_key(*s))
    {
        return Some(format!("`[{section}]`"));
    }
    table.iter().find_map(|(key, value)| find(key, value))
}

/// What a submitted manifest would run while it is built: a build script
/// (`build = "src/auth.rs"` turns a student file into one) or the lab as a
/// procedural macro. Builds run as the grader's user, root on Gradescope,
/// so a submission gets neither; the kit's labs have none.
fn build_time_code(table: &toml::Table) -> Option<&'static str> {
    let build = table
        .get("package")
        .and_then(|package| package.get("build"));
    if build.is_some_and(|build| build.as_bool() != Some(false)) {
        return Some("a build script (`build`)");
    }
    let proc_macro = table.get("lib").and_then(|lib| lib.get("proc-macro"));
    if proc_macro.and_then(toml::Value::as_bool) == Some(true) {
        return Some("a procedural macro (`proc-macro`)");
    }
    None
}

/// Dependencies `manifest` names that `starter` does not, in any
/// `[dependencies]`, `[dev-dependencies]` or `[build-dependencies]` table
/// (target-specific ones included). Unparsable manifests add nothing:
/// cargo reports them.
fn added_dependencies(manifest: Option<&toml::Table>, starter: &Path) -> Vec<String> {
    fn names(table: &toml::Table) -> Vec<String> {
        let tables = std::iter::once(table).chain(
            table
                .get("target")
                .and_then(toml::Value::as_table)
                .into_iter()
                .flat_map(|targets| targets.values().filter_map(toml::Value::as_table)),
        );
        let mut names: Vec<String> = tables
            .flat_map(|table| {
                ["dependencies", "dev-dependencies", "build-dependencies"]
                    .into_iter()
                    .filter_map(|key| table.get(key).and_then(toml::Value::as_table))
                    .flat_map(|deps| deps.keys().cloned())
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }
    let Some(manifest) = manifest else {
        return Vec::new();
    };
    let known = read_manifest(starter)
        .as_ref()
        .map(names)
        .unwrap_or_default();
    names(manifest)
        .into_iter()
        .filter(|name| !known.contains(name))
        .collect()
}

/// A `Cargo.toml`, parsed; `None` when it cannot be read or parsed.
fn read_manifest(path: &Path) -> Option<toml::Table> {
    toml::from_str(&fs::read_to_string(path).ok()?).ok()
}

/// The kit's own files that grading always takes from the instructor.
const INSTRUCTOR_OWNED: &[&str] = &[
    "tests",
    "xtask",
    "crates",
    ".cargo",
    "labs.toml",
    "Cargo.toml",
    "Cargo.lock",
];

/// Files of a kit-copy submission, among the checks, snapshots, runner,
/// catalogue and shared crates, that differ from the instructor's checkout.
///
/// Only files the instructor's copy has are compared: a file it lacks is
/// not one grading could have used. (Gradescope's copy of the kit leaves
/// out `tests/fixtures/`, which holds copies of the reference solutions;
/// an untouched clone must not be accused of changing them.)
pub fn tampered(root: &Path, dir: &Path) -> Vec<String> {
    let mut changed = Vec::new();
    for owned in INSTRUCTOR_OWNED {
        let path = dir.join(owned);
        let files = if path.is_dir() {
            files_under(&path)
                .into_iter()
                .map(|rel| format!("{owned}/{rel}"))
                .collect()
        } else if path.is_file() {
            vec![(*owned).to_owned()]
        } else {
            Vec::new()
        };
        changed.extend(files.into_iter().filter(|rel| {
            let theirs = root.join(rel);
            fs::symlink_metadata(&theirs).is_ok_and(|meta| meta.is_file())
                && !same_text(&dir.join(rel), &theirs)
        }));
    }
    changed
}

/// Whether the checkout holds `lab`'s reference answer: a solution whose
/// student files differ from the starter's. Gradescope's copy of the kit
/// keeps `solutions/` as copies of the starters (so that the workspace and
/// its lock file stay the kit's own), which is not a reference.
pub fn has_reference(root: &Path, lab: &Lab) -> bool {
    let solution = root.join(lab.solution_dir());
    let starter = root.join(lab.starter_dir());
    lab.student_files.iter().any(|file| {
        solution.join(file).is_file() && !same_text(&solution.join(file), &starter.join(file))
    })
}

/// Folders in `dir` (or in its `labs/`) that look like `lab`'s but are not
/// named as the kit names it: `lab2_jwt`, `Lab3-login`, `lab 2`. Relative to
/// `dir`. Grading does not guess which one is meant; the report names them.
pub fn near_misses(dir: &Path, lab: &Lab) -> Vec<String> {
    // Letters and digits only, lower case: `Lab3-login` → `lab3login`.
    let squash = |name: &str| -> String {
        name.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let id = squash(&lab.id);
    let exact = format!("{}-{}", lab.id, lab.slug);
    let mut close = Vec::new();
    for (parent, prefix) in [(dir.to_path_buf(), ""), (dir.join("labs"), "labs/")] {
        let Ok(entries) = fs::read_dir(&parent) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let squashed = squash(&name);
            // `lab1` must not match `lab10-…`.
            let is_this_lab = squashed
                .strip_prefix(&id)
                .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_digit()));
            if entry.path().is_dir() && is_this_lab && name != exact {
                close.push(format!("{prefix}{name}"));
            }
        }
    }
    close.sort();
    close
}

/// `items` in backticks, at most a screenful.
pub fn list(items: &[String]) -> String {
    const SHOWN: usize = 12;
    let mut text: Vec<String> = items
        .iter()
        .take(SHOWN)
        .map(|item| format!("`{item}`"))
        .collect();
    if items.len() > SHOWN {
        text.push(format!("and {} more", items.len() - SHOWN));
    }
    text.join(", ")
}

/// Whether two files have the same text, ignoring CR (a student on Windows
/// may have every line end in CRLF). A missing file is never the same.
pub fn same_text(a: &Path, b: &Path) -> bool {
    match (fs::read(a), fs::read(b)) {
        (Ok(a), Ok(b)) => {
            let strip =
                |bytes: Vec<u8>| -> Vec<u8> { bytes.into_iter().filter(|&b| b != b'\r').collect() };
            strip(a) == strip(b)
        }
        _ => false,
    }
}

/// Regular files under `dir`, relative, sorted; build output, VCS data and
/// links are skipped.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name();
            if name == "target" || name == ".git" {
                continue;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                walk(base, &path, out);
            } else if kind.is_file()
                && let Ok(rel) = path.strip_prefix(base)
            {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Why a folder is not a submission, in words an instructor can act on.
pub const NOT_A_SUBMISSION: &str = "neither a copy of the kit (no labs/ folder) nor the contents of labs/ (no labN-… folder): nothing to grade";

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch folder for one test, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("xtask-overlay-{}-{name}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
            Scratch(dir)
        }

        fn file(&self, rel: &str, text: &str) -> &Scratch {
            let path = self.0.join(rel);
            fs::create_dir_all(path.parent().unwrap_or(&self.0)).unwrap_or_else(|e| panic!("{e}"));
            fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
            self
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn lab() -> Lab {
        let catalog = labs_meta::Catalog::parse(
            r#"
            format_version = 1
            [[labs]]
            id = "lab1"
            slug = "basic-secret"
            title = "t"
            student_files = ["src/auth.rs"]
            hints = ["h"]
            checks = []
            "#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        catalog.labs[0].clone()
    }

    #[test]
    fn tells_the_layouts_apart() {
        let lab = lab();
        let s = Scratch::new("layouts");
        s.file("kit/labs/lab1-basic-secret/src/auth.rs", "")
            .file("labs-folder/lab1-basic-secret/src/auth.rs", "")
            .file("renamed/lab1-old-slug/src/auth.rs", "")
            .file("upload/auth.rs", "")
            .file("notes/notes.txt", "");
        let layout = |dir: &str| layout(&s.0.join(dir), &[&lab]);
        assert_eq!(layout("kit"), Some(Layout::Kit));
        assert_eq!(layout("labs-folder"), Some(Layout::LabsFolder));
        assert_eq!(layout("renamed"), Some(Layout::LabsFolder));
        assert_eq!(layout("upload"), Some(Layout::LabFolder));
        assert_eq!(layout("notes"), None);
        // A lab folder alone is only accepted when one lab is graded.
        assert_eq!(super::layout(&s.0.join("upload"), &[&lab, &lab]), None);
    }

    #[test]
    fn takes_only_student_files_and_notes_the_rest() {
        let lab = lab();
        let root = Scratch::new("root");
        root.file("labs/lab1-basic-secret/Cargo.toml", "[package]\n")
            .file("labs/lab1-basic-secret/src/auth.rs", "starter\n")
            .file("labs/lab1-basic-secret/src/main.rs", "fn main() {}\n");
        let sub = Scratch::new("submission");
        // CRLF line ends do not make a file "changed".
        sub.file("lab1-basic-secret/Cargo.toml", "[package]\r\n")
            .file("lab1-basic-secret/src/auth.rs", "mine\n")
            .file("lab1-basic-secret/src/main.rs", "fn main() { cheat() }\n");
        let taken = take(
            &root.0,
            &lab,
            &sub.0.join("lab1-basic-secret"),
            Layout::LabsFolder,
        );
        let files: Vec<&str> = taken.files.iter().map(|(rel, _)| rel.as_str()).collect();
        assert_eq!(files, ["src/auth.rs"]);
        assert!(taken.manifest.is_some());
        assert_eq!(taken.notes.len(), 1, "{:?}", taken.notes);
        assert!(
            taken.notes[0].contains("`src/main.rs`"),
            "{:?}",
            taken.notes
        );
    }

    #[test]
    fn refuses_a_manifest_that_reaches_outside_the_lab() {
        let lab = lab();
        let root = Scratch::new("outside-root");
        root.file("labs/lab1-basic-secret/Cargo.toml", "[package]\n")
            .file("labs/lab1-basic-secret/src/auth.rs", "starter\n");
        let sub = Scratch::new("outside-submission");
        sub.file(
            "lab1-basic-secret/Cargo.toml",
            "[package]\n[[bin]]\nname = \"lab1\"\npath = \"../../../../../solutions/lab1-basic-secret/src/main.rs\"\n",
        )
        .file("lab1-basic-secret/src/auth.rs", "mine\n");
        let taken = take(
            &root.0,
            &lab,
            &sub.0.join("lab1-basic-secret"),
            Layout::LabsFolder,
        );
        assert!(taken.manifest.is_none());
        assert!(
            taken.notes[0]
                .contains("points outside the lab folder (`path = \"../../../../../solutions"),
            "{:?}",
            taken.notes
        );
        // An added dependency is named, and the starter's manifest used.
        root.file(
            "labs/lab1-basic-secret/Cargo.toml",
            "[package]\n[dependencies]\nshop.workspace = true\n",
        );
        sub.file(
            "lab1-basic-secret/Cargo.toml",
            "[package]\n[dependencies]\nregex = \"1\"\nshop.workspace = true\n",
        );
        let taken = take(
            &root.0,
            &lab,
            &sub.0.join("lab1-basic-secret"),
            Layout::LabsFolder,
        );
        assert!(taken.manifest.is_none());
        assert!(
            taken.notes[0].starts_with("dependencies cannot be added (`regex`)"),
            "{:?}",
            taken.notes
        );
        // Code run at build time is refused, even from a student file.
        for manifest in [
            "[package]\nbuild = \"src/auth.rs\"\n[dependencies]\nshop.workspace = true\n",
            "[package]\n[lib]\nproc-macro = true\n[dependencies]\nshop.workspace = true\n",
        ] {
            sub.file("lab1-basic-secret/Cargo.toml", manifest);
            let taken = take(
                &root.0,
                &lab,
                &sub.0.join("lab1-basic-secret"),
                Layout::LabsFolder,
            );
            assert!(taken.manifest.is_none(), "{manifest}");
            assert!(
                taken.notes[0].contains("at build time"),
                "{:?}",
                taken.notes
            );
        }
        // Any other change to the manifest is used as submitted.
        sub.file(
            "lab1-basic-secret/Cargo.toml",
            "[package]\n[dependencies]\nshop.workspace = true\n[lints.rust]\nunused = \"allow\"\n",
        );
        let taken = take(
            &root.0,
            &lab,
            &sub.0.join("lab1-basic-secret"),
            Layout::LabsFolder,
        );
        assert!(taken.manifest.is_some(), "{:?}", taken.notes);
    }

    #[test]
    fn counts_as_tampered_only_what_the_instructor_has() {
        let root = Scratch::new("tamper-root");
        root.file("tests/src/lab1.rs", "checks\n")
            .file("tests/snapshots/lab1/a.snap", "expected\n")
            .file("Cargo.lock", "lock\n");
        let sub = Scratch::new("tamper-submission");
        // Gradescope's copy has no tests/fixtures/: a clone's are not changes.
        sub.file("tests/src/lab1.rs", "checks\r\n")
            .file("tests/snapshots/lab1/a.snap", "what my code prints\n")
            .file("tests/fixtures/class/perfect/auth.rs", "anything\n")
            .file("Cargo.lock", "lock\n");
        assert_eq!(tampered(&root.0, &sub.0), ["tests/snapshots/lab1/a.snap"]);
    }

    /// Unix only: making a symbolic link on Windows needs a privilege
    /// (or developer mode) that a student's machine may not have.
    #[cfg(unix)]
    #[test]
    fn never_follows_a_link() {
        let lab = lab();
        let root = Scratch::new("link-root");
        root.file("labs/lab1-basic-secret/src/auth.rs", "starter\n")
            .file("solution.rs", "the answer\n");
        let sub = Scratch::new("link-submission");
        fs::create_dir_all(sub.0.join("lab1-basic-secret/src")).unwrap_or_else(|e| panic!("{e}"));
        std::os::unix::fs::symlink(
            root.0.join("solution.rs"),
            sub.0.join("lab1-basic-secret/src/auth.rs"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let taken = take(
            &root.0,
            &lab,
            &sub.0.join("lab1-basic-secret"),
            Layout::LabsFolder,
        );
        assert!(taken.files.is_empty());
        assert!(
            taken.notes[0].contains("is missing (or is a link)"),
            "{:?}",
            taken.notes
        );
    }
}
