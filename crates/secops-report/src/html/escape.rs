//! Escaping for everything a record can put on the page. Host names,
//! process names, file names, templates and messages are chosen by whoever
//! runs the process or writes the log, so none of them may become markup.

use std::fmt::{self, Write as _};

use serde_json::Value;

/// Text escaped for HTML (and inline SVG, which the HTML parser reads the
/// same way) both between tags and inside quoted attribute values.
pub struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// JSON that is safe inside a `<script>` element: `<` is written as
/// `\u003c`, so no `</script>` or `<!--` can end or confuse the element, and
/// U+2028/U+2029 (line breaks to older JavaScript parsers) are escaped too.
/// The text still parses as the same JSON.
pub fn json_for_script(value: &Value) -> String {
    let json = value.to_string();
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn markup_becomes_text() {
        assert_eq!(
            Esc(r#""><img src=x onerror='alert(1)'> & <script>"#).to_string(),
            "&quot;&gt;&lt;img src=x onerror=&#39;alert(1)&#39;&gt; &amp; &lt;script&gt;"
        );
        assert_eq!(Esc("plain é").to_string(), "plain é");
    }

    #[test]
    fn script_json_cannot_close_its_element_and_still_parses() {
        let value =
            json!({"host": "</script><script>alert(1)</script>", "x": "a\u{2028}b\u{2029}&"});
        let text = json_for_script(&value);
        assert!(!text.contains('<') && !text.contains('\u{2028}') && !text.contains('\u{2029}'));
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
    }
}
