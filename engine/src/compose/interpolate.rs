//! Compose's variable syntax: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`,
//! `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}`, `$VAR` and the `$$` escape, plus the `.env`
//! format that feeds it and `env_file`. It does not read files or the process environment: the
//! caller passes the variables in.

use std::collections::BTreeMap;

/// Why one value could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpolationProblem {
    /// `${VAR:?message}` or `${VAR?message}` with the variable missing.
    Required { variable: String, message: String },
    /// An unclosed `${` or a name that is not a variable name.
    Syntax(String),
}

/// The result of interpolating one value: its text and the variables that were not set (each
/// became the empty string, as compose does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpolated {
    pub text: String,
    pub unset: Vec<String>,
}

/// Replaces every variable reference in `text` with its value from `variables`.
pub fn interpolate(
    text: &str,
    variables: &BTreeMap<String, String>,
) -> Result<Interpolated, InterpolationProblem> {
    let mut out = String::with_capacity(text.len());
    let mut unset = Vec::new();
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(braced) = after.strip_prefix('{') {
            let end = closing_brace(braced).ok_or_else(|| {
                InterpolationProblem::Syntax(format!("unclosed \"${{\" in {text:?}"))
            })?;
            out.push_str(&expand(&braced[..end], variables, &mut unset)?);
            rest = &braced[end + 1..];
        } else {
            let name_length = variable_name_length(after);
            if name_length == 0 {
                out.push('$');
                rest = after;
            } else {
                let name = &after[..name_length];
                match variables.get(name) {
                    Some(value) => out.push_str(value),
                    None => unset.push(name.to_string()),
                }
                rest = &after[name_length..];
            }
        }
    }
    out.push_str(rest);
    Ok(Interpolated { text: out, unset })
}

