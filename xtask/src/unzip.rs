//! Zip files in a class folder: `carol.zip` is the student `carol`, unpacked
//! into a scratch folder and graded like a folder (an LMS export or an
//! e-mailed submission is often a zip).
//!
//! Only regular files are written. An entry whose path would land outside
//! the scratch folder (`../`, an absolute path) or that is a symbolic link
//! is left out and named, and a zip that would unpack to more than
//! [`MAX_BYTES`] is refused: it is a student's file, not the instructor's.

use std::{
    fs,
    io::{self, Read as _},
    path::{Path, PathBuf},
};

use anyhow::Context;

/// The most a submission may unpack to; a lab's sources are a few kilobytes.
pub const MAX_BYTES: u64 = 256 * 1024 * 1024;

/// Whether `path` names a zip file (by its extension, in any case).
pub fn is_zip(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("zip"))
}

/// Unpacks `zip` into `into` (created, and emptied first); returns the
/// entries left out, each with why.
pub fn unpack(zip: &Path, into: &Path) -> anyhow::Result<Vec<String>> {
    let file = fs::File::open(zip).with_context(|| format!("cannot open `{}`", zip.display()))?;
    let mut archive = zip::ZipArchive::new(io::BufReader::new(file))
        .with_context(|| format!("`{}` is not a readable zip file", zip.display()))?;
    if into.exists() {
        fs::remove_dir_all(into).with_context(|| format!("cannot clear `{}`", into.display()))?;
    }
    fs::create_dir_all(into).with_context(|| format!("cannot create `{}`", into.display()))?;
    let mut left_out = Vec::new();
    let mut written = 0u64;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .with_context(|| format!("cannot read entry {index} of `{}`", zip.display()))?;
        let name = entry.name().to_owned();
        let Some(rel) = entry.enclosed_name() else {
            left_out.push(format!("`{name}` (a path outside the zip's folder)"));
            continue;
        };
        if entry.is_symlink() {
            left_out.push(format!("`{name}` (a symbolic link)"));
            continue;
        }
        let path: PathBuf = into.join(rel);
        if entry.is_dir() {
            fs::create_dir_all(&path)
                .with_context(|| format!("cannot create `{}`", path.display()))?;
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        // The sizes in a zip's headers are the zip's word: count what is read.
        let mut contents = Vec::new();
        let limit = MAX_BYTES - written;
        (&mut entry)
            .take(limit + 1)
            .read_to_end(&mut contents)
            .with_context(|| format!("cannot unpack `{name}` from `{}`", zip.display()))?;
        written += contents.len() as u64;
        if written > MAX_BYTES {
            anyhow::bail!(
                "`{}` unpacks to more than {} MB",
                zip.display(),
                MAX_BYTES / 1024 / 1024
            );
        }
        fs::write(&path, contents).with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    Ok(left_out)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn unpacks_files_and_leaves_out_paths_that_escape() {
        let dir = std::env::temp_dir().join(format!("xtask-unzip-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let zip_path = dir.join("carol.zip");
        let mut writer =
            zip::ZipWriter::new(fs::File::create(&zip_path).unwrap_or_else(|e| panic!("{e}")));
        let options = zip::write::SimpleFileOptions::default();
        for (name, text) in [
            ("carol/lab1-basic-secret/src/auth.rs", "mine\n"),
            ("../../escape.rs", "no\n"),
        ] {
            writer
                .start_file(name, options)
                .unwrap_or_else(|e| panic!("{e}"));
            writer
                .write_all(text.as_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
        }
        writer.finish().unwrap_or_else(|e| panic!("{e}"));

        let into = dir.join("unpacked");
        let left_out = unpack(&zip_path, &into).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(
            fs::read_to_string(into.join("carol/lab1-basic-secret/src/auth.rs")).ok(),
            Some("mine\n".to_owned())
        );
        assert_eq!(left_out.len(), 1, "{left_out:?}");
        assert!(left_out[0].contains("escape.rs"), "{left_out:?}");
        assert!(!dir.join("escape.rs").exists());
        let _ = fs::remove_dir_all(&dir);
    }
}
