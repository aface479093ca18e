//! Loading configuration and data files: JSON, or YAML for `.yaml`/`.yml`
//! settings. Every error names the file, line, column and field
//! (`ports.json:3:17: ports[2].port: ...`), and the types loaded deny
//! unknown keys, because a typo must not silently disable a check.
//!
//! Input is bounded before a parser sees it. YAML (settings, policies,
//! rules, inventories: every YAML read in the workspace goes through
//! [`parse`] or [`parse_within`]) may be at most [`SETTINGS`]`.max_bytes`
//! (1 MiB; [`INVENTORY`]: 64 MiB) and nest at
//! most [`SETTINGS`]`.max_depth` (64) levels, block and flow nesting
//! together; both are checked by a linear scan before the YAML parser runs,
//! because the parser takes time quadratic in the nesting depth (180 KB of
//! `[[[[...` took 42 s). JSON files read with [`load`] may be at most
//! [`MAX_JSON_BYTES`] (256 MiB; models and manifests are JSON too); JSON
//! nesting is bounded by serde_json's own limit of 128 levels.

use std::io::Read;
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

/// How large and how deeply nested a YAML document may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of text.
    pub max_bytes: usize,
    /// Levels of nesting: block mappings and sequences (one per key or
    /// `- ` that opens one, on its own line or compact) plus flow `[`/`{`.
    pub max_depth: usize,
}

/// The limits of every YAML document read through [`parse`] and [`load`].
/// The deepest shipped file nests 5 levels; an Ansible inventory takes 2
/// per level of `children`.
pub const SETTINGS: Limits = Limits {
    max_bytes: 1 << 20,
    max_depth: 64,
};

/// The limits of an inventory (Ansible YAML, `group_vars`, `host_vars`):
/// tens of thousands of hosts take more than a settings file, and
/// secops-inventory reads any inventory file up to 64 MiB; the nesting
/// limit is the same.
pub const INVENTORY: Limits = Limits {
    max_bytes: 64 << 20,
    max_depth: 64,
};

/// The largest JSON file [`load`] reads.
pub const MAX_JSON_BYTES: u64 = 256 << 20;

/// Reads and parses `path`; errors are exit-2 errors naming the place.
/// The file's size is checked before it is read (and no more than the
/// limit is ever read, for a FIFO or a device).
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<T, Error> {
    let (text, syntax) = read_settings(path)?;
    parse(&text, syntax).map_err(|err| Error::bad_input(format!("{}:{err}", path.display())))
}

/// Reads a settings file (YAML by its name, else JSON) within its limit,
/// for a caller that parses it itself.
pub fn read_settings(path: &Path) -> Result<(String, Syntax), Error> {
    let syntax = Syntax::of(path);
    let (limit, what) = match syntax {
        Syntax::Yaml => (SETTINGS.max_bytes as u64, "1 MiB, for a YAML file"),
        Syntax::Json => (MAX_JSON_BYTES, "256 MiB, for a JSON file"),
    };
    Ok((read_text(path, limit, what)?, syntax))
}

/// Reads a UTF-8 text file (`-`: stdin) of at most `limit` bytes; `what`
/// names the limit in the error (`1 MiB, for a YAML file`). The size is
/// checked before reading, and no more than the limit is ever read (a
/// FIFO, a device, a pipe), so no input makes a reader hold more.
pub fn read_text(path: &Path, limit: u64, what: &str) -> Result<String, Error> {
    let cannot =
        |err: std::io::Error| Error::bad_input(format!("cannot read {}: {err}", path.display()));
    let over = |size: u64| {
        Error::bad_input(format!(
            "{}: {size} bytes or more, over the limit of {limit} bytes ({what}); refused before parsing",
            path.display()
        ))
    };
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        std::io::stdin()
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(cannot)?;
    } else {
        let file = std::fs::File::open(path).map_err(cannot)?;
        let size = file.metadata().map_err(cannot)?.len();
        if size > limit {
            return Err(over(size));
        }
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(cannot)?;
    }
    if bytes.len() as u64 > limit {
        return Err(over(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|err| {
        cannot(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 (byte {})", err.utf8_error().valid_up_to()),
        ))
    })
}

/// Parses text; errors read `LINE:COLUMN: FIELD: problem`. YAML is checked
/// against [`SETTINGS`] first ([`check_yaml`]).
pub fn parse<T: DeserializeOwned>(text: &str, syntax: Syntax) -> Result<T, String> {
    parse_within(text, syntax, &SETTINGS)
}

