//! Charts drawn as inline SVG, so the page needs no script to show them and
//! prints as it looks. Every label that comes from a record (a tool, a host,
//! a mount, a template) goes through [`Esc`]; colours and sizes are ours.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use super::collect::{Series, TemplateSpan};
use super::escape::Esc;

/// Lines drawn per chart: more are unreadable, so the rest are named as
/// left out.
const MAX_LINES: usize = 10;

/// Logs given a timeline each.
pub const MAX_TIMELINES: usize = 8;

/// Templates drawn on one timeline.
const MAX_TEMPLATES: usize = 25;

/// Characters of a line's name in a legend.
const LEGEND_TEXT: usize = 80;

/// Line colours, told apart in colour and in greyscale print.
const PALETTE: [&str; MAX_LINES] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22",
];

/// The colour of the `index`th line.
fn colour(index: usize) -> &'static str {
    PALETTE[index % PALETTE.len()]
}

/// One bar: a label, its count and the CSS class that colours it.
pub struct Bar<'a> {
    pub label: &'a str,
    pub count: u64,
    pub class: &'a str,
}

/// Horizontal bars, longest for the largest count.
pub fn bars(out: &mut String, title: &str, bars: &[Bar<'_>]) {
    const WIDTH: f64 = 480.0;
    const LABEL: f64 = 130.0;
    const ROW: f64 = 24.0;
    let max = bars.iter().map(|b| b.count).max().unwrap_or(0).max(1) as f64;
    let height = ROW * bars.len() as f64 + 4.0;
    let _ = write!(
        out,
        r#"<svg class="chart bars" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{title}"><title>{title}</title>"#,
        title = Esc(title)
    );
    for (i, bar) in bars.iter().enumerate() {
        let y = ROW * i as f64 + 2.0;
        let length = (WIDTH - LABEL - 60.0) * bar.count as f64 / max;
        let _ = write!(
            out,
            r#"<g class="{class}"><text class="label" x="{lx}" y="{ty}" text-anchor="end">{label}</text><rect x="{LABEL}" y="{ry}" width="{length:.1}" height="{bh}" rx="2"><title>{label}: {count}</title></rect><text class="count" x="{cx:.1}" y="{ty}">{count}</text></g>"#,
            class = Esc(bar.class),
            lx = LABEL - 8.0,
            ty = y + 16.0,
            label = Esc(&clipped(bar.label, 18)),
            ry = y + 3.0,
            bh = ROW - 6.0,
            count = bar.count,
            cx = LABEL + length + 6.0,
        );
    }
    out.push_str("</svg>");
}

/// What a line chart's values are, for its axis and tooltips.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unit {
    /// 0 to 100 (or more), ticks every 25.
    Percent,
    /// Log lines counted per bucket: from 0 to a round figure.
    Lines,
}

impl Unit {
    /// The top of the axis and its five ticks, from 0 up.
    fn scale(self, max: f64) -> (f64, [f64; 5]) {
        let top = match self {
            Unit::Percent => return (max.max(100.0), [0.0, 25.0, 50.0, 75.0, 100.0]),
            Unit::Lines => round_up(max.max(1.0) / 4.0) * 4.0,
        };
        (top, [0.0, 0.25, 0.5, 0.75, 1.0].map(|f| top * f))
    }

    fn value(self, v: f64) -> String {
        match self {
            Unit::Percent => format!("{v:.1}%"),
            Unit::Lines if v == 1.0 => "1 line".to_string(),
            Unit::Lines => format!("{v} lines"),
        }
    }

    fn tick(self, v: f64) -> String {
        match self {
            Unit::Percent => format!("{v}%"),
            Unit::Lines => v.to_string(),
        }
    }
}

/// The smallest 1, 2 or 5 times a power of ten at or above `v` (v >= 1),
/// so that ticks fall on figures a reader can add up.
fn round_up(v: f64) -> f64 {
    let mut step = 1.0;
    loop {
        for m in [1.0, 2.0, 5.0] {
            if step * m >= v {
                return step * m;
            }
        }
        step *= 10.0;
    }
}

