//! Rendering for people (tables, coloured diffs) and machines (JSON). No decisions are made here.

pub mod apply;
pub mod plan;
pub mod status;

use std::io::IsTerminal;

/// How human output is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    /// ANSI colours for diffs.
    pub color: bool,
}

impl Style {
    /// Colour only on a terminal and only when `NO_COLOR` is unset or empty.
    pub fn for_stdout() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        Style {
            color: std::io::stdout().is_terminal() && !no_color,
        }
    }

    pub const PLAIN: Style = Style { color: false };

    fn paint(self, style: anstyle::Style, text: &str) -> String {
        if self.color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    }

    pub fn removed(self, text: &str) -> String {
        self.paint(anstyle::AnsiColor::Red.on_default(), text)
    }

    pub fn added(self, text: &str) -> String {
        self.paint(anstyle::AnsiColor::Green.on_default(), text)
    }

    pub fn bold(self, text: &str) -> String {
        self.paint(anstyle::Style::new().bold(), text)
    }
}
