//! From a line to its template: the line's header split off (time, level,
//! source), its message cut into tokens, the variables in them masked, and
//! the masked line filed into a Drain parse tree.

pub mod drain;
pub mod extract;
pub mod header;
pub mod mask;
pub mod miner;
pub mod timestamp;
