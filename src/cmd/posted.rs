//! `lettermerge posted`: record that postal letters went out, so `status` covers every letter.

use std::path::Path;

use chrono::NaiveDate;
use clap::Args;

use super::Output;
use crate::campaign::{Campaign, RecipientId};
use crate::clock::{local_zone, Clock};
use crate::diagnostic::{plural, Problem};
use crate::journal::Journal;

/// Record that the letters to print-only recipients (those without email) were posted.
///
/// `status` then shows them as posted, with the day, instead of "to-post". A letter already
/// recorded as posted keeps the day first recorded.
#[derive(Debug, Args)]
pub struct Posted {
    /// The recipients whose letters were posted.
    #[arg(value_name = "ID", required_unless_present = "all")]
    pub ids: Vec<String>,
    /// Every print-only recipient's letter.
    #[arg(long, conflicts_with = "ids")]
    pub all: bool,
    /// The day they were posted (default: today).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub on: Option<NaiveDate>,
}

impl Posted {
    pub fn execute(self, dir: &Path, clock: &Clock, out: &mut Output) -> bool {
        match self.run(dir, clock, out) {
            Ok(()) => true,
            Err(problems) => {
                out.problems(&problems);
                out.say(format!("nothing was recorded: {}", out.tally()));
                false
            }
        }
    }

    fn run(&self, dir: &Path, clock: &Clock, out: &Output) -> Result<(), Vec<Problem>> {
        let campaign = Campaign::load(dir, clock)?;
        let ids = self.chosen(&campaign)?;
        if ids.is_empty() {
            out.say("no recipient is print-only: every letter goes by email");
            return Ok(());
        }
        let on = self
            .on
            .unwrap_or_else(|| clock.now().with_timezone(&local_zone()).date_naive());
        let journal =
            Journal::open(dir, &campaign.settings.campaign.id, clock).map_err(|p| vec![p])?;
        let done = journal.post(&ids, on).map_err(|p| vec![p])?;
        let mut new = 0;
        for (id, day, recorded) in &done {
            if *recorded {
                new += 1;
                out.say(format!("{id}: posted on {day}"));
            } else {
                out.say(format!("{id}: already recorded as posted on {day}"));
            }
        }
        out.say(format!("recorded {} as posted", plural(new, "letter")));
        Ok(())
    }

    /// The print-only recipients chosen, in the recipients file's order. An id that is not a
    /// recipient, or one with email, is a problem: nothing is recorded then.
    fn chosen(&self, campaign: &Campaign) -> Result<Vec<RecipientId>, Vec<Problem>> {
        let mut recipients = campaign.recipients().map_err(|p| vec![p])?;
        let path = recipients.path.clone();
        let mut problems = Vec::new();
        let mut print_only = Vec::new();
        let mut emailed = Vec::new();
        while let Some(checked) = recipients.next_checked() {
            for result in checked {
                match result {
                    Ok(r) if r.has_email() => emailed.push(r.id),
                    Ok(r) => print_only.push(r.id),
                    Err(p) => problems.extend(p),
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        if self.all {
            return Ok(print_only);
        }
        let mut chosen = Vec::new();
        for id in &self.ids {
            if let Some(found) = print_only.iter().find(|p| p.as_str() == id) {
                if !chosen.contains(found) {
                    chosen.push(found.clone());
                }
            } else if emailed.iter().any(|e| e.as_str() == id) {
                problems.push(
                    Problem::error(format!("`{id}` has an email address: `send` delivers that letter"))
                        .in_file(&path)
                        .recipient(id.clone())
                        .hint("`posted` is for print-only recipients (no email); `lettermerge status` shows what send did"),
                );
            } else {
                problems.push(
                    Problem::error(format!("there is no recipient with id `{id}`"))
                        .in_file(&path)
                        .hint("`lettermerge status` lists the recipients; ids are lowercase"),
                );
            }
        }
        if problems.is_empty() {
            Ok(chosen)
        } else {
            Err(problems)
        }
    }
}