/// [`parse`], with YAML checked against `limits` ([`INVENTORY`]).
pub fn parse_within<T: DeserializeOwned>(
    text: &str,
    syntax: Syntax,
    limits: &Limits,
) -> Result<T, String> {
    if syntax == Syntax::Yaml {
        check_yaml(text, limits)?;
    }
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

/// Checks YAML text against `limits` without parsing it: its size, then its
/// nesting, by one linear scan of block indentation, compact `- `/`key: `
/// nodes, flow brackets, quoted and block scalars and comments. The scan
/// may count a level more than the parser would (never fewer), so a
/// document within the limits is never refused for a level it lacks.
/// Errors read `LINE:COLUMN: FIELD: problem`, the field being the keys
/// down to where the limit was passed.
pub fn check_yaml(text: &str, limits: &Limits) -> Result<(), String> {
    if text.len() > limits.max_bytes {
        return Err(place(
            1,
            1,
            ".",
            &format!(
                "{} bytes, over the limit of {} bytes for a YAML document; refused before parsing",
                text.len(),
                limits.max_bytes
            ),
        ));
    }
    Nesting::new(limits.max_depth).scan(text)
}

/// What the scan is inside of at the start of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Within {
    Block,
    /// A quoted scalar continued from an earlier line.
    Quoted(u8),
    /// The content of a block scalar (`|`, `>`) whose parent line is
    /// indented this much: lines indented more, or blank, belong to it.
    Literal(usize),
}

/// One open level: the column that opened it and, for a mapping opened by
/// a key, the key.
struct Level {
    column: usize,
    key: Option<String>,
}

struct Nesting {
    max: usize,
    /// Open block levels, outermost first.
    block: Vec<Level>,
    /// Open flow collections (`[`, `{`).
    flow: usize,
    within: Within,
    line: usize,
}

impl Nesting {
    fn new(max: usize) -> Nesting {
        Nesting {
            max,
            block: Vec::new(),
            flow: 0,
            within: Within::Block,
            line: 0,
        }
    }

    fn scan(mut self, text: &str) -> Result<(), String> {
        for (n, line) in text.split('\n').enumerate() {
            self.line = n + 1;
            let line = line.strip_suffix('\r').unwrap_or(line).as_bytes();
            self.scan_line(line)?;
        }
        Ok(())
    }

    fn too_deep(&self, at: usize) -> String {
        let keys: Vec<&str> = self.block.iter().filter_map(|l| l.key.as_deref()).collect();
        let field = match keys.is_empty() {
            true => ".".to_string(),
            false => keys.join("."),
        };
        place(
            self.line,
            at + 1,
            &field,
            &format!(
                "nested more than {} levels deep, the limit for a YAML document (checked before parsing)",
                self.max
            ),
        )
    }

    fn open_block(&mut self, column: usize, key: Option<String>) -> Result<(), String> {
        self.block.push(Level { column, key });
        self.check(column)
    }

    fn check(&self, at: usize) -> Result<(), String> {
        match self.block.len() + self.flow > self.max {
            true => Err(self.too_deep(at)),
            false => Ok(()),
        }
    }

    fn scan_line(&mut self, line: &[u8]) -> Result<(), String> {
        let indent = line.iter().take_while(|b| **b == b' ').count();
        let blank = line[indent..].iter().all(|b| matches!(b, b' ' | b'\t'));
        let mut pos = 0;
        match self.within {
            Within::Literal(parent) if blank || indent > parent => return Ok(()),
            Within::Literal(_) => self.within = Within::Block,
            Within::Quoted(quote) => match skip_quoted(line, 0, quote) {
                Some(end) => {
                    self.within = Within::Block;
                    pos = end;
                }
                None => return Ok(()),
            },
            Within::Block => {}
        }
        if pos == 0 && self.flow == 0 {
            if blank || line[indent] == b'#' {
                return Ok(());
            }
            if line.starts_with(b"%") {
                return Ok(()); // a directive
            }
            if is_marker(line, b"---") || is_marker(line, b"...") {
                self.block.clear();
                pos = 3;
            } else {
                while self.block.last().is_some_and(|l| l.column >= indent) {
                    self.block.pop();
                }
                pos = indent;
            }
        }
        self.scan_tokens(line, pos, indent)
    }

