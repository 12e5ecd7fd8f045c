//! Rendering for people (tables, coloured diffs) and machines (JSON). No decisions are made here.
//! Text that comes from manifests, Docker or a node reaches the terminal with its control
//! characters escaped, so that it cannot move the cursor, recolour or hide other output.

pub mod apply;
pub mod fleet;
pub mod fleet_dashboard;
pub mod history;
pub mod plan;
pub mod status;

use std::borrow::Cow;
use std::io::IsTerminal;

/// `text` with every control character but newline and tab written as a Rust escape (`\u{1b}`).
pub fn escaped(text: &str) -> Cow<'_, str> {
    let is_hostile = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.contains(is_hostile) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if is_hostile(c) {
                    c.escape_debug().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

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

#[cfg(test)]
mod tests {
    use super::escaped;

    #[test]
    fn control_characters_are_shown_escaped_but_lines_and_tabs_stay() {
        assert_eq!(escaped("plain\ttext\nnext"), "plain\ttext\nnext");
        assert_eq!(
            escaped("\u{1b}[2J\u{1b}]0;title\u{7}x\r\u{0}\u{9b}"),
            "\\u{1b}[2J\\u{1b}]0;title\\u{7}x\\r\\0\\u{9b}"
        );
    }
}
