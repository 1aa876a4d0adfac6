//! Postal letters in the journal: the day each was posted, recorded by whoever posted it.

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension};

use crate::campaign::RecipientId;

/// How a day is stored: ISO 8601, `2026-12-10`.
pub(super) const DAY: &str = "%Y-%m-%d";

/// Records `on` for each recipient not yet recorded as posted, in one transaction; for each, the
/// day the journal holds and whether this call wrote it.
pub(super) fn record(
    conn: &Connection,
    campaign: &str,
    recipients: &[RecipientId],
    on: NaiveDate,
    now: &str,
) -> rusqlite::Result<Vec<(RecipientId, NaiveDate, bool)>> {
    let tx = conn.unchecked_transaction()?;
    let day = on.format(DAY).to_string();
    let mut done = Vec::with_capacity(recipients.len());
    {
        let mut insert = tx.prepare(
            "INSERT INTO posted (campaign, recipient, posted_on, recorded_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (campaign, recipient) DO NOTHING",
        )?;
        let mut held =
            tx.prepare("SELECT posted_on FROM posted WHERE campaign = ?1 AND recipient = ?2")?;
        let mut log = tx.prepare(
            "INSERT INTO attempts (campaign, recipient, time, event, reply)
             VALUES (?1, ?2, ?3, 'posted', ?4)",
        )?;
        for id in recipients {
            let new = insert.execute(params![campaign, id.as_str(), day, now])? > 0;
            if new {
                log.execute(params![campaign, id.as_str(), now, day])?;
            }
            let stored: Option<String> = held
                .query_row(params![campaign, id.as_str()], |row| row.get(0))
                .optional()?;
            let stored = stored
                .and_then(|s| NaiveDate::parse_from_str(&s, DAY).ok())
                .unwrap_or(on);
            done.push((id.clone(), stored, new));
        }
    }
    tx.commit()?;
    Ok(done)
}
