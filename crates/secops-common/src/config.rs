//! Loading configuration and data files: JSON, or YAML for `.yaml`/`.yml`
//! settings. Every error names the file, line, column and field
//! (`ports.json:3:17: ports[2].port: ...`), and the types loaded deny
//! unknown keys, because a typo must not silently disable a check.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::exit::Error;

/// The syntax of a configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Json,
    Yaml,
}

impl Syntax {
    /// YAML for `.yaml` and `.yml`, JSON otherwise.
    pub fn of(path: &Path) -> Syntax {
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => Syntax::Yaml,
            _ => Syntax::Json,
        }
    }
}

/// Reads and parses `path`; errors are exit-2 errors naming the place.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<T, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| Error::bad_input(format!("cannot read {}: {err}", path.display())))?;
    parse(&text, Syntax::of(path))
        .map_err(|err| Error::bad_input(format!("{}:{err}", path.display())))
}

/// Parses text; errors read `LINE:COLUMN: FIELD: problem`.
pub fn parse<T: DeserializeOwned>(text: &str, syntax: Syntax) -> Result<T, String> {
    match syntax {
        Syntax::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
                let inner = err.inner();
                let suffix = format!(" at line {} column {}", inner.line(), inner.column());
                let message = inner.to_string();
                let message = message
                    .strip_suffix(&suffix)
                    .unwrap_or(&message)
                    .to_string();
                place(
                    inner.line(),
                    inner.column(),
                    &err.path().to_string(),
                    &message,
                )
            })?;
            de.end().map_err(|err| {
                place(
                    err.line(),
                    err.column(),
                    ".",
                    "trailing characters after the document",
                )
            })?;
            Ok(value)
        }
        Syntax::Yaml => {
            let de = serde_yaml_ng::Deserializer::from_str(text);
            serde_path_to_error::deserialize(de).map_err(|err| {
                let inner = err.inner();
                let (line, column) = inner.location().map_or((0, 0), |l| (l.line(), l.column()));
                let message = inner.to_string();
                // serde_yaml appends " at line L column C" too.
                let message = match message.find(" at line ") {
                    Some(at) => message[..at].to_string(),
                    None => message,
                };
                // serde_yaml_ng puts its own path first ("mounts./var: "); ours is printed instead.
                let message = match message.split_once(": ") {
                    Some((path, rest)) if !path.contains(' ') => rest.to_string(),
                    _ => message,
                };
                match inner.location() {
                    Some(_) => place(line, column, &err.path().to_string(), &message),
                    None => format!("{}: {message}", err.path()),
                }
            })
        }
    }
}

fn place(line: usize, column: usize, path: &str, message: &str) -> String {
    if path == "." {
        format!("{line}:{column}: {message}")
    } else {
        format!("{line}:{column}: {path}: {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Settings {
        threshold: u8,
        mounts: Vec<Mount>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Mount {
        path: String,
        warn: Option<u8>,
    }

    #[test]
    fn json_and_yaml_read_the_same() {
        let json: Settings = parse(
            r#"{"threshold": 80, "mounts": [{"path": "/", "warn": 70}]}"#,
            Syntax::Json,
        )
        .unwrap();
        let yaml: Settings = parse(
            "threshold: 80\nmounts:\n  - path: /\n    warn: 70\n",
            Syntax::Yaml,
        )
        .unwrap();
        assert_eq!(json, yaml);
    }

    #[test]
    fn errors_name_line_column_and_field() {
        let err = parse::<Settings>(
            "{\"threshold\": 80,\n \"mounts\": [{\"path\": \"/\", \"wran\": 1}]}",
            Syntax::Json,
        )
        .unwrap_err();
        assert!(
            err.starts_with("2:") && err.contains("mounts[0].wran: unknown field `wran`"),
            "{err}"
        );
        let err = parse::<Settings>(
            "threshold: 80\nmounts:\n  - path: /\n    warn: 300\n",
            Syntax::Yaml,
        )
        .unwrap_err();
        assert!(
            err.starts_with("4:") && err.contains("mounts[0].warn:"),
            "{err}"
        );
        let err = parse::<Settings>("threshold: [\n", Syntax::Yaml).unwrap_err();
        assert!(err.contains(':'), "{err}");
        let err =
            parse::<Settings>("{\"threshold\": 1, \"mounts\": []} x", Syntax::Json).unwrap_err();
        assert!(err.contains("trailing characters"), "{err}");
    }

    #[test]
    fn syntax_follows_the_extension() {
        assert_eq!(Syntax::of(Path::new("/etc/secops/disk.yaml")), Syntax::Yaml);
        assert_eq!(Syntax::of(Path::new("a.yml")), Syntax::Yaml);
        assert_eq!(Syntax::of(Path::new("ports.json")), Syntax::Json);
    }
}
