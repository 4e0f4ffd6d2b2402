//! Whether a student's Rust file pulls in code or text from outside its lab
//! folder at compile time: `#[path = "…"]` on a module, or `include!`,
//! `include_str!` and `include_bytes!`. A submission could compile the
//! instructor's reference solution that way (`#[path =
//! "../../../../solutions/lab1-basic-secret/src/auth.rs"] mod answer;`).
//!
//! The rule is simple and errs on the side of saying so: every use of those
//! macros, and every `path` in an attribute, must be a plain string literal
//! that stays inside the lab folder, seen from the file's own folder.
//! Anything else (`..` that climbs out, an absolute path, a path built with
//! `concat!`/`env!`, the macro renamed with `use … as`) is reported.
//! Comments and string contents are skipped, so a comment that mentions
//! `include!` is not.
//!
//! This is a tripwire for the obvious ways, not a sandbox: code that reads
//! the solutions when it runs is not seen (see docs/grading.md).

use std::path::{Component, Path};

/// The first way `source` (the text of `file`, relative to the lab folder)
/// reaches outside the lab folder, quoted for a report.
pub fn reaches_outside(file: &str, source: &str) -> Option<String> {
    let tokens = tokens(source);
    for (index, token) in tokens.iter().enumerate() {
        let Token::Ident(name) = token else { continue };
        let next = |n: usize| tokens.get(index + n);
        match name.as_str() {
            "include" | "include_str" | "include_bytes" => {
                let literal = match (next(1), next(2), next(3), next(4)) {
                    (
                        Some(Token::Punct('!')),
                        Some(Token::Punct('(' | '[' | '{')),
                        Some(Token::Str(path)),
                        Some(Token::Punct(')' | ']' | '}' | ',')),
                    ) => Some(path),
                    _ => None,
                };
                match literal {
                    Some(path) if stays_inside(file, path) => {}
                    Some(path) => return Some(format!("`{name}!(\"{path}\")`")),
                    None => {
                        return Some(format!(
                            "`{name}` used with something other than a plain path in quotes"
                        ));
                    }
                }
            }
            "path" if in_attribute(&tokens, index) => match (next(1), next(2)) {
                (Some(Token::Punct('=')), Some(Token::Str(path))) if !stays_inside(file, path) => {
                    return Some(format!("`#[path = \"{path}\"]`"));
                }
                (Some(Token::Punct('=')), Some(Token::Str(_))) => {}
                (Some(Token::Punct('=')), _) => {
                    return Some(
                        "`#[path = …]` with something other than a plain path in quotes".to_owned(),
                    );
                }
                // `path` alone in an attribute (not `path = …`): not a module path.
                _ => {}
            },
            _ => {}
        }
    }
    None
}

