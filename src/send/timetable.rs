//! A scheduled run's timetable: which letters are due now, which later, which are too late to go
//! out unasked; and the wait, with a countdown, until the next ones are due.

use std::io::IsTerminal;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use indicatif::{ProgressBar, ProgressStyle};

use super::Outgoing;
use crate::campaign::schedule::{show, show_span};
use crate::clock::Clock;

/// The letters of one moment, by when they are due.
#[derive(Debug, Default)]
pub struct Split {
    /// Due more than the grace ago, held for `--send-late`.
    pub late: Vec<Outgoing>,
    /// Due now (or late within the grace).
    pub due: Vec<Outgoing>,
    /// Not due yet, soonest first.
    pub later: Vec<Outgoing>,
}

/// Where a letter stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Late,
    Due,
    Later,
}

/// A letter without a due time is due now; one not yet built waits for the round that builds it.
fn place(letter: &Outgoing, now: DateTime<Utc>, grace: Duration, send_late: bool) -> Place {
    match letter.due {
        None => Place::Due,
        Some(due) if due.at > now || !letter.built => Place::Later,
        Some(due) if now - due.at > grace && !send_late => Place::Late,
        Some(_) => Place::Due,
    }
}

/// Sorts letters by when they are due at `now`.
pub fn split(
    letters: Vec<Outgoing>,
    now: DateTime<Utc>,
    grace: Duration,
    send_late: bool,
) -> Split {
    let mut split = Split::default();
    for letter in letters {
        match place(&letter, now, grace, send_late) {
            Place::Late => split.late.push(letter),
            Place::Due => split.due.push(letter),
            Place::Later => split.later.push(letter),
        }
    }
    split.later.sort_by_key(due_at);
    split
}

/// How many letters [`split`] would put where, and when the first later one is due.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    pub late: usize,
    pub due: usize,
    pub later: usize,
    pub next: Option<DateTime<Utc>>,
}

/// Counts what [`split`] would do, without moving the letters.
pub fn tally(letters: &[Outgoing], now: DateTime<Utc>, grace: Duration, send_late: bool) -> Tally {
    let mut tally = Tally::default();
    for letter in letters {
        match place(letter, now, grace, send_late) {
            Place::Late => tally.late += 1,
            Place::Due => tally.due += 1,
            Place::Later => {
                tally.later += 1;
                let at = due_at(letter);
                tally.next = Some(tally.next.map_or(at, |n| n.min(at)));
            }
        }
    }
    tally
}

/// When a letter is due (now, for one without a time).
pub fn due_at(letter: &Outgoing) -> DateTime<Utc> {
    letter.due.map_or(DateTime::<Utc>::MIN_UTC, |d| d.at)
}

/// The letters due at the earliest time among `later` (sorted), and that time.
pub fn next(later: &[Outgoing]) -> Option<(DateTime<Utc>, &[Outgoing])> {
    let first = due_at(later.first()?);
    let n = later.iter().take_while(|l| due_at(l) == first).count();
    Some((first, &later[..n]))
}

/// A letter's due time in its recipient's zone: "2026-12-10 09:00 KST (Asia/Seoul)".
pub fn in_its_zone(letter: &Outgoing) -> String {
    match letter.due {
        Some(due) => format!("{} ({})", show(due.at, due.zone), due.zone.name()),
        None => "now".into(),
    }
}

/// A time in this computer's zone: "2026-12-10 01:00 CET".
pub fn show_here(t: DateTime<Utc>) -> String {
    show(t, crate::clock::local_zone())
}

/// The timetable `send --dry-run` prints: one line per letter, soonest first, tab-separated:
/// due in the recipient's zone, due here, recipient, addresses, subject, and what send would do.
pub fn print(letters: &[Outgoing], now: DateTime<Utc>, grace: Duration, send_late: bool, here: Tz) {
    let mut sorted: Vec<&Outgoing> = letters.iter().collect();
    sorted.sort_by_key(|l| (due_at(l), l.id.clone()));
    crate::console::data(format_args!(
        "due (recipient's time)\tdue here ({})\trecipient\tto\tsubject\twhen",
        here.name()
    ));
    for l in sorted {
        let at = due_at(l);
        let fate = match place(l, now, grace, send_late) {
            Place::Later => format!("in {}", show_span(at - now)),
            Place::Late => format!("late by {}: held for --send-late", show_span(now - at)),
            Place::Due => "due now".into(),
        };
        crate::console::data(format_args!(
            "{}\t{}\t{}\t{}\t{}\t{fate}",
            in_its_zone(l),
            show(at, here),
            l.id,
            l.to,
            l.subject
        ));
    }
}

/// Waits until `t` by `clock`, showing a countdown to `what` on a terminal (one line otherwise).
/// The wall clock is read again every second, so a computer that slept wakes on time. True when
/// Ctrl-C stopped the wait.
pub fn wait_until(t: DateTime<Utc>, clock: &Clock, what: &str) -> bool {
    let left = t - clock.now();
    if left <= Duration::zero() {
        return crate::interrupt::requested();
    }
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
            bar.set_style(style);
        }
        bar
    } else {
        crate::console::message(format_args!("waiting {} for {what}", show_span(left)), true);
        ProgressBar::hidden()
    };
    loop {
        let left = t - clock.now();
        if left <= Duration::zero() {
            bar.finish_and_clear();
            return false;
        }
        bar.set_message(format!(
            "{} in {} (Ctrl-C stops; run again to go on)",
            crate::controls::escape(what),
            countdown(left)
        ));
        bar.tick();
        let step = left
            .to_std()
            .unwrap_or_default()
            .min(std::time::Duration::from_secs(1));
        if crate::interrupt::sleep(step) {
            bar.finish_and_clear();
            return true;
        }
    }
}

/// "2:03:09", or "3 d 2:03:09".
fn countdown(left: Duration) -> String {
    let s = left.num_seconds().max(0);
    let (d, h, m, s) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    if d > 0 {
        format!("{d} d {h}:{m:02}:{s:02}")
    } else {
        format!("{h}:{m:02}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdowns_read_like_clocks() {
        assert_eq!(countdown(Duration::seconds(7389)), "2:03:09");
        assert_eq!(countdown(Duration::seconds(86_400 + 59)), "1 d 0:00:59");
    }
}
