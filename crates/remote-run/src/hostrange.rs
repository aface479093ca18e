//! clush-style host patterns: `web[01-20]`, `db[1,3,5-7]`, `a,b`.
//! Zero padding follows the lower bound, as clush and pdsh do, so
//! `h[01-10]` gives `h01` … `h10`.

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
    let bad = || format!("bad range {item:?} in {pattern:?} (write [01-20] or [1,3,5-7])");
    let (low, high) = item.split_once('-').unwrap_or((item, item));
    if low.is_empty() || !low.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let from: u64 = low.parse().map_err(|_| bad())?;
    let to: u64 = high.parse().map_err(|_| bad())?;
    if to < from || to - from >= 100_000 {
        return Err(bad());
    }
    let width = low.len();
    Ok((from..=to).map(|n| format!("{n:0width$}")).collect())
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
    fn malformed_patterns_are_refused() {
        for bad in ["h[1-", "h]1", "h[3-1]", "h[a-b]", "h[[1]]", "", "h[-2]"] {
            assert!(expand(bad).is_err(), "{bad}");
        }
    }
}