/// Figures over time, one line per series, with a legend.
pub fn lines(out: &mut String, title: &str, series: &Series, unit: Unit) {
    const WIDTH: f64 = 720.0;
    const HEIGHT: f64 = 240.0;
    const LEFT: f64 = 44.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 10.0;
    const BOTTOM: f64 = 30.0;
    let drawn = &series.lines[..series.lines.len().min(MAX_LINES)];
    let points = || drawn.iter().flat_map(|l| l.points.iter());
    let (t0, t1) = points().fold((f64::MAX, f64::MIN), |(lo, hi), &(t, _)| {
        (lo.min(t), hi.max(t))
    });
    let (top, ticks) = unit.scale(points().map(|&(_, v)| v).fold(0.0_f64, f64::max));
    let span = (t1 - t0).max(1.0);
    let x = |t: f64| LEFT + (WIDTH - LEFT - RIGHT) * (t - t0) / span;
    let y = |v: f64| TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - v / top);
    let _ = write!(
        out,
        r#"<figure class="chart-box"><figcaption>{title}</figcaption><svg class="chart lines" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}"><title>{title}</title>"#,
        title = Esc(title)
    );
    for tick in ticks {
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" x2="{x2}" y1="{yy:.1}" y2="{yy:.1}"/><text class="axis" x="{tx}" y="{ty:.1}" text-anchor="end">{}</text>"#,
            unit.tick(tick),
            x2 = WIDTH - RIGHT,
            yy = y(tick),
            tx = LEFT - 6.0,
            ty = y(tick) + 4.0,
        );
    }
    let ends = if t1 > t0 {
        vec![t0, (t0 + t1) / 2.0, t1]
    } else {
        vec![t0]
    };
    for (i, &t) in ends.iter().enumerate() {
        let anchor = match (i, ends.len()) {
            (0, _) => "start",
            (i, n) if i == n - 1 => "end",
            _ => "middle",
        };
        let _ = write!(
            out,
            r#"<text class="axis" x="{:.1}" y="{}" text-anchor="{anchor}">{}</text>"#,
            x(t),
            HEIGHT - 8.0,
            Esc(&time_label(t, t1 - t0)),
        );
    }
    for (i, line) in drawn.iter().enumerate() {
        let mut path = String::new();
        for &(t, v) in &line.points {
            let _ = write!(path, "{:.1},{:.1} ", x(t), y(v));
        }
        let _ = write!(
            out,
            r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"><title>{}</title></polyline>"#,
            colour(i),
            path.trim_end(),
            Esc(&line.name)
        );
        // Dots where they can still be told apart, each with its figure.
        if line.points.len() <= 60 {
            for &(t, v) in &line.points {
                let _ = write!(
                    out,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"><title>{}: {} at {}</title></circle>"#,
                    x(t),
                    y(v),
                    colour(i),
                    Esc(&line.name),
                    unit.value(v),
                    Esc(&time_label(t, 0.0)),
                );
            }
        }
    }
    out.push_str(r#"</svg><ul class="legend">"#);
    // Names may be whole log templates: the legend shows their start,
    // hovering shows them whole.
    for (i, line) in drawn.iter().enumerate() {
        let _ = write!(
            out,
            r#"<li title="{}"><span class="swatch" style="background:{}"></span>{}</li>"#,
            Esc(&line.name),
            colour(i),
            Esc(&clipped(&line.name, LEGEND_TEXT))
        );
    }
    out.push_str("</ul>");
    if series.lines.len() > drawn.len() {
        let _ = write!(
            out,
            r#"<p class="note">{} more not drawn.</p>"#,
            series.lines.len() - drawn.len()
        );
    }
    out.push_str("</figure>");
}

/// Each template of one log as a bar from its first to its last line, with
/// its burst windows and flagged windows marked: when each pattern was active.
pub fn timeline(out: &mut String, log: &str, templates: &[&TemplateSpan]) {
    const WIDTH: f64 = 720.0;
    const ROW: f64 = 30.0;
    const SIDE: f64 = 8.0;
    let mut order: Vec<&TemplateSpan> = templates.to_vec();
    order.sort_by(|a, b| a.first.total_cmp(&b.first));
    order.truncate(MAX_TEMPLATES);
    let (t0, t1) = order.iter().fold((f64::MAX, f64::MIN), |(lo, hi), s| {
        (lo.min(s.first), hi.max(s.last))
    });
    let span = (t1 - t0).max(1.0);
    let x = |t: f64| SIDE + (WIDTH - 2.0 * SIDE) * (t - t0) / span;
    let height = ROW * order.len() as f64 + 24.0;
    let _ = write!(
        out,
        r#"<figure class="chart-box"><figcaption>{log}</figcaption><svg class="chart timeline" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="templates of {log} over time"><title>templates of {log} over time</title>"#,
        log = Esc(log)
    );
    for (i, s) in order.iter().enumerate() {
        let y = ROW * i as f64;
        let lines = match s.lines {
            Some(1) => "1 line, ".to_string(),
            Some(n) => format!("{n} lines, "),
            None => String::new(),
        };
        let tip = format!(
            "{}\n{lines}{} to {}\n{}",
            s.template,
            time_label(s.first, 0.0),
            time_label(s.last, 0.0),
            s.detectors.join(", ")
        );
        let _ = write!(
            out,
            r#"<g><title>{}</title><text class="label" x="{SIDE}" y="{:.1}">{}</text><rect class="span" x="{:.1}" y="{:.1}" width="{:.1}" height="8" rx="2"/>"#,
            Esc(&tip),
            y + 11.0,
            Esc(&clipped(&format!("{lines}{}", s.template), 110)),
            x(s.first),
            y + 15.0,
            (x(s.last) - x(s.first)).max(3.0),
        );
        for &burst in &s.bursts {
            let _ = write!(
                out,
                r#"<rect class="burst" x="{:.1}" y="{:.1}" width="4" height="14"/>"#,
                x(burst) - 2.0,
                y + 12.0
            );
        }
        out.push_str("</g>");
    }
    let _ = write!(
        out,
        r#"<text class="axis" x="{SIDE}" y="{ay}">{}</text><text class="axis" x="{rx}" y="{ay}" text-anchor="end">{}</text></svg>"#,
        Esc(&time_label(t0, span)),
        Esc(&time_label(t1, span)),
        ay = height - 6.0,
        rx = WIDTH - SIDE,
    );
    if templates.len() > order.len() {
        let _ = write!(
            out,
            r#"<p class="note">The first {} templates by time are drawn; {} more are in the anomalizer table.</p>"#,
            order.len(),
            templates.len() - order.len()
        );
    }
    out.push_str("</figure>");
}

