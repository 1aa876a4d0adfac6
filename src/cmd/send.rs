//! `lettermerge send`: deliver the letters through `[smtp]`, never twice.

use std::io::{BufRead, IsTerminal};
use std::path::Path;

use chrono::{DateTime, Utc};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use lettre::Address;

use super::Output;
use crate::campaign::paths;
use crate::campaign::schedule::{parse_at, parse_zone, At, Schedule, Zone};
use crate::campaign::smtp::{Delivery, SmtpSettings};
use crate::campaign::{Campaign, RecipientId};
use crate::clock::Clock;
use crate::diagnostic::{plural, Problem};
use crate::journal::{Decision, Failure, Journal, Retry, State};
use crate::send::deliver::{deliver, deliver_sendmail, Fate};
use crate::send::smtp::Connector;
use crate::send::{prepare, Outgoing, Selection};
use crate::template::Letters;
use scheduled::Scheduled;

mod scheduled;

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
    /// Send each letter at this time instead of [schedule] at: 2026-12-10T09:00 is read in each
    /// recipient's timezone (or --zone); with an offset, 2026-12-10T09:00+09:00, it is one instant.
    #[arg(long, value_name = "TIME", value_parser = parse_at)]
    pub at: Option<At>,
    /// Whose clock --at is read on: "recipient" (each recipient's timezone) or an IANA zone.
    #[arg(long, value_name = "ZONE", value_parser = parse_zone)]
    pub zone: Option<Zone>,
    /// Send only what is due now, then exit (for cron or a systemd timer).
    #[arg(long)]
    pub due: bool,
    /// Also send letters whose time passed longer ago than [schedule] grace (default 12 hours).
    #[arg(long)]
    pub send_late: bool,
    /// Use the campaign's paths that lead outside its folder, and its `sendmail` program
    /// (`check` lists them).
    #[arg(long)]
    pub allow_outside: bool,
}

