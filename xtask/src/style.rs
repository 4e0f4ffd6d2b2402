//! Colour only for a person at a terminal: never in CI, pipes, files or
//! when `NO_COLOR` is set (<https://no-color.org>).

use std::{io::IsTerminal, sync::OnceLock};

fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() && !ci
    })
}

fn paint(code: &str, text: &str) -> String {
    if enabled() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

pub fn green(text: &str) -> String {
    paint("32", text)
}

pub fn red(text: &str) -> String {
    paint("31", text)
}

pub fn bold(text: &str) -> String {
    paint("1", text)
}

pub fn dim(text: &str) -> String {
    paint("2", text)
}

/// Whether cargo should render compiler errors with colour.
pub fn compiler_colour() -> bool {
    enabled()
}

/// `text` without the colour codes above: files (feedback, results.json)
/// are read later, elsewhere, and the terminal's colour must not leak in.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            // An SGR sequence: ESC [ digits/semicolons m.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
