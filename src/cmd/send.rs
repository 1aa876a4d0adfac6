//! `lettermerge send`: deliver the letters through `[smtp]`, never twice.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use lettre::Address;

use super::Output;
use crate::campaign::smtp::{Delivery, SmtpSettings};
use crate::campaign::Campaign;
use crate::clock::Clock;
use crate::diagnostic::{plural, Problem};
use crate::journal::{Decision, Journal, Retry};
use crate::send::deliver::{deliver, deliver_sendmail, Fate};
use crate::send::smtp::Connector;
use crate::send::{prepare, Outgoing, Selection};
use crate::template::Letters;

/// Send each letter by email through [smtp], recording every attempt in the journal.
///
/// Nothing is sent without intent: on a terminal `send` asks first; elsewhere it needs --yes.
/// Running it again sends only what has not been sent; a letter whose fate is unknown is sent
/// again only with --retry-uncertain.
#[derive(Debug, Args)]
pub struct Send {
    /// Show what would go where, connecting to nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Send without asking.
    #[arg(long)]
    pub yes: bool,
    /// Only this recipient (repeat for more).
    #[arg(long, value_name = "ID")]
    pub only: Vec<String>,
    /// At most this many letters.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Send the letters to this address instead of the recipients (nothing is recorded).
    #[arg(long, value_name = "ADDR")]
    pub test_to: Option<Address>,
    /// Send again the letters the server refused for good last time.
    #[arg(long)]
    pub retry_failed: bool,
    /// Send again the letters whose fate is unknown (they may arrive twice).
    #[arg(long)]
    pub retry_uncertain: bool,
}

impl Send {
    pub fn execute(self, dir: &Path, clock: &Clock, out: &mut Output) -> bool {
        match self.run(dir, clock, out) {
            Ok(ok) => ok,
            Err(problems) => {
                out.problems(&problems);
                out.say(format!("nothing was sent: {}", out.tally()));
                false
            }
        }
    }

    fn run(&self, dir: &Path, clock: &Clock, out: &mut Output) -> Result<bool, Vec<Problem>> {
        let campaign = Campaign::load(dir, clock)?;
        let letters = Letters::load(dir, &campaign.settings)?;
        let no_smtp = || {
            vec![Problem::error("the campaign has no [smtp] settings")
                .in_file(dir.join(crate::campaign::settings::SETTINGS_FILE))
                .hint("add [smtp] with host, port, security and username (see the README), then try send --dry-run")]
        };
        // A rehearsal needs no server settings yet.
        let smtp = match (campaign.settings.smtp.clone(), self.dry_run) {
            (Some(smtp), _) => Some(smtp),
            (None, true) => None,
            (None, false) => return Err(no_smtp()),
        };
        let selection = Selection {
            only: self.only.clone(),
            test_to: self.test_to.clone(),
        };
        let (mut outgoing, print_only) = prepare(&campaign, &letters, clock, &selection)?;
        if !print_only.is_empty() && self.only.is_empty() {
            out.say(format!(
                "{} without email (print-only) will not be emailed",
                plural(print_only.len(), "recipient")
            ));
        }
        // A dry run of a campaign never sent has no journal to read, and makes none.
        let unsent = !dir.join(crate::journal::JOURNAL_FILE).exists();
        let journal = match &self.test_to {
            Some(_) => None,
            None if self.dry_run && unsent => None,
            None => Some(
                Journal::open(dir, &campaign.settings.campaign.id, clock).map_err(|p| vec![p])?,
            ),
        };
        if let Some(journal) = &journal {
            for id in journal.recovered() {
                out.say(format!(
                    "{id}: the last run stopped while sending it; its fate is uncertain"
                ));
            }
            outgoing = self.planned(journal, outgoing, out)?;
        }
        if let Some(limit) = self.limit {
            outgoing.truncate(limit);
        }
        if outgoing.is_empty() {
            out.say("nothing to send");
            return Ok(true);
        }
        let server = smtp
            .as_ref()
            .map_or_else(|| "(no [smtp] settings yet)".to_string(), describe);
        if self.dry_run {
            for o in &outgoing {
                println!("{}\t{}\t{}", o.id, o.to, o.subject);
            }
            out.say(format!(
                "dry run: would send {} via {server}; nothing was sent",
                plural(outgoing.len(), "letter")
            ));
            return Ok(true);
        }
        let smtp = smtp.ok_or_else(no_smtp)?;
        self.confirm(&outgoing, &server)?;
        let writer = journal
            .as_ref()
            .map(|j| j.writer())
            .transpose()
            .map_err(|p| vec![p])?;
        let progress = progress_bar(outgoing.len());
        let fates = match &smtp.delivery {
            Delivery::Sendmail(command) => deliver_sendmail(
                command.as_deref(),
                smtp.connections,
                outgoing,
                writer.clone(),
                &progress,
            ),
            Delivery::Smtp => {
                let password = password(&smtp)?;
                let connector =
                    Connector::new(smtp, password).map_err(|e| vec![Problem::error(e)])?;
                deliver(connector, outgoing, writer.clone(), &progress)
            }
        };
        progress.finish_and_clear();
        if let Some(w) = writer {
            w.finish().map_err(|p| vec![p])?;
        }
        Ok(summarize(&fates, out))
    }

