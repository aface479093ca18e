//! Reading the time at the start of a log line, by hand rather than with a
//! regex per style: ISO 8601 / RFC 3339 / RFC 5424 (`2026-11-21T19:02:00Z`,
//! `2015-07-29 17:41:44,747`), syslog RFC 3164 (`Jun  9 06:06:20`, year
//! supplied by the caller), ctime as Apache writes it
//! (`[Sun Dec 04 04:47:44 2005]`), and the Common Log Format's time after
//! the client's address (`10.0.0.5 - - [07/Dec/2026:10:00:00 +0000]`, the
//! access logs of nginx and Apache). Times without a zone are local time, as
//! syslog, Apache and most applications write them: they are read in the
//! system's zone (`TZ`, else /etc/localtime), so records, burst windows
//! and silences are in true UTC on a server in any zone, across daylight
//! saving changes too (in the repeated hour of autumn the earlier reading
//! is taken). A date that does not exist (Feb 31) is no time. A syslog
//! time is put in the latest year that does not make it lie in the future,
//! as logrotate'd December logs read in January need.

use std::cell::Cell;
use std::sync::OnceLock;

use jiff::tz::TimeZone;
use secops_common::Error;

/// Seconds since the Unix epoch, or `None` when the line starts otherwise;
/// `now` (epoch seconds) settles the year of syslog times.
pub fn leading(line: &str, now: i64) -> Option<i64> {
    let line = line.trim_start();
    let s = &line[line.bytes().take_while(|&b| b == b'[').count()..];
    iso(s)
        .or_else(|| syslog(s, now))
        .or_else(|| ctime(s))
        .or_else(|| common_log(line))
}

/// Whether `line` starts with a syslog (RFC 3164) time, `Mmm dd HH:MM:SS`.
pub fn starts_syslog(line: &str) -> bool {
    month_day_time(line).is_some()
}

/// Whether `line` starts with an RFC 3339 date and time, joined by `T`
/// (`2026-12-07T03:54:01`), as rsyslog's file format writes them.
pub fn starts_rfc3339(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 19
        && b[..19].iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
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
    let wall = civil(num(s, 0..4)?, num(s, 5..7)?, num(s, 8..10)?)?
        + clock(num(s, 11..13)?, num(s, 14..16)?, num(s, 17..19)?)?;
    let fraction = b[19..]
        .iter()
        .take_while(|&&c| c == b'.' || c == b',' || c.is_ascii_digit())
        .count();
    let rest = &s[19 + fraction..];
    match rest.as_bytes().first() {
        Some(b'Z' | b'z') => Some(wall),
        Some(&sign @ (b'+' | b'-')) => {
            let offset =
                num(rest, 1..3)? * 3600 + num(rest, 4..6).or_else(|| num(rest, 3..5))? * 60;
            Some(wall - if sign == b'+' { offset } else { -offset })
        }
        _ => Some(local(wall)),
    }
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
    // Feb 29 of a syslog line is in the latest leap year.
    let secs = civil(year, m, d).map(|day| local(day + clock));
    match secs {
        // A day of clock skew is not a year.
        Some(secs) if secs <= now + 86_400 => Some(secs),
        _ => (1..=4)
            .find_map(|back| civil(year - back, m, d))
            .map(|day| local(day + clock)),
    }
}

/// `Www Mmm dd HH:MM:SS YYYY`.
fn ctime(s: &str) -> Option<i64> {
    let (m, d, clock, rest) = month_day_time(s.get(4..)?)?;
    let year = num(rest.trim_start(), 0..4)?;
    Some(local(civil(year, m, d)? + clock))
}

/// `host ident user [dd/Mmm/yyyy:HH:MM:SS +zzzz]`: the time in the first
/// bracket, if it opens a word within the line's first 64 bytes.
fn common_log(line: &str) -> Option<i64> {
    let head = &line.as_bytes()[..line.len().min(64)];
    let open = memchr::memchr(b'[', head)?;
    if open == 0 || head[open - 1] != b' ' {
        return None;
    }
    let s = &line[open + 1..];
    let b = s.as_bytes();
    if b.len() < 20 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' {
        return None;
    }
    let wall = civil(num(s, 7..11)?, month(&s[3..])?, num(s, 0..2)?)?
        + clock(num(s, 12..14)?, num(s, 15..17)?, num(s, 18..20)?)?;
    let rest = &s[20..];
    match rest.as_bytes() {
        [b' ', sign @ (b'+' | b'-'), ..] => {
            let offset = num(rest, 2..4)? * 3600 + num(rest, 4..6)? * 60;
            Some(wall - if *sign == b'+' { offset } else { -offset })
        }
        _ => Some(local(wall)),
    }
}

/// The zone zoneless times are read in: `--timezone`'s, else the
/// system's.
static ZONE: OnceLock<TimeZone> = OnceLock::new();