    /// Scans a line from `pos`: in flow context bracket by bracket, in
    /// block context node by node.
    fn scan_tokens(&mut self, line: &[u8], mut pos: usize, indent: usize) -> Result<(), String> {
        while pos < line.len() {
            let b = line[pos];
            if self.flow > 0 {
                match b {
                    b'[' | b'{' => {
                        self.flow += 1;
                        self.check(pos)?;
                    }
                    b']' | b'}' => self.flow -= 1,
                    b'"' | b'\'' => match skip_quoted(line, pos + 1, b) {
                        Some(end) => {
                            pos = end;
                            continue;
                        }
                        None => {
                            self.within = Within::Quoted(b);
                            return Ok(());
                        }
                    },
                    b'#' if pos == 0 || matches!(line[pos - 1], b' ' | b'\t') => return Ok(()),
                    _ => {}
                }
                pos += 1;
                continue;
            }
            match b {
                b' ' | b'\t' => pos += 1,
                b'#' if pos == 0 || matches!(line[pos - 1], b' ' | b'\t') => return Ok(()),
                b'-' | b'?' if is_indicator(line, pos) => {
                    self.open_block(pos, None)?;
                    pos += 1;
                }
                b':' if is_indicator(line, pos) => pos += 1,
                b'[' | b'{' => {
                    self.flow = 1;
                    self.check(pos)?;
                    pos += 1;
                }
                b'|' | b'>' => {
                    self.within = Within::Literal(indent);
                    return Ok(());
                }
                b'&' | b'!' | b'*' => {
                    // An anchor, tag or alias: one token.
                    pos += line[pos..]
                        .iter()
                        .take_while(|b| {
                            !matches!(b, b' ' | b'\t' | b',' | b'[' | b']' | b'{' | b'}')
                        })
                        .count();
                }
                b'"' | b'\'' => {
                    let Some(end) = skip_quoted(line, pos + 1, b) else {
                        self.within = Within::Quoted(b);
                        return Ok(());
                    };
                    let after = end + line[end..].iter().take_while(|b| **b == b' ').count();
                    if line.get(after) == Some(&b':') && is_indicator(line, after) {
                        let key = String::from_utf8_lossy(&line[pos + 1..end - 1]);
                        self.open_block(pos, Some(short(&key)))?;
                        pos = after + 1;
                    } else {
                        pos = end;
                    }
                }
                _ => {
                    // A plain scalar, up to `: ` when it is a key, else to
                    // a comment or the end of the line.
                    let mut end = pos;
                    while end < line.len() {
                        match line[end] {
                            b':' if is_indicator(line, end) => break,
                            b'#' if matches!(line[end - 1], b' ' | b'\t') => return Ok(()),
                            _ => end += 1,
                        }
                    }
                    if end == line.len() {
                        return Ok(());
                    }
                    let key = String::from_utf8_lossy(&line[pos..end]);
                    self.open_block(pos, Some(short(key.trim_end())))?;
                    pos = end + 1;
                }
            }
        }
        Ok(())
    }
}

/// Whether `line[pos]` (`-`, `?`, `:`) is an indicator: followed by a
/// space, a tab or the end of the line.
fn is_indicator(line: &[u8], pos: usize) -> bool {
    matches!(line.get(pos + 1), None | Some(b' ' | b'\t'))
}

/// Whether the line is the document marker `mark` (`---`, `...`).
fn is_marker(line: &[u8], mark: &[u8]) -> bool {
    line.starts_with(mark) && matches!(line.get(3), None | Some(b' ' | b'\t'))
}

/// Where a quoted scalar that continues at `from` ends (just past its
/// closing quote), or `None` when it goes on past this line.
fn skip_quoted(line: &[u8], mut from: usize, quote: u8) -> Option<usize> {
    while from < line.len() {
        match line[from] {
            b'\\' if quote == b'"' => from += 2,
            b'\'' if quote == b'\'' && line.get(from + 1) == Some(&b'\'') => from += 2,
            b if b == quote => return Some(from + 1),
            _ => from += 1,
        }
    }
    None
}

