//! The command-line contract every tool shares: output and verbosity flags,
//! `--fail-on`, the `--interval`/`--count` loop flags, `--generate` for man
//! pages and completions, and the `main` wrapper that maps errors to exit
//! statuses.
//!
//! A tool's `main` parses with [`parse`] (or [`parse_with`]), not clap's
//! `Args::parse`: `--generate` is answered before the tool's own rules
//! apply, since a tool with subcommands requires one and remote-run
//! requires a command, and neither is needed to print a man page.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{
    ArgAction, ArgMatches, Args, Command, CommandFactory, FromArgMatches, Parser, ValueEnum,
};

use crate::exit::{Context, Error, Exit};
use crate::output::{Format, OutputSpec};
use crate::severity::Severity;

/// Flags every tool takes. Global, so tools with subcommands accept them
/// before or after the subcommand (`backup-rotate list --format table`).
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Output format [default: from the --output extension, else table on a
    /// terminal and jsonl in a pipe]
    #[arg(
        global = true,
        long,
        value_enum,
        value_name = "FORMAT",
        help_heading = "Output"
    )]
    pub format: Option<Format>,

    /// Write to FILE instead of stdout; it appears whole or not at all
    #[arg(
        global = true,
        short,
        long,
        value_name = "FILE",
        help_heading = "Output"
    )]
    pub output: Option<PathBuf>,

    /// Exit 1 when a record at or above SEVERITY is written
    #[arg(
        global = true,
        long,
        value_name = "SEVERITY",
        default_value = "high",
        help_heading = "Output"
    )]
    pub fail_on: Severity,

    /// Write CSV cells verbatim instead of neutralising spreadsheet formulas
    /// (cells starting with = + - @)
    #[arg(global = true, long, help_heading = "Output")]
    pub raw_csv: bool,

    /// Print only errors on stderr
    #[arg(
        global = true,
        short,
        long,
        conflicts_with = "verbose",
        help_heading = "Diagnostics"
    )]
    pub quiet: bool,

    /// Say more on stderr (repeat for more)
    #[arg(global = true, short, long, action = ArgAction::Count, help_heading = "Diagnostics")]
    pub verbose: u8,

    /// Print a man page or shell completion script and exit
    ///
    /// `man` prints the page of the command before it (`TOOL SUBCOMMAND
    /// --generate man`); `man-pages -o DIR` writes TOOL.1 and
    /// TOOL-SUBCOMMAND.1 for every subcommand into DIR. With -o FILE the
    /// others write FILE, atomically
    #[arg(
        global = true,
        long,
        value_enum,
        value_name = "WHAT",
        help_heading = "Diagnostics"
    )]
    pub generate: Option<Generate>,
}

impl CommonArgs {
    /// Where and how records go; `table_columns` are the fields a table
    /// shows for this tool.
    /// HTML is a report over many records, so only secops-report makes it.
    pub fn output_spec(&self, table_columns: &[&str]) -> Result<OutputSpec, Error> {
        let format = Format::resolve(self.format, self.output.as_deref())?;
        if format == Format::Html {
            return Err(Error::bad_input(
                "HTML is made by secops-report: pipe the records into `secops-report -o report.html`",
            ));
        }
        Ok(self.output_spec_as(format, table_columns))
    }

    /// The same, in a format the tool has already settled (secops-report's
    /// `--csv` shorthand).
    pub fn output_spec_as(&self, format: Format, table_columns: &[&str]) -> OutputSpec {
        OutputSpec {
            format,
            path: self.output.clone(),
            csv_guard: !self.raw_csv,
            table_columns: table_columns.iter().map(|c| c.to_string()).collect(),
        }
    }
}

/// `--state-dir`, the same in every tool that keeps state: baselines,
/// what the last run saw, what was sent.
#[derive(Debug, Clone, Default, Args)]
pub struct StateArgs {
    /// Keep state in DIR [default: /var/lib/secops as root, else
    /// $XDG_STATE_HOME/secops]; created 0700, refused if others can write it
    #[arg(long, value_name = "DIR", help_heading = "State")]
    pub state_dir: Option<PathBuf>,
}

impl StateArgs {
    /// The directory, created and checked (see [`crate::state::state_dir`]).
    pub fn dir(&self) -> Result<PathBuf, Error> {
        crate::state::state_dir(self.state_dir.as_deref())
    }
}

