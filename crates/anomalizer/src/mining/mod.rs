//! From a line to its template: the line's header split off ([`extract`],
//! [`header`], [`timestamp`]: time, level, source), its message cut into
//! tokens ([`tokens`]), the variables in them masked ([`mask`]), and the
//! masked line filed into a Drain parse tree ([`drain`]); [`miner`] does
//! it all for one line.

pub mod drain;
pub mod extract;
pub mod header;
pub mod mask;
pub mod miner;
pub mod timestamp;
pub mod tokens;
pub mod user_mask;
