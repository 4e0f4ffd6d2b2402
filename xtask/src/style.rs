//! How text is painted: [`Style::Colour`] only for a person at a terminal
//! ([`Style::terminal`]: never in CI, pipes, files or when `NO_COLOR` is
//! set, <https://no-color.org>), [`Style::Plain`] for everything written
//! to a file. Renderers take a style; nothing strips colour afterwards.

use std::{io::IsTerminal, sync::OnceLock};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Plain,
    Colour,
}

impl Style {
    /// Colour when stdout is a terminal, outside CI and without `NO_COLOR`.
    pub fn terminal() -> Style {
        static TERMINAL: OnceLock<Style> = OnceLock::new();
        *TERMINAL.get_or_init(|| {
            let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
            if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() && !ci {
                Style::Colour
            } else {
                Style::Plain
            }
        })
    }

    fn paint(self, code: &str, text: &str) -> String {
        match self {
            Style::Colour => format!("\x1b[{code}m{text}\x1b[0m"),
            Style::Plain => text.to_owned(),
        }
    }

    pub fn green(self, text: &str) -> String {
        self.paint("32", text)
    }

    pub fn red(self, text: &str) -> String {
        self.paint("31", text)
    }

    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }

    /// Whether cargo should render compiler errors with colour.
    pub fn colour(self) -> bool {
        self == Style::Colour
    }
}