/// `--prom-file`, the same in every tool that exports metrics.
#[derive(Debug, Clone, Default, Args)]
pub struct PromArgs {
    /// After each successful run, replace FILE (atomically, 0644) with
    /// Prometheus metrics for node_exporter's textfile collector (Debian's
    /// reads /var/lib/prometheus/node-exporter/*.prom)
    #[arg(global = true, long, value_name = "FILE", help_heading = "Prometheus")]
    pub prom_file: Option<PathBuf>,
}

impl PromArgs {
    /// Writes the run's findings and success time, after `more` (the
    /// tool's own families), when `--prom-file` was given.
    pub fn write(
        &self,
        tool: &str,
        findings: &crate::prom::Findings,
        more: crate::prom::Exposition,
    ) -> Result<(), Error> {
        let Some(path) = &self.prom_file else {
            return Ok(());
        };
        let mut metrics = more;
        metrics.run_succeeded(tool, findings).write_textfile(path)
    }
}

/// Flags of tools that can run as a loop.
#[derive(Debug, Clone, Copy, Args)]
pub struct RepeatArgs {
    /// Repeat every DURATION (e.g. 10s, 5m) until SIGINT/SIGTERM or --count
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Repeat")]
    pub interval: Option<Duration>,

    /// Stop after N passes (needs --interval)
    #[arg(long, value_name = "N", requires = "interval",
          value_parser = clap::value_parser!(u64).range(1..), help_heading = "Repeat")]
    pub count: Option<u64>,
}

/// `10s`, `5m`, `1h30m`, `250ms`; zero is refused because a zero interval
/// would spin a core.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration =
        humantime::parse_duration(text).map_err(|err| format!("{err} (try 10s, 5m, 1h)"))?;
    if duration.is_zero() {
        return Err("the interval must be longer than zero".to_string());
    }
    Ok(duration)
}

/// What `--generate` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    /// A roff man page: the tool's, or its subcommand's when one is given
    Man,
    /// Every man page (the tool's and one per subcommand) into -o DIR
    ManPages,
    CompleteBash,
    CompleteZsh,
    CompleteFish,
}

/// Parses the command line into the tool's `A`, after answering
/// `--generate` (then the process exits): see [`parse_with`].
pub fn parse<A: Parser>() -> A {
    parse_with(A::command())
}

/// Parses the command line with `cmd` (the tool's command, as the tool
/// adjusts it) into `A`. A command line that asks for `--generate` is
/// answered first and the process exits: it needs none of what the tool
/// otherwise requires (a subcommand, remote-run's command).
pub fn parse_with<A: FromArgMatches>(mut cmd: Command) -> A {
    if let Some(request) = GenerateRequest::find(&cmd, std::env::args_os()) {
        let tool: &'static str = Box::leak(cmd.get_name().to_string().into_boxed_str());
        crate::diag::init(tool, false, 0);
        let exit = match request.answer(cmd) {
            Ok(exit) => exit,
            Err(err) => {
                crate::diag::error(format_args!("{err}"));
                err.exit
            }
        };
        std::process::exit(exit as i32);
    }
    let mut matches = cmd.get_matches_mut();
    A::from_arg_matches_mut(&mut matches)
        .map_err(|err| err.format(&mut cmd))
        .unwrap_or_else(|err| err.exit())
}

/// A command line's `--generate`, found by a lenient parse that ignores
/// what is missing: what, for which subcommand, and where to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GenerateRequest {
    what: Generate,
    /// The subcommands named before it, outermost first.
    path: Vec<String>,
    output: Option<PathBuf>,
}

impl GenerateRequest {
    /// The request in `args` (the program name first), if any. A command
    /// line clap rejects outright (`--help`, an unknown flag before
    /// `--generate`, a bad WHAT) asks for nothing here, and the real parse
    /// then says what is wrong.
    fn find(cmd: &Command, args: impl IntoIterator<Item = OsString>) -> Option<GenerateRequest> {
        fn lenient(cmd: Command) -> Command {
            cmd.ignore_errors(true).mut_subcommands(lenient)
        }
        let matches = lenient(cmd.clone()).try_get_matches_from(args).ok()?;
        let mut path = Vec::new();
        let mut at: &ArgMatches = &matches;
        let mut what = None;
        let mut output = None;
        loop {
            // Global flags are propagated down: the innermost has them all.
            if let Ok(Some(w)) = at.try_get_one::<Generate>("generate") {
                what = Some(*w);
            }
            if let Ok(Some(o)) = at.try_get_one::<PathBuf>("output") {
                output = Some(o.clone());
            }
            match at.subcommand() {
                Some((name, sub)) => {
                    path.push(name.to_string());
                    at = sub;
                }
                None => break,
            }
        }
        Some(GenerateRequest {
            what: what?,
            path,
            output,
        })
    }

