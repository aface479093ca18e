//! Host patterns: clush-style `web[01-20]`, `db[1,3,5-7]`, `a,b`, and the
//! Ansible inventory forms `web[01:20]`, `web[01:20:2]` (a stride) and
//! `db-[a:f]`. Zero padding follows the lower bound, as clush, pdsh and
//! Ansible do, so `h[01-10]` gives `h01` … `h10`.
//!
//! A pattern is a product of its bracket groups, so a short line can name
//! more hosts than any machine holds (`h[0:9]` sixteen times is 10^16).
//! The number of names is worked out first, without building any, and a
//! pattern naming more than [`MAX_HOSTS`] is refused.

use std::collections::HashSet;

/// The most host names one pattern (one `--hosts` value, one inventory
/// host line or key) may expand to. Far above any real fleet's range,
/// far below what would take more than a fraction of a second and a few
/// megabytes to build.
pub const MAX_HOSTS: usize = 100_000;
/// The most bytes of names one pattern may expand to, counting each name
/// as long as the pattern part it comes from (never shorter): without it
/// a 4 KiB name times [`MAX_HOSTS`] took 400 MB (found by fuzzing).
pub const MAX_NAMES_BYTES: usize = 16 << 20;

/// Expands a comma-separated list of patterns, in order, without duplicates.
pub fn expand(pattern: &str) -> Result<Vec<String>, String> {
    let parts = split_top_level(pattern)?;
    count(pattern)?;
    let mut seen: HashSet<String> = HashSet::new();
    let mut names: Vec<String> = Vec::new();
    for part in parts {
        if part.is_empty() {
            continue;
        }
        for name in expand_one(part)? {
            if seen.insert(name.clone()) {
                names.push(name);
            }
        }
    }
    if names.is_empty() {
        return Err(format!("host pattern {pattern:?} names no host"));
    }
    Ok(names)
}

/// How many names the pattern expands to, duplicates included, worked out
/// without building them; an error when it is malformed or the count
/// exceeds [`MAX_HOSTS`].
pub fn count(pattern: &str) -> Result<usize, String> {
    let too_many = || {
        format!(
            "pattern {pattern:?} expands to more than {MAX_HOSTS} hosts, the most one pattern may name"
        )
    };
    let mut total = 0usize;
    let mut bytes = 0usize;
    for part in split_top_level(pattern)? {
        let mut product = 1usize;
        let mut rest = part;
        while let Some(open) = rest.find('[') {
            let close = open + rest[open..].find(']').ok_or_else(|| unmatched(pattern))?;
            let mut size = 0usize;
            for item in rest[open + 1..close].split(',') {
                size = size
                    .checked_add(range(item.trim(), pattern)?.len())
                    .ok_or_else(too_many)?;
            }
            product = product
                .checked_mul(size)
                .filter(|p| *p <= MAX_HOSTS)
                .ok_or_else(too_many)?;
            rest = &rest[close + 1..];
        }
        if !part.is_empty() {
            total = total
                .checked_add(product)
                .filter(|t| *t <= MAX_HOSTS)
                .ok_or_else(too_many)?;
            bytes = product
                .checked_mul(part.len())
                .and_then(|b| b.checked_add(bytes))
                .filter(|b| *b <= MAX_NAMES_BYTES)
                .ok_or_else(|| {
                    format!(
                        "pattern {:?} expands to more than {} MiB of host names, the most one pattern may name",
                        show(pattern),
                        MAX_NAMES_BYTES >> 20
                    )
                })?;
        }
    }
    Ok(total)
}

/// The start of a pattern, for an error about its size.
fn show(pattern: &str) -> String {
    match pattern.char_indices().nth(80) {
        Some((at, _)) => format!("{}...", &pattern[..at]),
        None => pattern.to_string(),
    }
}

fn unmatched(pattern: &str) -> String {
    format!("unmatched [ in {pattern:?}")
}

