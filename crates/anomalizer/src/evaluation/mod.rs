//! Scoring the miner and the detectors against labelled logs
//! (`anomalizer eval`).

pub mod grouping;
pub mod windows;
