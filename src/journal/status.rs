//! What `lettermerge status` shows: every letter the journal knows, with its latest news.

use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::Connection;

use super::state::{ContentHash, State};
use super::store;
use crate::campaign::RecipientId;
use crate::diagnostic::Problem;

/// One letter as the journal records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub recipient: RecipientId,
    pub state: State,
    /// The hash of the letter last handed to the server.
    pub content_hash: Option<ContentHash>,
    pub message_id: Option<String>,
    /// How many times it was handed to the server.
    pub attempts: u32,
    /// The server's last answer, or why the attempt ended.
    pub reply: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    /// The day a postal letter was posted ([`State::Posted`]).
    pub posted_on: Option<NaiveDate>,
}

const SELECT: &str = "
    SELECT recipient, state, content_hash, message_id, attempts, reply, updated_at, sent_at, due_at
    FROM letters WHERE campaign = ?1 ORDER BY recipient";

/// Every letter of `campaign` in the journal, by recipient id.
pub(super) fn records(
    conn: &Connection,
    path: &Path,
    campaign: &str,
) -> Result<Vec<Record>, Problem> {
    let read = |e: rusqlite::Error| store::problem(path, "read", &e);
    let mut stmt = conn.prepare(SELECT).map_err(read)?;
    let rows = stmt
        .query_map([campaign], |row| {
            Ok(Raw {
                recipient: row.get(0)?,
                state: row.get(1)?,
                content_hash: row.get(2)?,
                message_id: row.get(3)?,
                attempts: row.get(4)?,
                reply: row.get(5)?,
                updated_at: row.get(6)?,
                sent_at: row.get(7)?,
                due_at: row.get(8)?,
            })
        })
        .map_err(read)?;
    rows.map(|raw| raw.map_err(read)?.check(path)).collect()
}

/// Every postal letter of `campaign` recorded as posted, by recipient id.
pub(super) fn posted(
    conn: &Connection,
    path: &Path,
    campaign: &str,
) -> Result<Vec<Record>, Problem> {
    let read = |e: rusqlite::Error| store::problem(path, "read", &e);
    let mut stmt = conn
        .prepare(
            "SELECT recipient, posted_on, recorded_at FROM posted WHERE campaign = ?1
             ORDER BY recipient",
        )
        .map_err(read)?;
    let rows = stmt
        .query_map([campaign], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })
        .map_err(read)?;
    rows.map(|row| {
        let (recipient, on, at) = row.map_err(read)?;
        let bad = |what: &str| {
            Problem::error(format!("the send journal has a posted letter with {what}"))
                .in_file(path)
                .recipient(recipient.clone())
                .hint("the journal was edited by hand or damaged; restore it from a backup")
        };
        Ok(Record {
            recipient: RecipientId::parse(&recipient).ok_or_else(|| bad("a bad recipient id"))?,
            state: State::Posted,
            content_hash: None,
            message_id: None,
            attempts: 0,
            reply: None,
            updated_at: store::parse_time(&at).ok_or_else(|| bad("a bad time"))?,
            sent_at: None,
            due_at: None,
            posted_on: Some(
                NaiveDate::parse_from_str(&on, super::posted::DAY).map_err(|_| bad("a bad day"))?,
            ),
        })
    })
    .collect()
}

/// A row as SQLite hands it over, before its text is checked into types.
struct Raw {
    recipient: String,
    state: String,
    content_hash: Option<String>,
    message_id: Option<String>,
    attempts: u32,
    reply: Option<String>,
    updated_at: String,
    sent_at: Option<String>,
    due_at: Option<String>,
}

impl Raw {
    fn check(self, path: &Path) -> Result<Record, Problem> {
        let bad = |what: &str| {
            Problem::error(format!("the send journal has a row with {what}"))
                .in_file(path)
                .recipient(self.recipient.clone())
                .hint("the journal was edited by hand or damaged; restore it from a backup")
        };
        let time = |s: &Option<String>| match s {
            Some(s) => store::parse_time(s)
                .map(Some)
                .ok_or_else(|| bad("a bad time")),
            None => Ok(None),
        };
        Ok(Record {
            recipient: RecipientId::parse(&self.recipient)
                .ok_or_else(|| bad("a bad recipient id"))?,
            state: State::parse(&self.state).ok_or_else(|| bad("an unknown state"))?,
            content_hash: match &self.content_hash {
                Some(h) => Some(ContentHash::from_hex(h).ok_or_else(|| bad("a bad content hash"))?),
                None => None,
            },
            attempts: self.attempts,
            updated_at: store::parse_time(&self.updated_at).ok_or_else(|| bad("a bad time"))?,
            sent_at: time(&self.sent_at)?,
            due_at: time(&self.due_at)?,
            message_id: self.message_id,
            reply: self.reply,
            posted_on: None,
        })
    }
}
