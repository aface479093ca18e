use std::process::ExitCode;

use anomalizer::{Args, TOOL, run};
use clap::Parser;

fn main() -> ExitCode {
    let args = Args::parse();
    secops_common::cli::start::<Args>(TOOL, &args.common, || run(&args))
}
