//! The default mode: mine the input, run the chosen detectors over it and
//! write their findings, the end of silences earlier runs reported, and a
//! `log.summary` (and, with `--summary`, the run's insights to a file).

use secops_common::{Error, Exit, Format, LastRun, Output, OutputSpec};

use crate::cli::Args;
use crate::detection::model::Model;
use crate::detection::rules::Rules;
use crate::detection::sources::{Detector, Observed};
use crate::detection::windows::Windows;
use crate::input::mined::mine_input;
use crate::insights::{self, Insights};
use crate::mining::drain::Template;
use crate::mining::timestamp;
use crate::records::{self, ANOMALY_COLUMNS, RunSummary, TOOL};
use crate::silences::Silences;

/// Runs detection as `args` ask.
pub fn run(args: &Args) -> Result<Exit, Error> {
    let common = &args.common;
    let spec = common.output_spec(&ANOMALY_COLUMNS)?;
    let detectors = args.detectors();
    if args.model.is_some() && !detectors.rules {
        return Err(Error::bad_input(
            "--model feeds the rules detector: add it, e.g. --detector rules,pca",
        ));
    }
    let rules = Rules {
        threshold: args.threshold,
        max_per_source: args.max_per_source,
    };
    let model = args.model.as_deref().map(Model::load).transpose()?;
    let mut silences = memory(args, &spec)?;
    let mut detector = Detector::default();
    let methods = detectors.methods();
    let mut windows = (!methods.is_empty()).then(|| Windows::new(detectors.windows));
    // Most lines come from the same source as the line before.
    let mut last_stream: Option<(String, usize)> = None;
    let input = args.input.with_paths(&args.paths);
    let mined = mine_input(&input, &[], |miner, seen| {
        let name = seen.stream_name();
        let stream = match &last_stream {
            Some((last, id)) if last == name => *id,
            _ => {
                let id = detector.stream(name);
                last_stream = Some((name.to_string(), id));
                id
            }
        };
        detector.observe(Observed {
            stream,
            id: seen.id,
            template: &miner.templates()[seen.id],
            version: miner.template_version(seen.id),
            tokens: seen.tokens,
            at: seen.at,
            level: seen.entry.level.as_deref(),
            line: seen.line,
        });
        if let Some(windows) = &mut windows {
            windows.observe(stream, name, seen.id, seen.at);
        }
    })?;
    let templates = mined.miner.templates();
    let known = model
        .as_ref()
        .map(|m| move |source: &str, t: &Template| m.knows(source, t));
    let (mut findings, mut suppressed) = if detectors.rules {
        let known = known
            .as_ref()
            .map(|k| k as &dyn Fn(&str, &Template) -> bool);
        let (found, left_out) = detector.findings(templates, rules, known);
        let found: Vec<_> = found
            .iter()
            .map(|f| records::finding(f, &mined.files))
            .collect();
        (found, left_out)
    } else {
        (Vec::new(), 0)
    };
    if let Some(windows) = &windows {
        let (found, left_out) = windows.findings(&methods, templates, rules.max_per_source);
        findings.extend(
            found
                .iter()
                .map(|a| records::window_anomaly(a, &mined.files)),
        );
        suppressed += left_out;
    }
    if let Some(silences) = &mut silences {
        let over = silences.pass(&findings, timestamp::now(), |source, template, since| {
            detector.logged_after(source, template, templates, since)
        });
        findings.extend(over.iter().map(|o| records::silence_over(o, &mined.files)));
    }
    let summary = records::summary(&RunSummary {
        stats: &mined.stats,
        unmatched: mined.miner.unmatched,
        templates,
        timelines: detector.timelines(),
        sources: detector.streams(),
        findings: &findings,
        suppressed,
        windowed: !methods.is_empty(),
    });
    if let Some(path) = args.summary.as_deref() {
        insights::write(
            path,
            &Insights {
                summary: &summary,
                sources: detector.overview(),
                templates,
                timelines: detector.timelines(),
                findings: &findings,
            },
        )?;
    }
    let worst = findings.iter().map(|r| r.severity).max();
    let mut out = Output::open(&spec)?;
    if spec.format == Format::Table {
        // The operator's view keeps the original tool's one-line style.
        out.write_text(|w| {
            for rec in &findings {
                writeln!(w, "[ANOMALY] {}", rec.message)?;
            }
            writeln!(w, "{}", summary.message)
        })?;
    } else {
        for rec in &findings {
            out.write(rec)?;
        }
        out.write(&summary)?;
    }
    out.finish()?;
    // Remembered once the records are out, so that a run whose output
    // failed reports the same endings next time.
    let mut failed = mined.stats.unreadable > 0;
    if let Some(Err(err)) = silences.as_ref().map(Silences::save) {
        secops_common::diag::error(format_args!(
            "{err}; a silence that ends before the next run may go unresolved"
        ));
        failed = true;
    }
    if !failed {
        crate::metrics::write(&args.prom, &findings, mined.stats.lines, templates.len())?;
    }
    Ok(Exit::of_run(failed, worst, common.fail_on))
}

/// The silences earlier runs reported, from the state directory; `None`
/// with `--no-state`, and for a look at a table on a terminal without
/// `--state-dir` (an operator's look must not take the endings that
/// cron's next run should write). A default directory that cannot be used
/// costs the endings across runs, not the run; one given with
/// `--state-dir` must work.
fn memory(args: &Args, spec: &OutputSpec) -> Result<Option<Silences>, Error> {
    let look = spec.format == Format::Table && spec.path.is_none();
    if args.no_state || (look && args.state.state_dir.is_none()) {
        return Ok(None);
    }
    match args.state.dir() {
        Ok(dir) => Ok(Some(Silences::new(LastRun::load(&dir, TOOL)?))),
        Err(err) if args.state.state_dir.is_none() => {
            secops_common::warn!(
                "{err}; silences that end after this run are not resolved by a later one"
            );
            Ok(None)
        }
        Err(err) => Err(err),
    }
}