/// Splits at commas that are not inside brackets.
fn split_top_level(pattern: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in pattern.char_indices() {
        match c {
            '[' if depth > 0 => return Err(format!("nested brackets in {pattern:?}")),
            '[' => depth = 1,
            ']' if depth == 0 => return Err(format!("unmatched ] in {pattern:?}")),
            ']' => depth = 0,
            ',' if depth == 0 => {
                parts.push(pattern[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth > 0 {
        return Err(format!("unmatched [ in {pattern:?}"));
    }
    parts.push(pattern[start..].trim());
    Ok(parts)
}

/// Expands the first bracket group, then the rest of the name recursively
/// (the caller has checked the size with [`count`]).
fn expand_one(pattern: &str) -> Result<Vec<String>, String> {
    let Some(open) = pattern.find('[') else {
        return Ok(vec![pattern.to_string()]);
    };
    let close = open
        + pattern[open..]
            .find(']')
            .ok_or_else(|| unmatched(pattern))?;
    let (prefix, set, rest) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let tails = expand_one(rest)?;
    let mut names = Vec::new();
    for item in set.split(',') {
        let values = range(item.trim(), pattern)?;
        for value in values.values() {
            for tail in &tails {
                names.push(format!("{prefix}{value}{tail}"));
            }
        }
    }
    Ok(names)
}

/// One item of a bracket group: a number or letter range with a stride.
enum Range {
    Letters {
        from: char,
        to: char,
        step: usize,
    },
    Numbers {
        from: u64,
        to: u64,
        step: usize,
        width: usize,
    },
}

impl Range {
    fn len(&self) -> usize {
        let (span, step) = match *self {
            Range::Letters { from, to, step } => (u64::from(to) - u64::from(from), step),
            Range::Numbers { from, to, step, .. } => (to - from, step),
        };
        // span < MAX_RANGE, so this fits.
        (span / step as u64) as usize + 1
    }

    fn values(&self) -> Box<dyn Iterator<Item = String> + '_> {
        match *self {
            Range::Letters { from, to, step } => {
                Box::new((from..=to).step_by(step).map(String::from))
            }
            Range::Numbers {
                from,
                to,
                step,
                width,
            } => Box::new(
                (from..=to)
                    .step_by(step)
                    .map(move |n| format!("{n:0width$}")),
            ),
        }
    }
}

/// The widest one range may be (`h[0:99999]` is the most).
const MAX_RANGE: u64 = MAX_HOSTS as u64;

fn range(item: &str, pattern: &str) -> Result<Range, String> {
    let bad = || {
        format!("bad range {item:?} in {pattern:?} (write [01-20], [1,3,5-7], [01:20:2] or [a:f])")
    };
    let mut bounds = item.splitn(3, [':', '-']);
    let low = bounds.next().unwrap_or_default();
    let high = bounds.next().unwrap_or(low);
    let step = match bounds.next() {
        Some(step) if item.contains(':') => step.parse::<usize>().ok().filter(|s| *s > 0),
        Some(_) => None,
        None => Some(1),
    }
    .ok_or_else(bad)?;
    if let (Some(from), Some(to)) = (single_letter(low), single_letter(high)) {
        if to < from {
            return Err(bad());
        }
        return Ok(Range::Letters { from, to, step });
    }
    if low.is_empty() || !low.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let from: u64 = low.parse().map_err(|_| bad())?;
    let to: u64 = high.parse().map_err(|_| bad())?;
    if to < from || to - from >= MAX_RANGE {
        return Err(bad());
    }
    Ok(Range::Numbers {
        from,
        to,
        step,
        width: low.len(),
    })
}

/// `a`…`z` or `A`…`Z`, for Ansible's alphabetic ranges.
fn single_letter(text: &str) -> Option<char> {
    let mut chars = text.chars();
    let c = chars.next()?;
    (chars.next().is_none() && c.is_ascii_alphabetic()).then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_keep_the_lower_bounds_padding() {
        assert_eq!(expand("h[01-03]").unwrap(), ["h01", "h02", "h03"]);
        assert_eq!(expand("h[8-10]").unwrap(), ["h8", "h9", "h10"]);
        assert_eq!(
            expand("web[1,3-4].dc").unwrap(),
            ["web1.dc", "web3.dc", "web4.dc"]
        );
    }

    #[test]
    fn lists_and_products_expand_in_order_without_duplicates() {
        assert_eq!(
            expand("db1,r[1-2]n[1-2],db1").unwrap(),
            ["db1", "r1n1", "r1n2", "r2n1", "r2n2"]
        );
    }

    #[test]
    fn ansible_ranges_strides_and_letters() {
        assert_eq!(expand("web[01:03]").unwrap(), ["web01", "web02", "web03"]);
        assert_eq!(expand("h[1:7:3]").unwrap(), ["h1", "h4", "h7"]);
        assert_eq!(expand("db-[a:c]").unwrap(), ["db-a", "db-b", "db-c"]);
    }

    #[test]
    fn a_hundred_thousand_hosts_expand_at_once() {
        // Checking each name against every earlier one took minutes.
        let started = std::time::Instant::now();
        let names = expand("h[0:99999]").unwrap();
        assert_eq!(names.len(), MAX_HOSTS);
        assert_eq!(names[99_999], "h99999");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(expand("a,b,a,h[1-2],h1").unwrap(), ["a", "b", "h1", "h2"]);
    }

    #[test]
    fn products_past_the_limit_are_refused_before_any_is_built() {
        // Sixteen small ranges: 10^16 names, once built until memory ran out.
        let bomb = "h[0:9]".repeat(16);
        let started = std::time::Instant::now();
        let err = expand(&bomb).unwrap_err();
        assert!(err.contains("more than 100000 hosts"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // Also through overflow, and as a sum of parts.
        assert!(expand(&"h[0:99999]".repeat(5)).is_err());
        assert!(expand("a[0:99999],b[0:99999]").is_err());
        assert!(expand("a[0:99999],b").is_err());
        assert_eq!(count("a[0:99998],b").unwrap(), MAX_HOSTS);
        assert_eq!(count("r[1-2]n[1:3],x").unwrap(), 7);
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for bad in [
            "h[1-", "h]1", "h[3-1]", "h[ab-c]", "h[[1]]", "", "h[-2]", "h[1:5:0]", "h[1-5-2]",
            "h[c:a]",
        ] {
            assert!(expand(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_long_name_times_many_hosts_is_refused_unbuilt() {
        // Found by fuzzing: 100,000 names of 4 KiB each took 400 MB.
        let pattern = format!("{}[0:99999]", "x".repeat(4096));
        let err = expand(&pattern).unwrap_err();
        assert!(err.contains("MiB of host names"), "{err}");
        assert!(err.len() < 300, "{err}");
        // A realistic fleet is well inside the limit.
        assert_eq!(
            expand(&format!("{}[0:99999]", "x".repeat(100)))
                .unwrap()
                .len(),
            MAX_HOSTS
        );
    }
}
