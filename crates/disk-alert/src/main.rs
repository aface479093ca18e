use std::process::ExitCode;

use disk_alert::{Args, TOOL, run};

fn main() -> ExitCode {
    let args: Args = secops_common::cli::parse();
    secops_common::cli::start::<Args>(TOOL, &args.common, || run(&args))
}