    fn answer(&self, cmd: Command) -> Result<Exit, Error> {
        let mut root = cmd.disable_help_subcommand(true);
        // Names every subcommand `TOOL-SUB` (its page's name) and gives it
        // the global flags.
        root.build();
        match self.what {
            Generate::ManPages => {
                let dir = self.output.as_deref().ok_or_else(|| {
                    Error::bad_input("--generate man-pages writes one file per page: give the directory with -o DIR")
                })?;
                write_man_pages(&root, dir)?;
            }
            Generate::Man => {
                let mut page = &root;
                for name in &self.path {
                    page = page.find_subcommand(name).ok_or_else(|| {
                        Error::bad_input(format!("{} has no subcommand {name}", page.get_name()))
                    })?;
                }
                self.emit(&render_man(page, &root)?)?;
            }
            shell => self.emit(&completion(root, shell))?,
        }
        Ok(Exit::Clean)
    }

    /// To -o FILE (atomically, 0644: a man page or completion script is
    /// public), else stdout.
    fn emit(&self, text: &[u8]) -> Result<(), Error> {
        match &self.output {
            Some(path) => crate::atomic::write_atomic(path, text, crate::perms::PUBLIC)
                .context(|| format!("cannot write {}", path.display())),
            None => std::io::stdout()
                .write_all(text)
                .context(|| "cannot write to stdout".into()),
        }
    }
}

/// The roff page of `cmd` (the built `root` or one of its subcommands).
fn render_man(cmd: &Command, root: &Command) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let version = root.get_version().unwrap_or_default();
    clap_mangen::Man::new(cmd.clone())
        .source(format!("secops-tools {version}").trim_end().to_string())
        .manual("secops-tools")
        .render(&mut out)
        .context(|| "cannot render the man page".into())?;
    Ok(out)
}

/// `TOOL.1` and `TOOL-SUB.1` (`TOOL-SUB-SUBSUB.1`, ...) for every visible
/// subcommand of the built `root`, into `dir`, each atomically.
fn write_man_pages(root: &Command, dir: &Path) -> Result<(), Error> {
    crate::perms::create_dir_all(dir, 0o755)
        .context(|| format!("cannot create {}", dir.display()))?;
    let mut pending = vec![root];
    while let Some(cmd) = pending.pop() {
        let name = cmd.get_display_name().unwrap_or_else(|| cmd.get_name());
        let path = dir.join(format!("{name}.1"));
        crate::atomic::write_atomic(&path, &render_man(cmd, root)?, crate::perms::PUBLIC)
            .context(|| format!("cannot write {}", path.display()))?;
        pending.extend(cmd.get_subcommands().filter(|sub| !sub.is_hide_set()));
    }
    Ok(())
}

fn completion(mut cmd: Command, shell: Generate) -> Vec<u8> {
    let shell = match shell {
        Generate::CompleteBash => clap_complete::Shell::Bash,
        Generate::CompleteZsh => clap_complete::Shell::Zsh,
        Generate::CompleteFish => clap_complete::Shell::Fish,
        Generate::Man | Generate::ManPages => unreachable!("not a shell"),
    };
    let name = cmd.get_name().to_string();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut out);
    out
}

/// The body of every tool's `main`: sets up diagnostics, answers
/// `--generate`, runs the tool and turns its result into the exit status,
/// printing a failure as one `tool: error: ...` line.
pub fn start<A: CommandFactory>(
    tool: &'static str,
    common: &CommonArgs,
    run: impl FnOnce() -> Result<Exit, Error>,
) -> ExitCode {
    crate::diag::init(tool, common.quiet, common.verbose);
    let outcome = match common.generate {
        // Only a main that parsed without [`parse`] gets here.
        Some(what) => GenerateRequest {
            what,
            path: Vec::new(),
            output: common.output.clone(),
        }
        .answer(A::command()),
        None => run(),
    };
    match outcome {
        Ok(exit) => exit.into(),
        Err(err) => {
            crate::diag::error(format_args!("{err}"));
            if !err.recorded
                && common.output.is_none()
                && matches!(Format::resolve(common.format, None), Ok(Format::Jsonl))
            {
                write_failure(tool, &err);
            }
            err.exit.into()
        }
    }
}