fn zone() -> &'static TimeZone {
    ZONE.get_or_init(|| TimeZone::try_system().unwrap_or(TimeZone::UTC))
}

/// Reads zoneless times in `name` (`Europe/Berlin`, `UTC`), from the
/// system's tz database, instead of the system's zone. Called once, before
/// any line is read.
pub fn use_zone(name: &str) -> Result<(), Error> {
    let tz = TimeZone::get(name).map_err(|_| {
        Error::bad_input(format!(
            "--timezone {name:?} is not a zone of the system's tz database (e.g. Europe/Berlin, America/New_York, UTC)"
        ))
    })?;
    // A second call (none in a run) keeps the first zone.
    let _ = ZONE.set(tz);
    Ok(())
}

/// Epoch seconds of `wall`, a wall-clock time of the system's zone given
/// as if it were UTC. Every line with a time comes here, so the offset is
/// kept per half hour of wall time (zones change offset on the hour or
/// the half hour): a log read in order looks it up once per half hour.
fn local(wall: i64) -> i64 {
    thread_local! {
        static LAST: Cell<(i64, i64)> = const { Cell::new((i64::MIN, 0)) };
    }
    let bucket = wall.div_euclid(1800);
    LAST.with(|last| {
        let (seen, offset) = last.get();
        if seen == bucket {
            return wall - offset;
        }
        let offset = offset_at(zone(), wall);
        last.set((bucket, offset));
        wall - offset
    })
}

/// The offset from UTC, in seconds, of the wall-clock time `wall` in
/// `zone`: in a gap (spring forward) the offset before it, in the repeated
/// hour (fall back) the earlier one, as `date -d` and jiff's "compatible"
/// reading take them.
fn offset_at(zone: &TimeZone, wall: i64) -> i64 {
    let Ok(at) = jiff::Timestamp::from_second(wall) else {
        return 0;
    };
    let civil = TimeZone::UTC.to_datetime(at);
    zone.to_ambiguous_timestamp(civil)
        .compatible()
        .map_or(0, |real| wall - real.as_second())
}

fn clock(h: i64, m: i64, s: i64) -> Option<i64> {
    (h < 24 && m < 60 && s <= 60).then_some(h * 3600 + m * 60 + s)
}

/// Epoch seconds of midnight on a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`); `None` for a date that does not exist.
fn civil(y: i64, m: i64, d: i64) -> Option<i64> {
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if !(1..=days).contains(&d) {
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
        assert_eq!(
            at("203.0.113.9 - - [07/Dec/2026:10:00:00 +0100] \"GET / HTTP/1.1\" 200").as_deref(),
            Some("2026-12-07T09:00:00Z"),
            "the Common Log Format"
        );
        assert_eq!(at("GET [07/Dec/2026:10:00:0"), None, "cut short");
        assert_eq!(
            at("x - - [31/Feb/2026:10:00:00 +0000]"),
            None,
            "no such day"
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
        // Dates that do not exist.
        assert_eq!(at("2026-02-31T10:00:00Z"), None);
        assert_eq!(at("2026-02-29 10:00:00"), None);
        assert_eq!(at("Feb 31 10:00:00 host x"), None);
        assert_eq!(at("Apr 31 10:00:00 host x"), None);
        assert_eq!(at("[Mon Feb 29 10:00:00 2100] x"), None, "not a leap year");
    }

    #[test]
    fn a_syslog_feb_29_is_in_the_latest_leap_year() {
        assert_eq!(
            at("Feb 29 10:00:00 host x").as_deref(),
            Some("2024-02-29T10:00:00Z")
        );
    }

    /// Wall time as the parser sees it: the digits, as if UTC.
    fn wall(text: &str) -> i64 {
        leading(&format!("{text}Z"), NOW).unwrap()
    }

    #[test]
    fn wall_times_take_their_zone_s_offset_across_daylight_saving() {
        let zone = |name: &str| TimeZone::get(name).expect("tzdata is installed");
        let new_york = zone("America/New_York");
        assert_eq!(offset_at(&new_york, wall("2026-01-10T03:00:00")), -5 * 3600);
        assert_eq!(offset_at(&new_york, wall("2026-07-10T03:00:00")), -4 * 3600);
        // 02:30 on 8 March 2026 does not exist there: read as the offset
        // before the gap (so it is 07:30 UTC, the instant 03:30 EDT is).
        assert_eq!(offset_at(&new_york, wall("2026-03-08T02:30:00")), -5 * 3600);
        // 01:30 on 1 November 2026 happens twice: the earlier, EDT.
        assert_eq!(offset_at(&new_york, wall("2026-11-01T01:30:00")), -4 * 3600);
        let kolkata = zone("Asia/Kolkata");
        assert_eq!(
            offset_at(&kolkata, wall("2026-01-10T03:00:00")),
            5 * 3600 + 1800
        );
        assert_eq!(offset_at(&TimeZone::UTC, wall("2026-01-10T03:00:00")), 0);
    }
}
