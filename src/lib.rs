//! lettermerge turns one reusable letter into many individualized ones.
//!
//! The flow, and the module that owns each stage:
//!
//! 1. [`campaign`] loads `lettermerge.toml` and the recipients (TOML or CSV) and checks them into
//!    types: a [`campaign::Recipient`] is known good once built, and every problem found on the way
//!    is a [`diagnostic::Problem`] that names the file, line, column, recipient and a fix.
//!    [`input`] reads every file of a campaign: regular files only, within a size.
//! 2. [`template`] compiles the letter, its language variants and partials once, and merges each
//!    recipient's letter strictly: a slot the data lacks is an error, never a blank. Data is
//!    escaped so it is always text, never markup. No template can crash or hang the process:
//!    partials that include themselves are found when read, and each merge has limits.
//! 3. [`render`] turns the merged Markdown into every output format (md, txt, html, eml, pdf)
//!    from one parse, so each says the same words, and publishes a run's files whole or not at
//!    all, never through a link ([`render::target`]).
//! 4. [`cmd`] holds one file per command; each parses its arguments, calls the stages and prints.
//!    [`clock`] is the only place that reads the time.
//!    [`journal`] records what each `send` did, so no letter goes out twice, even after a crash.
#![forbid(unsafe_code)]
// A `Problem` carries file, span, recipient and hint; it is built on cold paths only, so its size
// in a `Result` costs nothing that matters.
#![allow(clippy::result_large_err)]

pub mod campaign;
pub mod clock;
pub mod cmd;
pub mod console;
pub mod controls;
pub mod diagnostic;
pub mod input;
pub mod interrupt;
pub mod journal;
pub mod preview;
pub mod render;
pub mod send;
pub mod template;
