//! `lettermerge preview`: the campaign as a web page on this computer.

use std::path::Path;

use clap::Args;

use super::Output;
use crate::clock::Clock;
use crate::diagnostic::{plural, Problem};
use crate::preview::server::Preview as Server;
use crate::preview::watch;

/// Show every letter and its email in your browser, updated as you edit the campaign.
///
/// Serves a page at http://127.0.0.1:PORT/ (this computer only): the recipients, each one's
/// letter on paper, its email as it will be sent, its PDF, and every problem `check` finds.
/// Saving a template, the settings or the recipients file updates the open page. The preview
/// never sends mail and never writes a file. Ctrl-C stops it.
#[derive(Debug, Args)]
pub struct Preview {
    /// The port to serve on; 0 picks a free one.
    #[arg(long, default_value_t = 7700)]
    pub port: u16,

    /// Open the page in the default browser.
    #[arg(long)]
    pub open: bool,
}

impl Preview {
    pub fn execute(self, dir: &Path, clock: &Clock, out: &mut Output) -> bool {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(r) => r,
            Err(e) => return fail(out, Problem::error(format!("cannot start the server: {e}"))),
        };
        runtime.block_on(self.serve(dir, clock, out))
    }

    async fn serve(self, dir: &Path, clock: &Clock, out: &mut Output) -> bool {
        if !dir.is_dir() {
            return fail(
                out,
                Problem::error(format!("{} is not a campaign folder", dir.display()))
                    .hint("pass the folder with -C, or create one with `lettermerge init DIR`"),
            );
        }
        let listener = match tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                return fail(
                    out,
                    Problem::error(format!("port {} is already in use", self.port)).hint(
                        "another preview may be running (its page still works); or choose another port: --port 7701, or --port 0 for any free one",
                    ),
                )
            }
            Err(e) => {
                return fail(
                    out,
                    Problem::error(format!("cannot listen on 127.0.0.1:{}: {e}", self.port))
                        .hint("choose another port with --port"),
                )
            }
        };
        let port = match listener.local_addr() {
            Ok(a) => a.port(),
            Err(e) => return fail(out, Problem::error(format!("cannot read the port: {e}"))),
        };
        let preview = Server::new(dir.to_path_buf(), *clock, port);
        if let Err(e) = watch::start(preview.clone()) {
            out.say(format!(
                "warning: {e}; the page will not update by itself, reload it after each change"
            ));
        }
        let url = format!("http://127.0.0.1:{port}/");
        // The address on stdout, alone, for scripts; the rest on stderr.
        crate::console::news(format_args!("{url}"));
        let (entries, errors, warnings) = preview.snapshot().counts();
        out.say(format!(
            "previewing {} ({}; {}, {}): open {url} in a browser.\nThe page updates when you save a file. Nothing is sent or written. Ctrl-C stops.",
            dir.display(),
            plural(entries, "recipient"),
            plural(errors, "error"),
            plural(warnings, "warning"),
        ));
        if self.open {
            if let Err(e) = webbrowser::open(&url) {
                out.say(format!(
                    "could not open a browser ({e}): open {url} yourself"
                ));
            }
        }
        let server = axum::serve(listener, preview.router());
        tokio::select! {
            result = server => match result {
                Ok(()) => true,
                Err(e) => fail(out, Problem::error(format!("the server stopped: {e}"))),
            },
            _ = tokio::signal::ctrl_c() => {
                out.say("preview stopped");
                true
            }
        }
    }
}

fn fail(out: &mut Output, problem: Problem) -> bool {
    out.problems(&[problem]);
    false
}