/// What `send` loads before asking the journal.
struct Loaded {
    /// The instant the letters were sorted by.
    now: DateTime<Utc>,
    campaign: Campaign,
    schedule: Option<Schedule>,
    smtp: Option<SmtpSettings>,
    outgoing: Vec<Outgoing>,
    print_only: Vec<RecipientId>,
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
        let loaded = self.load(dir, clock)?;
        if !loaded.print_only.is_empty() && self.only.is_empty() {
            out.say(format!(
                "{} without email (print-only) will not be emailed; record them with `lettermerge posted ID…` once posted",
                plural(loaded.print_only.len(), "recipient")
            ));
        }
        if self.test_to.is_some()
            && Schedule::of(&loaded.campaign.settings, self.at, self.zone).is_some()
        {
            out.say("test letters go now: the schedule is not used with --test-to");
        }
        // A dry run of a campaign never sent has no journal to read, and makes none.
        let unsent = !dir.join(crate::journal::JOURNAL_FILE).exists();
        let journal = match &self.test_to {
            Some(_) => None,
            None if self.dry_run && unsent => None,
            None => Some(
                Journal::open(dir, &loaded.campaign.settings.campaign.id, clock)
                    .map_err(|p| vec![p])?,
            ),
        };
        let mut outgoing = loaded.outgoing;
        if let Some(journal) = &journal {
            for id in journal.recovered() {
                out.say(format!(
                    "{id}: the last run stopped while sending it; its fate is uncertain"
                ));
            }
            outgoing = self.planned(journal, outgoing, out, true)?;
        }
        let server = loaded
            .smtp
            .as_ref()
            .map_or_else(|| "(no [smtp] settings yet)".to_string(), describe);
        let Some(schedule) = loaded.schedule else {
            return self.now(dir, outgoing, loaded.smtp, &server, journal.as_ref(), out);
        };
        if self.limit.is_some() {
            return Err(vec![Problem::error(
                "--limit cannot be used with a schedule",
            )
            .hint(
                "send a few letters now with --only ID, or rehearse the schedule with --dry-run",
            )]);
        }
        let scheduled = Scheduled {
            send: self,
            dir,
            clock,
            schedule,
            journal,
            server,
        };
        scheduled.run(outgoing, loaded.smtp, loaded.now, out)
    }

    /// Loads the campaign and builds every letter it would send (before asking the journal).
    fn load(&self, dir: &Path, clock: &Clock) -> Result<Loaded, Vec<Problem>> {
        let scheduled_day = match self.at {
            Some(At::Wall(t)) => Some(t.date()),
            Some(At::Instant(t)) => Some(t.date_naive()),
            None => None,
        };
        let campaign = Campaign::load_for(dir, clock, scheduled_day)?;
        let schedule = match self.test_to {
            Some(_) => None,
            None => Schedule::of(&campaign.settings, self.at, self.zone),
        };
        if self.due && schedule.is_none() {
            return Err(vec![Problem::error("send --due needs a schedule, and the campaign has none")
                .in_file(dir.join(crate::campaign::settings::SETTINGS_FILE))
                .hint("add [schedule] with at = \"2026-12-10T09:00\" (see the README), or give the time with --at")]);
        }
        let letters = Letters::load(dir, &campaign.settings)?;
        let templates = letters.sources().map(|(path, _)| path);
        let allowed = self.allow_outside;
        paths::refused(&campaign, templates, paths::Command::Send, false, allowed)?;
        // A rehearsal needs no server settings yet.
        let smtp = match (campaign.settings.smtp.clone(), self.dry_run) {
            (Some(smtp), _) => Some(smtp),
            (None, true) => None,
            (None, false) => return Err(no_smtp(dir)),
        };
        // Letters are sorted into due and later by this instant; the later ones are not built
        // into emails until the round that sends them.
        let now = clock.now();
        let selection = Selection {
            only: self.only.clone(),
            test_to: self.test_to.clone(),
            schedule: schedule.clone(),
            build_until: Some(now),
        };
        let (outgoing, print_only) = prepare(&campaign, &letters, clock, &selection)?;
        Ok(Loaded {
            now,
            campaign,
            schedule,
            smtp,
            outgoing,
            print_only,
        })
    }

    /// Sends every letter now (no schedule).
    fn now(
        &self,
        dir: &Path,
        mut outgoing: Vec<Outgoing>,
        smtp: Option<SmtpSettings>,
        server: &str,
        journal: Option<&Journal>,
        out: &mut Output,
    ) -> Result<bool, Vec<Problem>> {
        if let Some(limit) = self.limit {
            outgoing.truncate(limit);
        }
        if outgoing.is_empty() {
            out.say("nothing to send");
            return Ok(true);
        }
        if self.dry_run {
            for o in &outgoing {
                crate::console::data(format_args!("{}\t{}\t{}", o.id, o.to, o.subject));
            }
            out.say(format!(
                "dry run: would send {} via {server}; nothing was sent",
                plural(outgoing.len(), "letter")
            ));
            return Ok(true);
        }
        let smtp = smtp.ok_or_else(|| no_smtp(dir))?;
        self.confirm(&format!(
            "send {} via {server}?",
            plural(outgoing.len(), "letter")
        ))?;
        let password = password(&smtp)?;
        crate::interrupt::install();
        let started = std::time::Instant::now();
        let round = deliver_now(&smtp, password.as_deref(), outgoing, journal)?;
        let took = started.elapsed();
        Ok(summarize(
            &round.fates,
            Some(took),
            round.journal.as_ref(),
            out,
        ))
    }

    /// Keeps the letters the journal says to send, and tells what it skips.
    fn planned(
        &self,
        journal: &Journal,
        outgoing: Vec<Outgoing>,
        out: &Output,
        loud: bool,
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
        let send: std::collections::HashSet<_> = plan.to_send().cloned().collect();
        let outgoing = outgoing
            .into_iter()
            .filter(|o| send.contains(&o.id))
            .collect();
        if !loud {
            return Ok(outgoing);
        }
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
        Ok(outgoing)
    }

    fn confirm(&self, question: &str) -> Result<(), Vec<Problem>> {
        if self.yes {
            return Ok(());
        }
        if !std::io::stdin().is_terminal() {
            return Err(vec![Problem::error(format!(
                "not sent: {question} needs confirmation"
            ))
            .hint(
                "run it on a terminal to be asked, or add --yes (try --dry-run first)",
            )]);
        }
        crate::console::message(format_args!("{question} [y/N] "), false);
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if matches!(answer.trim(), "y" | "Y" | "yes") {
            Ok(())
        } else {
            Err(vec![Problem::error("not sent: you did not confirm")])
        }
    }
}

fn no_smtp(dir: &Path) -> Vec<Problem> {
    vec![Problem::error("the campaign has no [smtp] settings")
        .in_file(dir.join(crate::campaign::settings::SETTINGS_FILE))
        .hint("add [smtp] with host, port, security and username (see the README), then try send --dry-run")]
}

/// What one go of sending did.
struct Round {
    /// Each letter's fate, by recipient id.
    fates: Vec<(RecipientId, Fate)>,
    /// Set when the journal could not be written: the go stopped at once, and these outcomes
    /// may be missing from it.
    journal: Option<Failure>,
}

