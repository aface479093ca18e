//! `anomalizer learn`: mine a known-good period and save its templates as
//! the model later runs judge new templates against.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use secops_common::{Error, Exit, Severity};

use crate::cli::InputArgs;
use crate::detection::model::Model;
use crate::input::mined::mine_input;
use crate::records::counted;

/// Mines `input` and saves its templates, in all and per source, to
/// `model`.
pub fn run(input: &InputArgs, model: &Path) -> Result<Exit, Error> {
    // The template ids each source showed, so that each is later judged
    // against its own past.
    let mut sources: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    let mined = mine_input(input, &[], |_, seen| {
        match sources.get_mut(seen.stream_name()) {
            Some(ids) => {
                ids.insert(seen.id);
            }
            None => {
                sources.insert(seen.stream_name().to_string(), BTreeSet::from([seen.id]));
            }
        }
    })?;
    Model::learn(mined.miner.templates(), &sources).save(model)?;
    secops_common::info!(
        "{} from {} in {} saved to {}",
        counted(mined.miner.templates().len(), "template"),
        counted(mined.stats.lines, "line"),
        counted(sources.len(), "source"),
        model.display()
    );
    Ok(Exit::of_run(
        mined.stats.unreadable > 0,
        None,
        Severity::Critical,
    ))
}
