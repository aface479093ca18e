//! Reading the time at the start of a log line, by hand rather than with a
//! regex per style: ISO 8601 / RFC 3339 / RFC 5424 (`2026-11-21T19:02:00Z`,
//! `2015-07-29 17:41:44,747`), syslog RFC 3164 (`Jun  9 06:06:20`, year
//! supplied by the caller) and ctime as Apache writes it
//! (`[Sun Dec 04 04:47:44 2005]`). Times without a zone are taken as UTC:
//! bursts need only differences, and records show them as written. A
//! syslog time is put in the latest year that does not make it lie in the
//! future, as logrotate'd December logs read in January need.

/// Seconds since the Unix epoch, or `None` when the line starts otherwise;
/// `now` (epoch seconds) settles the year of syslog times.
pub fn leading(line: &str, now: i64) -> Option<i64> {
    let line = line.trim_start();
    let s = &line[line.bytes().take_while(|&b| b == b'[').count()..];
    iso(s).or_else(|| syslog(s, now)).or_else(|| ctime(s))
}

/// Whether `line` starts with a syslog (RFC 3164) time, `Mmm dd HH:MM:SS`.
pub fn starts_syslog(line: &str) -> bool {
    month_day_time(line).is_some()
}

/// The time now, epoch seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// RFC 3339 text of epoch seconds, UTC.
pub fn rfc3339(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The digits in `range` of `s` as a number (none if any is not a digit,
/// or there are none), read by hand: this runs for every line.
fn num(s: &str, range: std::ops::Range<usize>) -> Option<i64> {
    let part = s.get(range)?.as_bytes();
    if part.is_empty() {
        return None;
    }
    part.iter().try_fold(0i64, |n, &b| {
        b.is_ascii_digit()
            .then_some(())
            .and_then(|()| n.checked_mul(10)?.checked_add(i64::from(b - b'0')))
    })
}

fn iso(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let mut secs = civil(num(s, 0..4)?, num(s, 5..7)?, num(s, 8..10)?)?
        + clock(num(s, 11..13)?, num(s, 14..16)?, num(s, 17..19)?)?;
    let fraction = b[19..]
        .iter()
        .take_while(|&&c| c == b'.' || c == b',' || c.is_ascii_digit())
        .count();
    let rest = &s[19 + fraction..];
    if let Some(&sign) = rest.as_bytes().first().filter(|&&c| c == b'+' || c == b'-') {
        let offset = num(rest, 1..3)? * 3600 + num(rest, 4..6).or_else(|| num(rest, 3..5))? * 60;
        secs -= if sign == b'+' { offset } else { -offset };
    }
    Some(secs)
}

fn month(s: &str) -> Option<i64> {
    Some(match s.as_bytes().get(0..3)? {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    })
}

/// `Mmm dd HH:MM:SS` (day space-padded or not): the month, the day, the
/// seconds into the day and the rest of the line. The year is the
/// caller's, so a line is read once whatever year it turns out to be in.
fn month_day_time(s: &str) -> Option<(i64, i64, i64, &str)> {
    let m = month(s)?;
    let rest = s.get(3..)?.trim_start();
    let day_len = rest.bytes().position(|b| b == b' ')?;
    let d = num(rest, 0..day_len)?;
    let t = rest[day_len..].trim_start();
    let secs = clock(num(t, 0..2)?, num(t, 3..5)?, num(t, 6..8)?)?;
    ((1..=31).contains(&d) && t.as_bytes().get(2) == Some(&b':')).then_some((m, d, secs, &t[8..]))
}

fn syslog(s: &str, now: i64) -> Option<i64> {
    let (m, d, clock, _) = month_day_time(s)?;
    let year = civil_from_days(now.div_euclid(86_400)).0;
    let secs = civil(year, m, d)? + clock;
    // A day of clock skew is not a year.
    if secs > now + 86_400 {
        Some(civil(year - 1, m, d)? + clock)
    } else {
        Some(secs)
    }
}

/// `Www Mmm dd HH:MM:SS YYYY`.
fn ctime(s: &str) -> Option<i64> {
    let (m, d, clock, rest) = month_day_time(s.get(4..)?)?;
    let year = num(rest.trim_start(), 0..4)?;
    Some(civil(year, m, d)? + clock)
}

fn clock(h: i64, m: i64, s: i64) -> Option<i64> {
    (h < 24 && m < 60 && s <= 60).then_some(h * 3600 + m * 60 + s)
}

/// Epoch seconds of midnight on a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn civil(y: i64, m: i64, d: i64) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400)
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-21T19:02:00Z
    const NOW: i64 = 1_795_287_720;

    fn at(line: &str) -> Option<String> {
        leading(line, NOW).map(rfc3339)
    }

    #[test]
    fn common_styles_are_read() {
        assert_eq!(
            at("2026-11-21T19:02:00Z up").as_deref(),
            Some("2026-11-21T19:02:00Z")
        );
        assert_eq!(
            at("2026-11-21T21:02:00.5+02:00 x").as_deref(),
            Some("2026-11-21T19:02:00Z")
        );
        assert_eq!(
            at("2015-07-29 17:41:44,747 - INFO").as_deref(),
            Some("2015-07-29T17:41:44Z")
        );
        assert_eq!(
            at("Jun  9 06:06:20 combo syslogd").as_deref(),
            Some("2026-06-09T06:06:20Z")
        );
        assert_eq!(
            at("Dec 10 06:55:46 LabSZ sshd").as_deref(),
            Some("2025-12-10T06:55:46Z"),
            "not in the future"
        );
        assert_eq!(
            at("[Sun Dec 04 04:47:44 2005] [notice]").as_deref(),
            Some("2005-12-04T04:47:44Z")
        );
        assert_eq!(
            at("[Tue Feb 29 23:59:59 2000] leap").as_deref(),
            Some("2000-02-29T23:59:59Z")
        );
    }

    #[test]
    fn now_is_what_the_tests_think() {
        assert_eq!(rfc3339(NOW), "2026-11-21T19:02:00Z");
    }

    #[test]
    fn other_lines_have_no_time() {
        assert_eq!(at("PacketResponder 1 terminating"), None);
        assert_eq!(at("2026-13-01T00:00:00Z"), None);
        assert_eq!(at("Jun 99 06:06:20"), None);
    }
}
