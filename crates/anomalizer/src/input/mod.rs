//! Where lines come from: finding log files and reading them, and mining
//! them on other cores in input order.

pub mod ingest;
pub mod pipeline;
