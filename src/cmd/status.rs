//! `lettermerge status`: what the journal knows about each letter.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clap::Args;

use super::Output;
use crate::campaign::schedule::{show, Schedule};
use crate::campaign::{Campaign, RecipientId};
use crate::clock::{local_zone, Clock};
use crate::journal::{read_status, Record, State};

/// Show each recipient's letter: pending, scheduled, sent (when, Message-ID, reply), failed (the
/// server's reply) or uncertain; postal letters (no email) as to-post or posted (`posted`).
#[derive(Debug, Args)]
pub struct Status {
    /// Print JSON: one object per recipient.
    #[arg(long)]
    pub json: bool,
}

/// One recipient's letter: what the journal recorded, or nothing yet (pending).
struct Row {
    recipient: RecipientId,
    record: Option<Record>,
    /// The recipient's zone, to show times in.
    zone: Option<Tz>,
    /// When the schedule says it is due, for a letter not yet sent.
    due: Option<DateTime<Utc>>,
    /// The recipient has no email: the letter goes by post.
    postal: bool,
}

impl Row {
    fn state(&self) -> State {
        match (&self.record, self.postal) {
            (Some(r), _) => r.state,
            (None, true) => State::ToPost,
            (None, false) => State::Pending,
        }
    }

    /// When it is due: as the journal recorded it (the run that scheduled it may have used
    /// --at), else by the campaign's [schedule]; nothing once its fate is known.
    fn due(&self) -> Option<DateTime<Utc>> {
        match self.state() {
            State::Pending | State::Scheduled => {
                self.record.as_ref().and_then(|r| r.due_at).or(self.due)
            }
            _ => None,
        }
    }

    fn zone(&self) -> Tz {
        self.zone.unwrap_or(Tz::UTC)
    }
}

impl Status {
    pub fn execute(self, dir: &Path, clock: &Clock, out: &mut Output) -> bool {
        let campaign = match Campaign::load(dir, clock) {
            Ok(c) => c,
            Err(p) => {
                out.problems(&p);
                return false;
            }
        };
        let records = match read_status(dir, &campaign.settings.campaign.id) {
            Ok(r) => r,
            Err(p) => {
                out.problems(&[p]);
                return false;
            }
        };
        let rows = rows(&campaign, records);
        if self.json {
            print_json(&rows);
        } else {
            print_table(&rows, out);
        }
        true
    }
}

fn print_json(rows: &[Row]) {
    let rows: Vec<_> = rows
        .iter()
        .map(|row| {
            let r = row.record.as_ref();
            serde_json::json!({
                "recipient": row.recipient.to_string(),
                "state": row.state().as_str(),
                "message_id": r.and_then(|r| r.message_id.clone()),
                "reply": r.and_then(|r| r.reply.clone()),
                "attempts": r.map_or(0, |r| r.attempts),
                "sent_at": r.and_then(|r| r.sent_at).map(|t| t.to_rfc3339()),
                "updated_at": r.map(|r| r.updated_at.to_rfc3339()),
                "due_at": row.due().map(|t| t.to_rfc3339()),
                "due_local": row.due().map(|t| t.with_timezone(&row.zone()).to_rfc3339()),
                "posted_on": r.and_then(|r| r.posted_on).map(|d| d.to_string()),
                "zone": row.zone.map(|z| z.name()),
            })
        })
        .collect();
    let json = serde_json::to_string_pretty(&rows).unwrap_or_default();
    // A server's reply may hold any character: escaped the JSON way, it stays the same data.
    crate::console::data(format_args!("{}", crate::controls::escape_json(&json)));
}

fn print_table(rows: &[Row], out: &Output) {
    let here = local_zone();
    for row in rows {
        let when = match (row.due(), &row.record) {
            (Some(due), _) => format!(
                "due {} ({}), {} here",
                show(due, row.zone()),
                row.zone().name(),
                show(due, here)
            ),
            (None, Some(r)) => match r.posted_on {
                Some(day) => format!("posted {day}"),
                None => show(r.sent_at.unwrap_or(r.updated_at), here),
            },
            (None, None) => String::new(),
        };
        let reply = row
            .record
            .as_ref()
            .and_then(|r| r.reply.clone())
            .unwrap_or_default();
        crate::console::data(format_args!(
            "{:<30} {:<10} {when:<24} {reply}",
            row.recipient.to_string(),
            row.state().as_str(),
        ));
    }
    let counts: Vec<String> = State::ALL
        .iter()
        .map(|&s| (s, rows.iter().filter(|r| r.state() == s).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    out.say(counts.join(", "));
}

/// A row for every recipient, in the recipients file's order (pending, or to-post without email,
/// when the journal knows nothing of it), then the journal's letters to recipients since removed.
fn rows(campaign: &Campaign, records: Vec<Record>) -> Vec<Row> {
    let mut known: HashMap<RecipientId, Record> = records
        .into_iter()
        .map(|r| (r.recipient.clone(), r))
        .collect();
    let mut rows = Vec::new();
    let schedule = Schedule::of(&campaign.settings, None, None);
    if let Ok(mut recipients) = campaign.recipients() {
        let path = recipients.path.clone();
        while let Some(checked) = recipients.next_checked() {
            for recipient in checked.into_iter().flatten() {
                let record = known.remove(&recipient.id);
                let postal = !recipient.has_email();
                let due = match postal {
                    true => None,
                    false => schedule
                        .as_ref()
                        .and_then(|s| s.due(&recipient, &path).ok()),
                };
                rows.push(Row {
                    zone: due.map(|d| d.zone).or(recipient.timezone),
                    due: due.map(|d| d.at),
                    recipient: recipient.id,
                    record,
                    postal,
                });
            }
        }
    }
    let mut rest: Vec<Record> = known.into_values().collect();
    rest.sort_by(|a, b| a.recipient.cmp(&b.recipient));
    rows.extend(rest.into_iter().map(|r| Row {
        recipient: r.recipient.clone(),
        record: Some(r),
        zone: None,
        due: None,
        postal: false,
    }));
    rows
}
