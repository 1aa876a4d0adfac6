//! The `lettermerge` command: a thin shell over the library (see `lettermerge::cmd`).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    lettermerge::cmd::main()
}
