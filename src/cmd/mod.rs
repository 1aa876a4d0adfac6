//! The command line: one file per command. Each parses its arguments, calls the library and
//! prints; data goes to stdout, messages to stderr.

pub mod check;
pub mod init;
pub mod posted;
pub mod preview;
pub mod render;
pub mod send;
pub mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::clock::Clock;
use crate::diagnostic::{plural, Problem, Reporter};

/// Letter-drafting template engine and mail-merge for advocacy campaigns.
///
/// A campaign folder holds lettermerge.toml (settings), recipients.toml or recipients.csv, and
/// templates/letter.md. Start with `lettermerge init my-campaign`, then `check` and `render`.
#[derive(Debug, Parser)]
#[command(name = "lettermerge", version, propagate_version = true)]
pub struct Cli {
    /// The campaign folder.
    #[arg(
        short = 'C',
        long = "dir",
        global = true,
        default_value = ".",
        value_name = "DIR"
    )]
    pub dir: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Init(init::Init),
    Check(check::Check),
    Render(render::Render),
    Send(send::Send),
    Status(status::Status),
    Posted(posted::Posted),
    Preview(preview::Preview),
}

/// Exit statuses: 0 all good, 1 the campaign has problems or letters failed, 2 bad command line
/// (clap's own).
pub const FAILURE: u8 = 1;

/// Runs the command line and returns the process's exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let clock = match Clock::from_env() {
        Ok(c) => c,
        Err(e) => {
            crate::console::message(format_args!("error: {e}"), true);
            return ExitCode::from(2);
        }
    };
    let mut out = Output::new();
    let ok = match cli.command {
        Command::Init(c) => c.execute(&cli.dir, &mut out),
        Command::Check(c) => c.execute(&cli.dir, &clock, &mut out),
        Command::Render(c) => c.execute(&cli.dir, &clock, &mut out),
        Command::Send(c) => c.execute(&cli.dir, &clock, &mut out),
        Command::Status(c) => c.execute(&cli.dir, &clock, &mut out),
        Command::Posted(c) => c.execute(&cli.dir, &clock, &mut out),
        Command::Preview(c) => c.execute(&cli.dir, &clock, &mut out),
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(FAILURE)
    }
}

/// Where commands report problems and progress (stderr), with snippets of the files.
pub struct Output {
    reporter: Reporter,
    pub errors: usize,
    pub warnings: usize,
}

impl Default for Output {
    fn default() -> Self {
        Self::new()
    }
}

impl Output {
    pub fn new() -> Self {
        Output {
            reporter: Reporter::new(),
            errors: 0,
            warnings: 0,
        }
    }

    /// Prints problems, errors first in the order found, then warnings.
    pub fn problems(&mut self, problems: &[Problem]) {
        let mut sorted: Vec<&Problem> = problems.iter().collect();
        sorted.sort_by_key(|p| p.severity);
        for p in sorted {
            if p.is_error() {
                self.errors += 1;
            } else {
                self.warnings += 1;
            }
            crate::console::message(format_args!("{}", self.reporter.render(p)), false);
        }
    }

    /// "2 errors, 1 warning".
    pub fn tally(&self) -> String {
        format!(
            "{}, {}",
            plural(self.errors, "error"),
            plural(self.warnings, "warning")
        )
    }

    pub fn say(&self, message: impl AsRef<str>) {
        crate::console::message(format_args!("{}", message.as_ref()), true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
}
