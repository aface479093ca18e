//! Host patterns: clush-style `web[01-20]`, `db[1,3,5-7]`, `a,b`, and the
//! Ansible inventory forms `web[01:20]`, `web[01:20:2]` (a stride) and
//! `db-[a:f]`. Zero padding follows the lower bound, as clush, pdsh and
//! Ansible do, so `h[01-10]` gives `h01` … `h10`.

/// Expands a comma-separated list of patterns, in order, without duplicates.
pub fn expand(pattern: &str) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = Vec::new();
    for part in split_top_level(pattern)? {
        if part.is_empty() {
            continue;
        }
        for name in expand_one(part)? {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    if names.is_empty() {
        return Err(format!("host pattern {pattern:?} names no host"));
    }
    Ok(names)
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

/// Expands the first bracket group, then the rest of the name recursively.
fn expand_one(pattern: &str) -> Result<Vec<String>, String> {
    let Some(open) = pattern.find('[') else {
        return Ok(vec![pattern.to_string()]);
    };
    let close = open + pattern[open..].find(']').expect("brackets were checked");
    let (prefix, set, rest) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let tails = expand_one(rest)?;
    let mut names = Vec::new();
    for item in set.split(',') {
        for value in range_values(item.trim(), pattern)? {
            for tail in &tails {
                names.push(format!("{prefix}{value}{tail}"));
            }
        }
    }
    Ok(names)
}

fn range_values(item: &str, pattern: &str) -> Result<Vec<String>, String> {
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
        return Ok((from..=to).step_by(step).map(String::from).collect());
    }
    if low.is_empty() || !low.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let from: u64 = low.parse().map_err(|_| bad())?;
    let to: u64 = high.parse().map_err(|_| bad())?;
    if to < from || to - from >= 100_000 {
        return Err(bad());
    }
    let width = low.len();
    Ok((from..=to)
        .step_by(step)
        .map(|n| format!("{n:0width$}"))
        .collect())
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
    fn malformed_patterns_are_refused() {
        for bad in [
            "h[1-", "h]1", "h[3-1]", "h[ab-c]", "h[[1]]", "", "h[-2]", "h[1:5:0]", "h[1-5-2]",
            "h[c:a]",
        ] {
            assert!(expand(bad).is_err(), "{bad}");
        }
    }
}