/// The index of the `}` that closes a `${`, allowing nested `${…}` in defaults.
fn closing_brace(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (index, byte) in text.bytes().enumerate() {
        match byte {
            b'{' => depth += 1,
            b'}' if depth == 0 => return Some(index),
            b'}' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn variable_name_length(text: &str) -> usize {
    let bytes = text.as_bytes();
    if bytes
        .first()
        .is_none_or(|b| !(b.is_ascii_alphabetic() || *b == b'_'))
    {
        return 0;
    }
    bytes
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count()
}

/// Expands the inside of one `${…}`.
fn expand(
    inner: &str,
    variables: &BTreeMap<String, String>,
    unset: &mut Vec<String>,
) -> Result<String, InterpolationProblem> {
    let name_length = variable_name_length(inner);
    let name = &inner[..name_length];
    if name.is_empty() {
        return Err(InterpolationProblem::Syntax(format!(
            "invalid variable reference \"${{{inner}}}\""
        )));
    }
    let operator = &inner[name_length..];
    let value = variables.get(name);
    let non_empty = value.filter(|value| !value.is_empty());
    let nested = |text: &str, unset: &mut Vec<String>| -> Result<String, InterpolationProblem> {
        let expanded = interpolate(text, variables)?;
        unset.extend(expanded.unset);
        Ok(expanded.text)
    };
    let required = |message: &str| InterpolationProblem::Required {
        variable: name.to_string(),
        message: message.to_string(),
    };
    if operator.is_empty() {
        return Ok(match value {
            Some(value) => value.clone(),
            None => {
                unset.push(name.to_string());
                String::new()
            }
        });
    }
    if let Some(default) = operator.strip_prefix(":-") {
        return match non_empty {
            Some(value) => Ok(value.clone()),
            None => nested(default, unset),
        };
    }
    if let Some(message) = operator.strip_prefix(":?") {
        return non_empty.cloned().ok_or_else(|| required(message));
    }
    if let Some(alternative) = operator.strip_prefix(":+") {
        return match non_empty {
            Some(_) => nested(alternative, unset),
            None => Ok(String::new()),
        };
    }
    if let Some(default) = operator.strip_prefix('-') {
        return match value {
            Some(value) => Ok(value.clone()),
            None => nested(default, unset),
        };
    }
    if let Some(message) = operator.strip_prefix('?') {
        return value.cloned().ok_or_else(|| required(message));
    }
    if let Some(alternative) = operator.strip_prefix('+') {
        return match value {
            Some(_) => nested(alternative, unset),
            None => Ok(String::new()),
        };
    }
    Err(InterpolationProblem::Syntax(format!(
        "invalid variable reference \"${{{inner}}}\""
    )))
}

/// One `KEY=value` line of a `.env` or `env_file` file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotenvLineError {
    pub line: usize,
    pub message: String,
}

/// Reads the `.env` format: `KEY=value` lines, optional `export `, `#` comments, blank lines,
/// single-quoted (literal) and double-quoted (with `\n`, `\"` and `\\` escapes) values, and
/// unquoted values whose ` #` starts a comment. A bare `KEY` line has no value and is skipped.
pub fn parse_dotenv(text: &str) -> Result<BTreeMap<String, String>, DotenvLineError> {
    let mut values = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.is_empty() || !is_env_key(key) {
            return Err(DotenvLineError {
                line: index + 1,
                message: format!("invalid variable name {key:?}"),
            });
        }
        let value = dotenv_value(value.trim_start()).ok_or_else(|| DotenvLineError {
            line: index + 1,
            message: format!("unterminated quote in the value of {key}"),
        })?;
        values.insert(key.to_string(), value);
    }
    Ok(values)
}

/// Compose accepts names such as `discovery.type` in env files too.
fn is_env_key(key: &str) -> bool {
    key.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

fn dotenv_value(value: &str) -> Option<String> {
    if let Some(quoted) = value.strip_prefix('\'') {
        return quoted.find('\'').map(|end| quoted[..end].to_string());
    }
    if let Some(quoted) = value.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(out),
                '\\' => match chars.next()? {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    other => out.push(other),
                },
                other => out.push(other),
            }
        }
        return None;
    }
    let unquoted = match value.find(" #") {
        Some(comment) => &value[..comment],
        None => value,
    };
    Some(unquoted.trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variables() -> BTreeMap<String, String> {
        [("SET", "value"), ("EMPTY", "")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn text(input: &str) -> String {
        interpolate(input, &variables()).unwrap().text
    }

    #[test]
    fn expands_every_form() {
        assert_eq!(text("${SET}/$SET"), "value/value");
        assert_eq!(text("${MISSING:-fallback}"), "fallback");
        assert_eq!(text("${EMPTY:-fallback}"), "fallback");
        assert_eq!(text("${EMPTY-fallback}"), "");
        assert_eq!(text("${MISSING-fallback}"), "fallback");
        assert_eq!(text("${SET:+alt}|${EMPTY:+alt}|${EMPTY+alt}"), "alt||alt");
        assert_eq!(text("${MISSING:-${SET}}"), "value");
        assert_eq!(text("$$HOME costs $5"), "$HOME costs $5");
    }

    #[test]
    fn reports_unset_variables_and_required_ones() {
        let result = interpolate("a${MISSING}b$OTHER", &variables()).unwrap();
        assert_eq!(result.text, "ab");
        assert_eq!(result.unset, ["MISSING", "OTHER"]);
        assert_eq!(
            interpolate("${MISSING:?set it}", &variables()),
            Err(InterpolationProblem::Required {
                variable: "MISSING".to_string(),
                message: "set it".to_string()
            })
        );
        assert!(matches!(
            interpolate("${SET", &variables()),
            Err(InterpolationProblem::Syntax(_))
        ));
    }

    #[test]
    fn reads_dotenv_files() {
        let parsed = parse_dotenv(
            "# comment\n\nexport A=1\nB = 'x # y'\nC=\"line\\nnext\"\nD=plain # note\nBARE\n",
        )
        .unwrap();
        assert_eq!(parsed["A"], "1");
        assert_eq!(parsed["B"], "x # y");
        assert_eq!(parsed["C"], "line\nnext");
        assert_eq!(parsed["D"], "plain");
        assert!(!parsed.contains_key("BARE"));
        assert_eq!(
            parse_dotenv("A=\"open\n").unwrap_err(),
            DotenvLineError {
                line: 1,
                message: "unterminated quote in the value of A".to_string()
            }
        );
    }
}
