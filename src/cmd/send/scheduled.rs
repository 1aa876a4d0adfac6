//! `send` with a schedule: each letter when it is due, through the same journal.
//!
//! A run is a loop of rounds. Each round reads the campaign afresh (so a typo fixed at 08:00 is in
//! the 09:00 letters, and each letter's Date is when it went), asks the journal what is still to
//! send, sends what is due, records the rest as scheduled, and waits for the next due time. With
//! `--due` it does one round and exits: the form for cron. Stopping at any point is safe: what
//! was sent is in the journal, and the next run sends what is due.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Duration, Utc};

use super::{deliver_now, no_smtp, password, summarize, Send};
use crate::campaign::schedule::{show_span, Schedule};
use crate::campaign::smtp::SmtpSettings;
use crate::campaign::RecipientId;
use crate::clock::{local_zone, Clock};
use crate::cmd::Output;
use crate::diagnostic::{first_of, plural, Problem};
use crate::journal::Failure;
use crate::journal::Journal;
use crate::send::deliver::Fate;
use crate::send::timetable::{self, in_its_zone, next, split, tally, wait_until, Tally};
use crate::send::Outgoing;

/// How long a letter refused for now waits before the next try, within its grace.
const RETRY_AFTER: Duration = Duration::minutes(5);

/// How long a waiting run leaves a campaign that no longer loads before looking again.
const LOOK_AGAIN: std::time::Duration = std::time::Duration::from_secs(60);

pub(super) struct Scheduled<'a> {
    pub send: &'a Send,
    pub dir: &'a Path,
    pub clock: &'a Clock,
    pub schedule: Schedule,
    pub journal: Option<Journal>,
    pub server: String,
}

/// How a run ended.
enum End {
    /// Every letter was handled, or (`--due`) every letter due now.
    Done,
    /// Ctrl-C, or the campaign could not be read again.
    Stopped,
    /// The journal could not be written: the run stopped at once.
    Journal(Failure),
}

