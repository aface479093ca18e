//! Markdown reports rendered by a real renderer: GitHub's own, cmark-gfm
//! (Debian `cmark-gfm`), with GitHub's extensions (tables, autolinks,
//! strikethrough, task lists, tag filter) and raw HTML let through
//! (`--unsafe`), so anything a record could smuggle in would show. Record
//! text must come out as literal text: no link, image, autolink or HTML.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{jsonl, record, report, with};
use serde_json::json;

/// HTML that cmark-gfm makes of `markdown`.
fn render(markdown: &str) -> String {
    let cmark = secops_testkit::require("cmark-gfm", "cmark-gfm");
    let mut child = Command::new(cmark)
        .args(["--unsafe", "-e", "table", "-e", "autolink", "-e"])
        .args(["strikethrough", "-e", "tasklist", "-e", "tagfilter"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(markdown.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// Values an attacker can put in a record: a process name, a log line, a
/// host name from a remote.
const HOSTILE: [&str; 14] = [
    "[x](javascript:alert(1))",
    "![](http://track.example/p.gif)",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "<http://evil.example/>",
    "http://evil.example/login",
    "www.evil.example",
    "mail admin@evil.example now",
    "&lt;b&gt; &amp; &#60;i&#62;",
    "*em* __strong__ ~~gone~~ `code`",
    "a|b\\|c\\\\|d",
    "[ref]: http://evil.example/",
    "`` ` ``x``",
    "[click][ref] ![img][ref]",
];

/// The HTML elements the report itself may produce.
const ALLOWED: [&str; 13] = [
    "table", "thead", "tbody", "tr", "th", "td", "code", "p", "strong", "ul", "li", "h3", "em",
];

fn tags(html: &str) -> Vec<String> {
    html.split('<')
        .skip(1)
        .map(|rest| {
            rest.trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
        })
        .collect()
}

/// The text of every `<code>` element, unescaped.
fn code_texts(html: &str) -> Vec<String> {
    html.split("<code>")
        .skip(1)
        .map(|rest| {
            rest.split("</code>")
                .next()
                .unwrap()
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&amp;", "&")
        })
        .collect()
}

#[test]
fn hostile_record_text_renders_as_literal_text() {
    let records: Vec<_> = HOSTILE
        .iter()
        .enumerate()
        .map(|(i, text)| {
            with(
                record(
                    &format!("{text} host{i}"),
                    text,
                    "port",
                    "high",
                    &format!("message {text}"),
                ),
                &[
                    ("process", json!(text)),
                    ("exe", json!(format!("/x/{text}"))),
                ],
            )
        })
        .collect();
    let input = jsonl(&records);
    for args in [
        &[
            "--format",
            "markdown",
            "--columns",
            "host,tool,process,exe,message",
        ][..],
        &["--format", "markdown", "--group-by", "tool"],
        &["--format", "markdown", "--group-by", "host"],
    ] {
        let run = report(args, input.as_bytes());
        assert_eq!(run.status, 1, "{}", run.stderr);
        let html = render(&run.stdout);
        for tag in tags(&html) {
            assert!(
                ALLOWED.contains(&tag.as_str()),
                "<{tag}> in the rendered report:\n{html}"
            );
        }
        let codes = code_texts(&html);
        for (i, text) in HOSTILE.iter().enumerate() {
            let mut expected = vec![
                text.to_string(),
                format!("{text} host{i}"),
                format!("message {text}"),
            ];
            if args.contains(&"--columns") {
                expected.push(format!("/x/{text}"));
            }
            for shown in expected {
                assert!(
                    codes.contains(&shown),
                    "{shown:?} is not shown literally ({args:?}):\n{}\n{html}",
                    run.stdout
                );
            }
        }
    }
}

#[test]
fn a_report_of_plain_records_renders_as_a_table() {
    let input = jsonl(&[record(
        "web1",
        "traffic-cop",
        "port",
        "high",
        "tcp 0.0.0.0:8080 is held by python3",
    )]);
    let run = report(&["--format", "markdown"], input.as_bytes());
    let html = render(&run.stdout);
    assert!(
        html.contains("<td><code>tcp 0.0.0.0:8080 is held by python3</code></td>"),
        "{html}"
    );
    assert!(
        html.contains("<strong>1 record</strong> from <code>web1</code>"),
        "{html}"
    );
}

/// Characters that make one name display as another on a terminal, or hide
/// part of it: bidi overrides, embeddings and isolates, line and paragraph
/// separators, C0 and C1 controls, zero-width characters.
const INVISIBLE: [char; 18] = [
    '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}',
    '\u{2069}', '\u{2028}', '\u{2029}', '\u{1b}', '\u{7}', '\u{85}', '\u{9b}', '\u{200b}',
    '\u{200d}', '\u{feff}',
];

#[test]
fn the_terminal_table_shows_spoofing_characters_escaped() {
    // "sshd" + U+202E + "retropxe_edon" shows as "sshdnode_exporter"
    // reversed; each character must come out as a visible escape instead.
    let records: Vec<_> = INVISIBLE
        .iter()
        .map(|c| {
            with(
                record(
                    &format!("web{c}1"),
                    "traffic-cop",
                    "port",
                    "high",
                    &format!("held by sshd{c}retropxe_edon"),
                ),
                &[("process", json!(format!("sshd{c}retropxe_edon")))],
            )
        })
        .collect();
    let input = jsonl(&records);
    for args in [
        &["--format", "table", "--columns", "host,process,message"][..],
        &["--format", "table", "--group-by", "host"],
        &["--format", "markdown", "--columns", "host,process,message"],
    ] {
        let run = report(args, input.as_bytes());
        assert_eq!(run.status, 1, "{}", run.stderr);
        let bad: Vec<char> = run
            .stdout
            .chars()
            .filter(|&c| c != '\n' && !(' '..='~').contains(&c))
            .collect();
        assert!(
            bad.is_empty(),
            "{bad:?} shown raw ({args:?}):\n{}",
            run.stdout
        );
        for c in INVISIBLE {
            let escaped = format!("sshd\\u{{{:x}}}retropxe_edon", u32::from(c));
            assert!(
                run.stdout.contains(&escaped),
                "{escaped} missing ({args:?}):\n{}",
                run.stdout
            );
        }
    }
    // The data itself stays exact where a program reads it.
    let run = report(&["--format", "jsonl"], input.as_bytes());
    assert!(
        run.stdout.contains("sshd\u{202e}retropxe_edon"),
        "{}",
        run.stdout
    );
    let run = report(&["--csv"], input.as_bytes());
    assert!(
        run.stdout.contains("sshd\u{202e}retropxe_edon"),
        "{}",
        run.stdout
    );
}