    /// Keeps the letters the journal says to send, and tells what it skips.
    fn planned(
        &self,
        journal: &Journal,
        outgoing: Vec<Outgoing>,
        out: &Output,
    ) -> Result<Vec<Outgoing>, Vec<Problem>> {
        let keys: Vec<_> = outgoing
            .iter()
            .map(|o| (o.id.clone(), o.hash.clone()))
            .collect();
        let retry = Retry {
            failed: self.retry_failed,
            uncertain: self.retry_uncertain,
        };
        let plan = journal.plan(&keys, retry).map_err(|p| vec![p])?;
        let sent = plan
            .letters
            .iter()
            .filter(|p| matches!(p.decision, Decision::AlreadySent { .. }))
            .count();
        if sent > 0 {
            out.say(format!(
                "{} already sent: not sent again",
                plural(sent, "letter")
            ));
        }
        for id in plan.changed_since_sent() {
            out.say(format!(
                "{id}: the letter changed since it was sent; it is not sent again"
            ));
        }
        for (decision, flag) in [
            (Decision::SkipFailed, "--retry-failed"),
            (Decision::SkipUncertain, "--retry-uncertain"),
        ] {
            let n = plan.count(decision);
            if n > 0 {
                out.say(format!(
                    "{} skipped: send them with {flag}",
                    plural(n, "letter")
                ));
            }
        }
        let send: std::collections::HashSet<_> = plan.to_send().cloned().collect();
        Ok(outgoing
            .into_iter()
            .filter(|o| send.contains(&o.id))
            .collect())
    }

    fn confirm(&self, outgoing: &[Outgoing], server: &str) -> Result<(), Vec<Problem>> {
        if self.yes {
            return Ok(());
        }
        let question = format!("send {} via {server}?", plural(outgoing.len(), "letter"));
        if !std::io::stdin().is_terminal() {
            return Err(vec![Problem::error(format!(
                "not sent: {question} needs confirmation"
            ))
            .hint(
                "run it on a terminal to be asked, or add --yes (try --dry-run first)",
            )]);
        }
        eprint!("{question} [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if matches!(answer.trim(), "y" | "Y" | "yes") {
            Ok(())
        } else {
            Err(vec![Problem::error("not sent: you did not confirm")])
        }
    }
}

fn describe(smtp: &SmtpSettings) -> String {
    if let Delivery::Sendmail(command) = &smtp.delivery {
        let command = command.as_deref().unwrap_or(Path::new("sendmail"));
        return format!("the local mail system ({})", command.display());
    }
    match &smtp.username {
        Some(user) => format!("{}:{} as {user}", smtp.host, smtp.port),
        None => format!("{}:{}", smtp.host, smtp.port),
    }
}

/// The password from the variable `password_env` names, or asked on a terminal. Never printed.
fn password(smtp: &SmtpSettings) -> Result<Option<String>, Vec<Problem>> {
    if smtp.username.is_none() {
        return Ok(None);
    }
    if let Ok(p) = std::env::var(&smtp.password_env) {
        return Ok(Some(p));
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(format!("password for {}: ", describe(smtp)))
            .map(Some)
            .map_err(|e| vec![Problem::error(format!("cannot read the password: {e}"))]);
    }
    Err(vec![Problem::error(format!(
        "no password: the variable {} is not set",
        smtp.password_env
    ))
    .hint(format!(
        "export {}=… before sending, or run send on a terminal to type it",
        smtp.password_env
    ))])
}

fn progress_bar(total: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {bar:30} {pos}/{len} sent, {elapsed} so far, {eta} left",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Prints what happened to every letter that did not simply go out; true when all went out.
fn summarize(fates: &[(crate::campaign::RecipientId, Fate)], out: &Output) -> bool {
    let mut sent = 0;
    let mut bad = 0;
    for (id, fate) in fates {
        match fate {
            Fate::Sent(_) => sent += 1,
            Fate::Failed(reply) => {
                bad += 1;
                out.say(format!("{id}: failed: {reply}"));
            }
            Fate::Uncertain(reason) => {
                bad += 1;
                out.say(format!("{id}: uncertain (may have been delivered; resend only with --retry-uncertain): {reason}"));
            }
            Fate::Unsent(reason) => {
                bad += 1;
                out.say(format!(
                    "{id}: not sent, still pending (run send again): {reason}"
                ));
            }
        }
    }
    out.say(format!("sent {sent}, {} not sent", bad));
    bad == 0
}
