//! Scoring against labelled logs (`anomalizer eval`): the miner's grouping
//! ([`grouping`]), the rare-template rule on its own ([`rarity`]), and the
//! window detectors and rules on BGL windows and HDFS blocks
//! ([`windows`]).

pub mod grouping;
pub mod rarity;
pub mod windows;
