//! Where lines come from: finding log files and reading them ([`ingest`]),
//! mining them on other cores in input order ([`pipeline`]), and the one
//! way every subcommand reads its input ([`mined`]).

pub mod ingest;
pub mod mined;
pub mod pipeline;
