use std::process::ExitCode;

use secops_common::Format;
use secops_report::Args;

fn main() -> ExitCode {
    let args: Args = secops_common::cli::parse();
    // `--csv` is `--format csv` for everything the shared start-up decides
    // (a failure is never written as a record into a CSV report).
    let mut common = args.common.clone();
    if args.csv {
        common.format = Some(Format::Csv);
    }
    secops_common::cli::start::<Args>("secops-report", &common, || secops_report::run(&args))
}