/// Sends `outgoing` now through `smtp`, recording each letter in the journal. An error means
/// nothing was sent; once letters went out, a journal that failed is in [`Round::journal`].
fn deliver_now(
    smtp: &SmtpSettings,
    password: Option<&str>,
    outgoing: Vec<Outgoing>,
    journal: Option<&Journal>,
) -> Result<Round, Vec<Problem>> {
    let writer = journal
        .map(Journal::writer)
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
            let connector = Connector::new(smtp.clone(), password.map(str::to_string))
                .map_err(|e| vec![Problem::error(e)])?;
            deliver(connector, outgoing, writer.clone(), &progress)
        }
    };
    progress.finish_and_clear();
    let journal = writer.and_then(|w| w.finish().err());
    Ok(Round { fates, journal })
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
        "{spinner} {bar:30} {pos}/{len} letters ({msg}), {rate}, {elapsed} so far, {eta} left",
    ) {
        bar.set_style(style.with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0} a second", state.per_sec());
            },
        ));
    }
    bar.set_message("0 sent, 0 not sent");
    bar
}

/// Prints what happened to every letter that did not simply go out, what the journal could not
/// keep, and how long the sending took when it was one go; true when all went out and all is
/// recorded.
fn summarize(
    fates: &[(RecipientId, Fate)],
    took: Option<std::time::Duration>,
    journal: Option<&Failure>,
    out: &mut Output,
) -> bool {
    if let Some(failure) = journal {
        unrecorded(fates, failure, out);
    }
    let mut sent = 0;
    let mut bad = 0;
    let mut unsent: std::collections::BTreeMap<&str, Vec<&RecipientId>> = Default::default();
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
                unsent.entry(reason.as_str()).or_default().push(id);
            }
        }
    }
    // Letters left pending for one reason (a stop, a server that would not take more) are told
    // in one line when there are many.
    for (reason, ids) in unsent {
        if ids.len() <= LISTED {
            for id in ids {
                out.say(format!(
                    "{id}: not sent, still pending (run send again): {reason}"
                ));
            }
        } else {
            let first: Vec<String> = ids.iter().take(LISTED).map(ToString::to_string).collect();
            out.say(format!(
                "{} not sent, still pending (run send again): {reason} ({}, …)",
                plural(ids.len(), "letter"),
                first.join(", ")
            ));
        }
    }
    let pace = match took {
        // A rate is worth telling for many letters only; a few letters a second says nothing.
        Some(took) if sent >= 100 => format!(
            " in {:.2} s ({:.0} letters a second)",
            took.as_secs_f64(),
            sent as f64 / took.as_secs_f64().max(1e-6)
        ),
        Some(took) => format!(" in {:.1} s", took.as_secs_f64()),
        None => String::new(),
    };
    out.say(format!("sent {sent}, {bad} not sent{pace}"));
    if journal.is_some() {
        out.say("the run stopped at once because the send journal could not be written: free space (or fix the journal's folder), then run send again; it goes on from what the journal holds");
    }
    bad == 0 && journal.is_none()
}

/// Says what the journal could not keep, letter by letter, as the truth is known here: the
/// journal itself still shows these letters being sent, which the next run reads as uncertain.
fn unrecorded(fates: &[(RecipientId, Fate)], failure: &Failure, out: &mut Output) {
    out.problems(std::slice::from_ref(&failure.problem));
    for (id, state) in &failure.unrecorded {
        let fate = fates.iter().find(|(f, _)| f.as_str() == id).map(|(_, f)| f);
        let text = match (state, fate) {
            (State::Sent, Some(Fate::Sent(reply))) => format!(
                "{id}: DELIVERED ({reply}), but the journal could not record it; it will show as uncertain: do not send it again"
            ),
            (State::Failed, Some(Fate::Failed(reply))) => format!(
                "{id}: refused by the server ({reply}); the journal could not record it, so it will show as uncertain"
            ),
            (State::Pending, Some(Fate::Unsent(reason))) => format!(
                "{id}: NOT delivered ({reason}); the journal could not record that, so it will show as uncertain: send it with `send --only {id} --retry-uncertain`"
            ),
            (State::Uncertain, _) => format!(
                "{id}: may have been delivered; the journal could not record it, so it will show as uncertain"
            ),
            _ => continue,
        };
        out.say(text);
    }
}

/// How many letters left pending for one reason are named one by one.
const LISTED: usize = 5;