/// A key as an error names it: at most 40 characters.
fn short(key: &str) -> String {
    match key.char_indices().nth(40) {
        Some((at, _)) => format!("{}...", &key[..at]),
        None => key.to_string(),
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
    /// The smallest depth limit `text` passes.
    fn depth(text: &str) -> usize {
        (0..=SETTINGS.max_depth)
            .find(|max| {
                let limits = Limits {
                    max_depth: *max,
                    ..SETTINGS
                };
                check_yaml(text, &limits).is_ok()
            })
            .unwrap_or_else(|| panic!("deeper than the limit: {text}"))
    }

    #[test]
    fn nesting_is_counted_as_the_parser_sees_it_or_more() {
        assert_eq!(depth("a: 1\nb: [1, 2]\n"), 2);
        assert_eq!(depth("a:\n  b:\n    c: 1\n  d: 2\ne: 3\n"), 3);
        assert_eq!(depth("- - - x\n"), 3);
        assert_eq!(depth("- a: 1\n  b:\n    - {c: [d]}\n"), 5);
        assert_eq!(
            depth("a: {b: [c, \"]]]\\\" [[\", '[[['' {{']}\n"),
            3,
            "brackets in quotes"
        );
        assert_eq!(depth("a: |\n  [[[[\n  - - - -\nb: x # [[[[\n"), 1);
        assert_eq!(depth("a: \"x\n [[[[\" \nb: 'y\n {{{'\n"), 1);
        assert_eq!(depth("a: [1,\n  [2,\n   [3]]]\nb: 1\n"), 4);
        assert_eq!(depth("url: http://x/[a]#b\nk: v#[\n"), 1);
        assert_eq!(depth("--- [a]\n---\na: {b: 1}\n...\n"), 2);
        assert_eq!(depth("? [a, b]\n: x\n"), 2);
        assert_eq!(depth("&a k: !!map {x: *a}\n"), 2);
    }

    #[test]
    fn the_shipped_settings_are_far_below_the_limit() {
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
        let mut seen = 0;
        for entry in std::fs::read_dir(config).unwrap() {
            let path = entry.unwrap().path();
            if Syntax::of(&path) == Syntax::Yaml {
                let text = std::fs::read_to_string(&path).unwrap();
                let deep = depth(&text);
                assert!(deep <= 8, "{}: {deep} levels", path.display());
                seen += 1;
            }
        }
        assert!(seen >= 3);
    }

    /// A document nested `n` levels: flow, block mappings, compact
    /// sequences.
    fn deep(kind: &str, n: usize) -> String {
        match kind {
            "flow" => format!("threshold: {}{}\n", "[".repeat(n), "]".repeat(n)),
            "block" => (0..n)
                .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
                .collect(),
            _ => format!("mounts:\n  {}x\n", "- ".repeat(n)),
        }
    }

    #[test]
    fn deep_or_large_yaml_is_refused_before_the_parser_runs() {
        // 90,000 levels of [ (180 KB) took 42 s in the parser (debug
        // build) before the guard.
        let started = std::time::Instant::now();
        for (kind, n) in [("flow", 90_000), ("block", 700), ("compact", 90_000)] {
            let text = deep(kind, n);
            assert!(text.len() < SETTINGS.max_bytes, "{kind}");
            let err = parse::<serde_json::Value>(&text, Syntax::Yaml).unwrap_err();
            assert!(
                err.contains("nested more than 64 levels deep"),
                "{kind}: {err}"
            );
            match kind {
                "flow" => assert!(err.starts_with("1:75: threshold: "), "{err}"),
                "block" => assert!(err.starts_with("65:129: k0.k1.k2."), "{err}"),
                _ => assert!(err.starts_with("2:129: mounts: "), "{err}"),
            }
            // Within the limit, parsed as before.
            let text = deep(kind, SETTINGS.max_depth - 1);
            parse::<serde_json::Value>(&text, Syntax::Yaml).unwrap();
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5));

        let big = format!("a: \"{}\"\n", "x".repeat(SETTINGS.max_bytes));
        let err = parse::<serde_json::Value>(&big, Syntax::Yaml).unwrap_err();
        assert!(
            err.starts_with("1:1: ") && err.contains("over the limit of 1048576 bytes"),
            "{err}"
        );
    }

    #[test]
    fn load_names_the_file_and_reads_no_more_than_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let yaml = dir.path().join("healthmon.yaml");
        std::fs::write(&yaml, deep("flow", 100)).unwrap();
        let err = load::<serde_json::Value>(&yaml).unwrap_err();
        assert_eq!(err.exit, crate::Exit::BadInput);
        assert!(
            err.message.starts_with(&format!("{}:1:", yaml.display()))
                && err
                    .message
                    .contains("threshold: nested more than 64 levels"),
            "{err}"
        );
        std::fs::write(&yaml, "a: x\n".repeat(300_000)).unwrap();
        let err = load::<serde_json::Value>(&yaml).unwrap_err();
        assert!(
            err.message
                .contains("1500000 bytes or more, over the limit of 1048576 bytes"),
            "{err}"
        );
        // A device or a pipe: never read past the limit.
        let err = load::<serde_json::Value>(Path::new("/dev/zero")).unwrap_err();
        assert!(err.message.contains("over the limit"), "{err}");
    }
}