/// Whether `target`, seen from the folder of `file` (both relative to the
/// lab folder), is inside the lab folder.
fn stays_inside(file: &str, target: &str) -> bool {
    let target = Path::new(target);
    if target.has_root() || target.is_absolute() || target.to_string_lossy().contains(':') {
        return false;
    }
    let mut depth: usize = Path::new(file)
        .parent()
        .map_or(0, |dir| dir.components().count());
    for component in target.components() {
        match component {
            Component::ParentDir if depth == 0 => return false,
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    true
}

/// Whether the token at `index` is inside `#[…]` or `#![…]`.
fn in_attribute(tokens: &[Token], index: usize) -> bool {
    let mut depth = 0usize;
    for i in (0..index).rev() {
        match tokens[i] {
            Token::Punct(']') => depth += 1,
            Token::Punct('[') if depth > 0 => depth -= 1,
            Token::Punct('[') => {
                return match i.checked_sub(1).map(|j| &tokens[j]) {
                    Some(Token::Punct('#')) => true,
                    Some(Token::Punct('!')) => {
                        matches!(
                            i.checked_sub(2).map(|j| &tokens[j]),
                            Some(Token::Punct('#'))
                        )
                    }
                    _ => false,
                };
            }
            _ => {}
        }
    }
    false
}

#[derive(Debug, PartialEq)]
enum Token {
    Ident(String),
    /// A string literal's contents (escapes left as written).
    Str(String),
    Punct(char),
}

/// Rust source as identifiers, string literals and punctuation; comments,
/// whitespace, numbers, characters and lifetimes are dropped.
fn tokens(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            // Block comments nest in Rust.
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            let (text, end) = quoted(&chars, i + 1);
            out.push(Token::Str(text));
            i = end;
        } else if (c == 'r' || c == 'b')
            && let Some((text, end)) = raw_or_byte_string(&chars, i)
        {
            out.push(Token::Str(text));
            i = end;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\'') or a lifetime ('a): skip it.
            if chars.get(i + 1) == Some(&'\\') {
                // The quote, the backslash and the escaped character.
                i += 3;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
        } else {
            if !c.is_whitespace() {
                out.push(Token::Punct(c));
            }
            i += 1;
        }
    }
    out
}

/// A `"…"` string's contents from `start` (after the quote), and the index
/// after its closing quote.
fn quoted(chars: &[char], start: usize) -> (String, usize) {
    let mut i = start;
    let mut text = String::new();
    while i < chars.len() && chars[i] != '"' {
        if chars[i] == '\\' && i + 1 < chars.len() {
            text.push(chars[i]);
            i += 1;
        }
        text.push(chars[i]);
        i += 1;
    }
    (text, i + 1)
}

/// `r"…"`, `r#"…"#`, `b"…"`, `br#"…"#` at `start`, if that is what is there.
fn raw_or_byte_string(chars: &[char], start: usize) -> Option<(String, usize)> {
    // Not the tail of an identifier such as `bar"`: the tokenizer only
    // calls this at the start of a word.
    let mut i = start;
    if chars.get(i) == Some(&'b') {
        i += 1;
    }
    let raw = chars.get(i) == Some(&'r');
    if raw {
        i += 1;
    }
    let mut hashes = 0;
    while raw && chars.get(i) == Some(&'#') {
        hashes += 1;
        i += 1;
    }
    if chars.get(i) != Some(&'"') || i == start {
        return None;
    }
    if !raw {
        return Some(quoted(chars, i + 1));
    }
    let body = i + 1;
    let mut end = body;
    while end < chars.len() {
        if chars[end] == '"' && (1..=hashes).all(|n| chars.get(end + n) == Some(&'#')) {
            return Some((chars[body..end].iter().collect(), end + 1 + hashes));
        }
        end += 1;
    }
    Some((chars[body..].iter().collect(), chars.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_what_climbs_out_of_the_lab() {
        let cases = [
            (
                "#[path = \"../../../solutions/lab1-basic-secret/src/auth.rs\"]\nmod answer;",
                Some("`#[path = \"../../../solutions/lab1-basic-secret/src/auth.rs\"]`"),
            ),
            (
                "include!(\"/work/solutions/lab1-basic-secret/src/auth.rs\");",
                Some("`include!(\"/work/solutions/lab1-basic-secret/src/auth.rs\")`"),
            ),
            (
                "const A: &str = include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/../../x\"));",
                Some("`include_str` used with something other than a plain path in quotes"),
            ),
            (
                "use std::include as grab;",
                Some("`include` used with something other than a plain path in quotes"),
            ),
            (
                "#[cfg_attr(all(), path = r#\"../../x.rs\"#)] mod m;",
                Some("`#[path = \"../../x.rs\"]`"),
            ),
        ];
        for (source, expected) in cases {
            assert_eq!(
                reaches_outside("src/auth.rs", source).as_deref(),
                expected,
                "{source}"
            );
        }
    }

    #[test]
    fn lets_what_stays_in_the_lab_through() {
        let sources = [
            // Inside the lab folder: src/../README.md.
            "const HELP: &str = include_str!(\"../README.md\");",
            "#[path = \"helpers.rs\"] mod helpers;",
            // Mentions in comments and strings are not uses.
            "// include!(\"../../../solutions/x.rs\")\n/* #[path = \"/etc\"] */ fn f() {}",
            "let s = \"include!(\\\"/etc/passwd\\\")\"; let path = \"../../x\";",
            "fn f<'a>(c: char) -> bool { c == '\"' || c == '\\'' }",
        ];
        for source in sources {
            assert_eq!(reaches_outside("src/auth.rs", source), None, "{source}");
        }
    }
}
