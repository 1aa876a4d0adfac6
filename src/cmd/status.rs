//! `lettermerge status`: what the journal knows about each letter.

use std::collections::HashMap;
use std::path::Path;

use clap::Args;

use super::Output;
use crate::campaign::{Campaign, RecipientId};
use crate::clock::Clock;
use crate::journal::{read_status, Record, State};

/// Show each recipient's letter: pending, sent (when, Message-ID, reply), failed (the server's
/// reply) or uncertain.
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
}

impl Row {
    fn state(&self) -> State {
        self.record.as_ref().map_or(State::Pending, |r| r.state)
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
            })
        })
        .collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&rows).unwrap_or_default()
    );
}

fn print_table(rows: &[Row], out: &Output) {
    for row in rows {
        let (when, reply) = match &row.record {
            Some(r) => (
                r.sent_at.unwrap_or(r.updated_at).to_rfc3339(),
                r.reply.clone().unwrap_or_default(),
            ),
            None => (String::new(), String::new()),
        };
        println!(
            "{:<30} {:<10} {:<30} {}",
            row.recipient.to_string(),
            row.state().as_str(),
            when,
            reply
        );
    }
    let counts: Vec<String> = State::ALL
        .iter()
        .map(|&s| (s, rows.iter().filter(|r| r.state() == s).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    out.say(counts.join(", "));
}

/// A row for every recipient with email, in the recipients file's order (pending when the
/// journal knows nothing of it), then the journal's letters to recipients since removed.
fn rows(campaign: &Campaign, records: Vec<Record>) -> Vec<Row> {
    let mut known: HashMap<RecipientId, Record> = records
        .into_iter()
        .map(|r| (r.recipient.clone(), r))
        .collect();
    let mut rows = Vec::new();
    if let Ok(mut recipients) = campaign.recipients() {
        while let Some(checked) = recipients.next_checked() {
            for recipient in checked.into_iter().flatten() {
                let record = known.remove(&recipient.id);
                if record.is_some() || recipient.has_email() {
                    rows.push(Row {
                        recipient: recipient.id,
                        record,
                    });
                }
            }
        }
    }
    let mut rest: Vec<Record> = known.into_values().collect();
    rest.sort_by(|a, b| a.recipient.cmp(&b.recipient));
    rows.extend(rest.into_iter().map(|r| Row {
        recipient: r.recipient.clone(),
        record: Some(r),
    }));
    rows
}
