//! `--mask 'REGEX=NAME'`: variables the built-in masking does not know
//! (an order number `ORD-7731-X`, a tenant name), as Drain3's masking
//! instructions: every match of REGEX in a message becomes `<NAME>` before
//! the message is tokenised, so lines that differ only there share a
//! template. Masks apply in the order given, each to the text the one
//! before left.

use std::borrow::Cow;

use regex_automata::meta::Regex;
use secops_common::Error;

use crate::mining::extract::regex_error;

/// The masks of a run, in order.
#[derive(Debug, Clone, Default)]
pub struct UserMasks(Vec<(Regex, String)>);

impl UserMasks {
    /// Parses each `REGEX=NAME` (split at the last `=`, so the regex may
    /// hold one); NAME is letters, digits and `_`.
    pub fn parse(specs: &[String]) -> Result<UserMasks, Error> {
        let mut masks = Vec::new();
        for spec in specs {
            let bad = |why: &str| Error::bad_input(format!("--mask {spec:?}: {why}"));
            let (pattern, name) = spec
                .rsplit_once('=')
                .ok_or_else(|| bad("expected REGEX=NAME, e.g. 'ORD-\\d+-[A-Z]=ORDER'"))?;
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(bad("NAME is letters, digits and _"));
            }
            if pattern.is_empty() {
                return Err(bad("the regex is empty"));
            }
            let regex = Regex::new(pattern).map_err(|err| bad(&regex_error(&err)))?;
            masks.push((regex, format!("<{name}>")));
        }
        Ok(UserMasks(masks))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `message` with every mask applied; borrowed when nothing matched.
    pub fn apply<'m>(&self, message: Cow<'m, str>) -> Cow<'m, str> {
        let mut text = message;
        for (regex, name) in &self.0 {
            let mut out = String::new();
            let mut end = 0;
            for m in regex.find_iter(text.as_ref()) {
                // An empty match masks nothing.
                if m.is_empty() {
                    continue;
                }
                out.push_str(&text[end..m.start()]);
                out.push_str(name);
                end = m.end();
            }
            if end > 0 {
                out.push_str(&text[end..]);
                text = Cow::Owned(out);
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masks(specs: &[&str]) -> UserMasks {
        UserMasks::parse(&specs.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn matches_become_the_name_in_order() {
        let m = masks(&[r"ORD-\d+-[A-Z]=ORDER", "tenant=[a-z]+=TENANT"]);
        assert_eq!(
            m.apply("order ORD-7731-X of tenant=acme, ORD-12-B too".into()),
            "order <ORDER> of <TENANT>, <ORDER> too"
        );
        assert!(matches!(m.apply("nothing here".into()), Cow::Borrowed(_)));
        assert_eq!(masks(&["x*=X"]).apply("abc".into()), "abc", "empty matches");
    }

    #[test]
    fn bad_masks_are_named() {
        for (spec, why) in [
            ("no-equals", "expected REGEX=NAME"),
            ("a=b c", "NAME is letters"),
            ("=NAME", "the regex is empty"),
            ("(unclosed=NAME", "unclosed"),
        ] {
            let err = UserMasks::parse(&[spec.to_string()]).unwrap_err();
            assert!(err.message.contains(spec), "{}", err.message);
            assert!(err.message.contains(why), "{}", err.message);
        }
    }
}
