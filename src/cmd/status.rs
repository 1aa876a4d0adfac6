//! `lettermerge status`: what the journal knows about each letter.

use std::path::Path;

use clap::Args;

use super::Output;
use crate::campaign::Campaign;
use crate::clock::Clock;
use crate::journal::{read_status, State};

/// Show each recipient's letter: pending, sent (when, Message-ID, reply), failed (the server's
/// reply) or uncertain.
#[derive(Debug, Args)]
pub struct Status {
    /// Print JSON: one object per recipient.
    #[arg(long)]
    pub json: bool,
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
        if self.json {
            let rows: Vec<_> = records
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "recipient": r.recipient.to_string(),
                        "state": r.state.as_str(),
                        "message_id": r.message_id,
                        "reply": r.reply,
                        "attempts": r.attempts,
                        "sent_at": r.sent_at.map(|t| t.to_rfc3339()),
                        "updated_at": r.updated_at.to_rfc3339(),
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&rows).unwrap_or_default()
            );
            return true;
        }
        for r in &records {
            let when = r.sent_at.unwrap_or(r.updated_at).to_rfc3339();
            println!(
                "{:<30} {:<10} {:<25} {}",
                r.recipient.to_string(),
                r.state.as_str(),
                when,
                r.reply.clone().unwrap_or_default()
            );
        }
        for state in State::ALL {
            let n = records.iter().filter(|r| r.state == state).count();
            if n > 0 {
                out.say(format!("{n} {}", state.as_str()));
            }
        }
        true
    }
}
