use std::process::ExitCode;

use clap::Parser;
use secops_report::Args;

fn main() -> ExitCode {
    let args = Args::parse();
    secops_common::cli::start::<Args>("secops-report", &args.common, || secops_report::run(&args))
}
