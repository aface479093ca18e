use std::process::ExitCode;

use fim_check::{Args, Status, TOOL, run};

fn main() -> ExitCode {
    let args = Args::parse_command_line();
    let mut status = Status::default();
    let code = secops_common::cli::start::<Args>(TOOL, &args.common, || run(&args, &mut status));
    status.exit_code(args.aide_exit_codes(), code)
}