/// A run that could not do its job says so as a record too, when its
/// records go down a pipe: `fim-check verify | secops-notify` must page
/// when fim-check cannot read its key, and a pipe carries records, not
/// stderr. A firing alert (parts `run`) of severity high; it ends when it
/// stops being reported, or with secops's `job.recovered` under secops.
fn write_failure(tool: &str, err: &Error) {
    let rec = crate::Record::new(
        tool,
        "run.failed",
        Severity::High,
        format!("{tool} could not run: {err}"),
    )
    .with("error", err.message.as_str())
    .with("exit", err.exit as u8)
    .firing(&["run"]);
    let mut line = rec.to_json();
    line.push('\n');
    // stdout may be gone (a closed pipe): stderr already said it.
    let _ = std::io::stdout().write_all(line.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    struct Tool {
        #[command(flatten)]
        common: CommonArgs,
    }

    #[test]
    fn only_secops_report_makes_html() {
        use clap::Parser;
        for args in [&["t", "--format", "html"][..], &["t", "-o", "r.html"]] {
            let err = Tool::parse_from(args).common.output_spec(&[]).unwrap_err();
            assert_eq!(err.exit, Exit::BadInput);
            assert!(err.message.contains("secops-report"), "{err}");
        }
        let csv = Tool::parse_from(["t", "-o", "r.csv"])
            .common
            .output_spec(&[]);
        assert_eq!(csv.unwrap().format, Format::Csv);
    }

    /// A tool like backup-rotate: a subcommand required, and one with a
    /// required flag of its own.
    #[derive(clap::Parser)]
    #[command(name = "tool", version)]
    struct WithSubcommands {
        #[command(flatten)]
        common: CommonArgs,
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(clap::Subcommand)]
    enum Sub {
        /// Make one
        Make {
            /// Where to
            #[arg(long)]
            dest: PathBuf,
        },
        /// List them
        List {
            #[arg(last = true)]
            rest: Vec<String>,
        },
    }

    fn request(args: &[&str]) -> Option<GenerateRequest> {
        GenerateRequest::find(&WithSubcommands::command(), args.iter().map(OsString::from))
    }

    #[test]
    fn generate_needs_no_subcommand_and_names_the_subcommands_page() {
        let asked = |what, path: &[&str], output: Option<&str>| {
            Some(GenerateRequest {
                what,
                path: path.iter().map(|p| p.to_string()).collect(),
                output: output.map(PathBuf::from),
            })
        };
        assert_eq!(
            request(&["tool", "--generate", "man"]),
            asked(Generate::Man, &[], None)
        );
        // make's --dest is missing, and need not be there.
        assert_eq!(
            request(&["tool", "make", "--generate=man"]),
            asked(Generate::Man, &["make"], None)
        );
        assert_eq!(
            request(&["tool", "--generate", "man-pages", "-o", "pages"]),
            asked(Generate::ManPages, &[], Some("pages"))
        );
        assert_eq!(
            request(&["tool", "--generate", "complete-bash"]),
            asked(Generate::CompleteBash, &[], None)
        );
        // Not a request: a real run, words after --, help, a bad WHAT.
        assert_eq!(request(&["tool", "make", "--dest", "x"]), None);
        assert_eq!(request(&["tool", "list", "--", "--generate", "man"]), None);
        assert_eq!(request(&["tool", "--help"]), None);
        assert_eq!(request(&["tool", "--generate", "nonsense"]), None);
    }

    #[test]
    fn every_subcommand_gets_its_own_man_page() {
        let dir = tempfile::tempdir().unwrap();
        let request = GenerateRequest {
            what: Generate::ManPages,
            path: Vec::new(),
            output: Some(dir.path().to_path_buf()),
        };
        assert_eq!(request.answer(WithSubcommands::command()), Ok(Exit::Clean));
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["tool-list.1", "tool-make.1", "tool.1"]);
        let page = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        let tool = page("tool.1");
        assert!(tool.contains("tool\\-make(1)"), "{tool}");
        assert!(!tool.contains("tool\\-help(1)"), "no page for help: {tool}");
        let make = page("tool-make.1");
        assert!(
            make.starts_with(".ie") && make.contains(".TH tool-make 1"),
            "{make}"
        );
        // Its own flags and the global ones.
        assert!(
            make.contains("\\-\\-dest") && make.contains("\\-\\-format"),
            "{make}"
        );

        let missing = GenerateRequest {
            output: None,
            ..request
        };
        let err = missing.answer(WithSubcommands::command()).unwrap_err();
        assert_eq!(err.exit, Exit::BadInput);
        assert!(err.message.contains("-o DIR"), "{err}");
    }

    #[test]
    fn durations_read_like_an_operator_writes_them() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("ten").unwrap_err().contains("try 10s"));
    }
}
