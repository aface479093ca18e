//! The subcommands as the binary runs them, one module each: read the
//! input, hand it to the miner and the detectors (or the evaluation), and
//! write what they found as records.

pub mod detect;
pub mod eval;
pub mod learn;
pub mod parse;
