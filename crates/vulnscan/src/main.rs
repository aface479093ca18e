use std::process::ExitCode;

use clap::Parser;
use vulnscan::{Args, TOOL, run};

fn main() -> ExitCode {
    let args = Args::parse();
    secops_common::cli::start::<Args>(TOOL, &args.common, || run(&args))
}