impl Scheduled<'_> {
    pub fn run(
        self,
        outgoing: Vec<Outgoing>,
        smtp: Option<SmtpSettings>,
        now: DateTime<Utc>,
        out: &mut Output,
    ) -> Result<bool, Vec<Problem>> {
        if outgoing.is_empty() {
            out.say("nothing to send");
            return Ok(true);
        }
        let grace = self.schedule.grace;
        let first = tally(&outgoing, now, grace, self.send.send_late);
        if self.send.dry_run {
            timetable::print(&outgoing, now, grace, self.send.send_late, local_zone());
            out.say(format!(
                "dry run: {} {} via {}: {} due now, {} later, {} late (held for --send-late); nothing was sent",
                plural(outgoing.len(), "letter"),
                self.schedule.describe(),
                self.server,
                first.due, first.later, first.late,
            ));
            return Ok(true);
        }
        let smtp = smtp.ok_or_else(|| no_smtp(self.dir))?;
        self.send.confirm(&self.question(&first))?;
        let password = password(&smtp)?;
        crate::interrupt::install();
        let mut fates = BTreeMap::new();
        let mut late = HashSet::new();
        let end = match self.rounds(
            (outgoing, smtp, now),
            password.as_deref(),
            &mut fates,
            &mut late,
            out,
        ) {
            Ok(end) => end,
            // Letters went out in earlier rounds: the summary must still say which.
            Err(problems) if !fates.is_empty() => {
                out.problems(&problems);
                End::Stopped
            }
            Err(problems) => return Err(problems),
        };
        let fates: Vec<(RecipientId, Fate)> = fates.into_iter().collect();
        let failure = match &end {
            End::Journal(failure) => Some(failure),
            _ => None,
        };
        let mut ok = summarize(&fates, None, failure, out) && late.is_empty();
        if !late.is_empty() {
            out.say(format!(
                "{} past the {} grace, not sent: send them with --send-late",
                plural(late.len(), "letter"),
                show_span(grace)
            ));
        }
        if let End::Stopped = end {
            out.say("stopped: what was sent is recorded; run the same command again to go on");
            ok = false;
        }
        Ok(ok)
    }

    fn question(&self, first: &Tally) -> String {
        let via = &self.server;
        if self.send.due {
            return format!(
                "send the {} due now via {via} ({} later, for later runs)?",
                plural(first.due, "letter"),
                first.later
            );
        }
        let n = first.due + first.later;
        let start = match first.next {
            Some(t) if first.due == 0 => {
                format!("the first in {}", show_span(t - self.clock.now()))
            }
            _ => "the first now".into(),
        };
        format!(
            "send {} via {via}, {}, each when due ({start}; this run waits)?",
            plural(n, "letter"),
            self.schedule.describe()
        )
    }

    /// Sends each letter when due; returns how the run ended.
    fn rounds(
        &self,
        first: (Vec<Outgoing>, SmtpSettings, DateTime<Utc>),
        password: Option<&str>,
        fates: &mut BTreeMap<RecipientId, Fate>,
        late: &mut HashSet<RecipientId>,
        out: &mut Output,
    ) -> Result<End, Vec<Problem>> {
        let journal = self.journal.as_ref();
        let mut grace = self.schedule.grace;
        let (mut outgoing, mut smtp, mut now) = first;
        loop {
            let round = split(outgoing, now, grace, self.send.send_late);
            for letter in &round.late {
                if late.insert(letter.id.clone()) {
                    out.say(format!(
                        "{}: was due {}, {} ago: later than the {} grace, so not sent (send it with --send-late)",
                        letter.id,
                        in_its_zone(letter),
                        show_span(now - timetable::due_at(letter)),
                        show_span(grace)
                    ));
                }
            }
            self.mark_scheduled(&round.later)?;
            let mut retry_at = None;
            if !round.due.is_empty() {
                let n = round.due.len();
                let done = deliver_now(&smtp, password, round.due, journal)?;
                let sent = done.fates;
                let unsent = sent
                    .iter()
                    .filter(|(_, f)| matches!(f, Fate::Unsent(_)))
                    .count();
                if unsent > 0 && !self.send.due {
                    retry_at = Some(self.clock.now() + RETRY_AFTER);
                }
                out.say(format!(
                    "{}: {} of {} due went out",
                    timetable::show_here(now),
                    sent.iter()
                        .filter(|(_, f)| matches!(f, Fate::Sent(_)))
                        .count(),
                    n
                ));
                fates.extend(sent);
                if let Some(failure) = done.journal {
                    return Ok(End::Journal(failure));
                }
            }
            if crate::interrupt::requested() {
                return Ok(End::Stopped);
            }
            let upcoming = next(&round.later).map(|(t, group)| (t, waiting_for(group)));
            if self.send.due {
                if let Some((t, _)) = &upcoming {
                    out.say(format!(
                        "{} scheduled for later, the next at {} (in {}): run send --due again then",
                        plural(round.later.len(), "letter"),
                        timetable::show_here(*t),
                        show_span(*t - now)
                    ));
                }
                return Ok(End::Done);
            }
            let (t, what) = match (upcoming, retry_at) {
                (Some((t, _)), Some(r)) if r < t => {
                    (r, "another try of the letters refused for now".into())
                }
                (Some(next), _) => next,
                (None, Some(r)) => (r, "another try of the letters refused for now".into()),
                (None, None) => return Ok(End::Done),
            };
            if wait_until(t, self.clock, &what) {
                return Ok(End::Stopped);
            }
            match self.reload(out)? {
                Some(((o, s, n), g)) => (outgoing, smtp, now, grace) = (o, s, n, g),
                None => return Ok(End::Stopped),
            }
        }
    }

    /// Records the letters not due yet as scheduled, so `status` shows when each goes.
    fn mark_scheduled(&self, later: &[Outgoing]) -> Result<(), Vec<Problem>> {
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        if later.is_empty() {
            return Ok(());
        }
        let writer = journal.writer().map_err(|p| vec![p])?;
        for letter in later {
            if let Some(due) = letter.due {
                writer
                    .mark_scheduled(&letter.id, due.at)
                    .map_err(|p| vec![p])?;
            }
        }
        writer.finish().map_err(|f| vec![f.problem])
    }

    /// The campaign read again, and what is still to send. While it does not load (someone is
    /// editing it), the problems are shown and the run looks again every minute; `None` when
    /// Ctrl-C stops that.
    #[allow(clippy::type_complexity)]
    fn reload(
        &self,
        out: &mut Output,
    ) -> Result<Option<((Vec<Outgoing>, SmtpSettings, DateTime<Utc>), Duration)>, Vec<Problem>>
    {
        loop {
            let loaded = self.send.load(self.dir, self.clock).and_then(|l| {
                let schedule = l.schedule.ok_or_else(|| {
                    vec![Problem::error(
                        "the schedule was removed from the campaign while this run waited",
                    )
                    .in_file(self.dir.join(crate::campaign::settings::SETTINGS_FILE))
                    .hint("put [schedule] back, or stop this run (Ctrl-C) and send without one")]
                })?;
                let smtp = l.smtp.ok_or_else(|| no_smtp(self.dir))?;
                Ok((l.outgoing, smtp, l.now, schedule.grace))
            });
            match loaded {
                Ok((outgoing, smtp, now, grace)) => {
                    let outgoing = match &self.journal {
                        Some(j) => self.send.planned(j, outgoing, out, false)?,
                        None => outgoing,
                    };
                    return Ok(Some(((outgoing, smtp, now), grace)));
                }
                Err(problems) => {
                    out.problems(&problems);
                    out.say(format!(
                        "the campaign cannot be read now, so the letters due wait: fix it and this run goes on (looking again in {} s)",
                        LOOK_AGAIN.as_secs()
                    ));
                    if crate::interrupt::sleep(LOOK_AGAIN) {
                        return Ok(None);
                    }
                }
            }
        }
    }
}

/// "3 letters due 2026-12-10 09:00 KST (Asia/Seoul): a, b, c".
fn waiting_for(group: &[Outgoing]) -> String {
    format!(
        "{} due {}: {}",
        plural(group.len(), "letter"),
        in_its_zone(&group[0]),
        first_of(group.iter().map(|l| &l.id), 5)
    )
}