/// A time for an axis: the clock alone when the chart covers under a day,
/// else date and time, in UTC as records are.
fn time_label(secs: f64, span: f64) -> String {
    let time = UNIX_EPOCH + Duration::from_secs(secs.max(0.0) as u64);
    let text = humantime::format_rfc3339_seconds(time).to_string();
    match span {
        s if s > 0.0 && s < 86_400.0 => text[11..19].to_string(),
        _ => format!("{} {} UTC", &text[..10], &text[11..16]),
    }
}

/// At most `max` characters, cut with `…`, for labels that must fit.
fn clipped(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::collect::Line;
    use super::*;

    #[test]
    fn labels_from_records_are_escaped_in_svg() {
        let mut svg = String::new();
        bars(
            &mut svg,
            "by tool",
            &[Bar {
                label: "<script>x",
                count: 3,
                class: "t",
            }],
        );
        assert!(
            svg.contains("&lt;script&gt;x") && !svg.contains("<script>"),
            "{svg}"
        );
        let series = Series {
            lines: vec![Line {
                name: "\"><img onerror=alert(1)>".into(),
                points: vec![(0.0, 5.0), (60.0, 7.5)],
            }],
        };
        let mut svg = String::new();
        lines(&mut svg, "cpu", &series, Unit::Percent);
        assert!(
            !svg.contains("<img") && svg.contains("&quot;&gt;&lt;img"),
            "{svg}"
        );
    }

    #[test]
    fn times_read_as_a_clock_within_a_day() {
        assert_eq!(time_label(1_763_751_720.0, 600.0), "19:02:00");
        assert_eq!(time_label(1_763_751_720.0, 0.0), "2025-11-21 19:02 UTC");
        assert_eq!(clipped("abcdef", 3), "abc…");
        assert_eq!(clipped("abc", 3), "abc");
    }

    #[test]
    fn counts_get_round_ticks_and_long_names_a_clipped_legend() {
        assert_eq!(Unit::Lines.scale(0.0), (4.0, [0.0, 1.0, 2.0, 3.0, 4.0]));
        assert_eq!(Unit::Lines.scale(61.0).0, 80.0);
        assert_eq!(Unit::Lines.scale(7001.0).0, 8000.0);
        assert_eq!(Unit::Percent.scale(40.0).0, 100.0);
        let name = format!("<script>{}", "x".repeat(100));
        let series = Series {
            lines: vec![Line {
                name: name.clone(),
                points: vec![(0.0, 3.0), (3600.0, 1.0)],
            }],
        };
        let mut svg = String::new();
        lines(&mut svg, "per hour", &series, Unit::Lines);
        assert!(!svg.contains("<script"), "{svg}");
        let shown = format!("&lt;script&gt;{}…</li>", "x".repeat(LEGEND_TEXT - 8));
        assert!(svg.contains(&shown), "{svg}");
        assert!(svg.contains(&format!("title=\"&lt;script&gt;{}\"", "x".repeat(100))));
        assert!(
            svg.contains("3 lines at") && svg.contains("1 line at"),
            "{svg}"
        );
        assert!(svg.contains(">4</text>") && !svg.contains('%'), "{svg}");
    }
}
