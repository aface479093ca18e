use std::process::ExitCode;

use clap::Parser;
use secops::{Args, TOOL, run};

fn main() -> ExitCode {
    let args = Args::parse();
    secops_common::cli::start::<Args>(TOOL, &args.common, || run(&args))
}
