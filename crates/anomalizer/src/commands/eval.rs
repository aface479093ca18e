//! `anomalizer eval`: the accuracy table and the detection scores on the
//! shared labelled data, as `log.eval` records.

use std::path::Path;

use secops_common::cli::CommonArgs;
use secops_common::{Error, Exit, Output};

use crate::evaluation::{grouping, rarity, windows};
use crate::mining::drain::DrainConfig;
use crate::records::{self, EVAL_COLUMNS};

/// Scores grouping on every Loghub-2k dataset in `data` (and their mean),
/// then the rare-template rule and the window detectors.
pub fn run(
    data: &Path,
    threshold: f64,
    config: DrainConfig,
    common: &CommonArgs,
) -> Result<Exit, Error> {
    let spec = common.output_spec(&EVAL_COLUMNS)?;
    let mut out = Output::open(&spec)?;
    let mut sum = (0.0, 0.0);
    let mut sum_by_template = (0.0, 0.0);
    let formats = grouping::loghub_formats(data)?;
    for (dataset, format) in &formats {
        let s = grouping::loghub_dataset(data, dataset, format, config)?;
        sum = (sum.0 + s.ga, sum.1 + s.ga_no_format);
        sum_by_template = (
            sum_by_template.0 + s.ga_by_template,
            sum_by_template.1 + s.ga_no_format_by_template,
        );
        out.write(&records::dataset_score(&s))?;
    }
    let n = formats.len().max(1) as f64;
    out.write(&records::mean_score(
        sum.0 / n,
        sum.1 / n,
        (sum_by_template.0 / n, sum_by_template.1 / n),
    ))?;
    for (name, d) in [
        ("BGL lines", rarity::bgl_lines(data, threshold, config)?),
        ("HDFS blocks", rarity::hdfs_sessions(data, threshold)?),
    ] {
        out.write(&records::rare_rule_score(name, threshold, &d))?;
    }
    for rec in windows::bgl_records(data, threshold, config, Default::default())? {
        out.write(&rec)?;
    }
    out.finish()?;
    Ok(Exit::Clean)
}
