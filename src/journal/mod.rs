//! The send journal: what was sent to whom, kept so that no letter is ever sent twice.
//!
//! It is a SQLite file in the campaign folder ([`JOURNAL_FILE`]), one row per campaign and
//! recipient holding the letter's [`State`], the hash of the content that went out and the
//! server's reply, plus an append-only log of every attempt. A `send` run:
//!
//! 1. [`Journal::open`]s it, which locks the campaign (a second `send` refuses) and turns letters
//!    left `sending` by a run that died into `uncertain` ([`Journal::recovered`]);
//! 2. asks for a [`Plan`]: which letters go out, which were sent already (and whether they changed
//!    since), which failed or are uncertain and wait for a `--retry-…` flag;
//! 3. records each letter through a [`Writer`]: `sending` is on disk before its DATA goes out, the
//!    outcome after. The writer commits many letters' records in one transaction, so durability
//!    costs one fsync per group, not per letter.
//!
//! `status` reads the same rows ([`Journal::status`], or [`read_status`] while a `send` runs).

mod lock;
mod plan;
mod posted;
mod state;
mod status;
mod store;
mod worker;
mod writer;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use rusqlite::Connection;

pub use lock::LOCK_FILE;
pub use plan::{Decision, Plan, Planned};
pub use state::{ContentHash, State};
pub use status::Record;
pub use store::SCHEMA_VERSION;
pub use worker::Failure;
pub use writer::Writer;

use crate::campaign::RecipientId;
use crate::clock::Clock;
use crate::diagnostic::Problem;
use lock::Lock;

/// The journal's file name, in the campaign folder.
pub const JOURNAL_FILE: &str = "lettermerge-journal.sqlite";

/// What the reply of a letter found `sending` at open says.
const DIED_MID_SEND: &str = "lettermerge stopped before the server's answer was recorded";

/// Which letters a run sends again besides the pending ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retry {
    /// `--retry-failed`: letters the server refused for good.
    pub failed: bool,
    /// `--retry-uncertain`: letters whose fate is unknown.
    pub uncertain: bool,
}

/// A campaign's send journal, open and locked for one `send` run.
#[derive(Debug)]
pub struct Journal {
    conn: Connection,
    path: PathBuf,
    campaign: String,
    clock: Clock,
    lock: Arc<Lock>,
    recovered: Vec<RecipientId>,
}

impl Journal {
    /// Opens the journal in the campaign folder `dir`, creating it if need be, for `campaign`
    /// (the campaign's id). Refuses if another process has it open; the lock lasts as long as
    /// this value and its writers.
    ///
    /// Letters found `sending` become `uncertain` (see [`Journal::recovered`]). A file that is not
    /// a journal is never changed: it is a problem to report.
    pub fn open(dir: &Path, campaign: &str, clock: &Clock) -> Result<Journal, Problem> {
        let lock = Lock::acquire(dir)?;
        let path = dir.join(JOURNAL_FILE);
        let conn = store::open(&path)?;
        store::prepare(&conn, &path)?;
        let recovered = recover(&conn, &path, campaign, clock)?;
        Ok(Journal {
            conn,
            path,
            campaign: campaign.to_string(),
            clock: *clock,
            lock: Arc::new(lock),
            recovered,
        })
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The letters a previous run left `sending`, now `uncertain`, sorted by recipient id: the
    /// run should say so.
    pub fn recovered(&self) -> &[RecipientId] {
        &self.recovered
    }

    /// What to do with each letter given, by recipient and the hash of its content now.
    pub fn plan(
        &self,
        letters: &[(RecipientId, ContentHash)],
        retry: Retry,
    ) -> Result<Plan, Problem> {
        let known = plan::known(&self.conn, &self.campaign)
            .map_err(|e| store::problem(&self.path, "read", &e))?;
        let letters = letters
            .iter()
            .map(|(recipient, hash)| {
                let (was, decision) = plan::decide(known.get(recipient.as_str()), hash, retry);
                Planned {
                    recipient: recipient.clone(),
                    was,
                    decision,
                }
            })
            .collect();
        Ok(Plan { letters })
    }

    /// Every letter of the campaign the journal knows, emailed ones by recipient id, then the
    /// posted ones by recipient id.
    pub fn status(&self) -> Result<Vec<Record>, Problem> {
        let mut records = status::records(&self.conn, &self.path, &self.campaign)?;
        records.extend(status::posted(&self.conn, &self.path, &self.campaign)?);
        Ok(records)
    }

    /// Records that the letters to `recipients` were posted on `on`. A letter already recorded
    /// as posted keeps its first date. Returns, for each recipient, the date the journal holds
    /// and whether this call recorded it. All or nothing: one transaction, on disk at return.
    pub fn post(
        &self,
        recipients: &[RecipientId],
        on: NaiveDate,
    ) -> Result<Vec<(RecipientId, NaiveDate, bool)>, Problem> {
        let now = store::time(self.clock.now());
        posted::record(&self.conn, &self.campaign, recipients, on, &now)
            .map_err(|e| store::problem(&self.path, "write", &e))
    }

    /// A writer for this run's records, on a connection and thread of its own.
    pub fn writer(&self) -> Result<Writer, Problem> {
        Writer::start(
            &self.path,
            &self.campaign,
            self.clock,
            Arc::clone(&self.lock),
        )
    }
}

/// The campaign's letters as the journal in `dir` records them, read without locking, so it works
/// while a `send` runs: a letter may then show as `sending`. With no `send` running, a letter
/// left `sending` by a run that died shows as `uncertain`, as the next `send` will mark it: the
/// journal itself is not changed. No journal yet: no letters.
pub fn read_status(dir: &Path, campaign: &str) -> Result<Vec<Record>, Problem> {
    let path = dir.join(JOURNAL_FILE);
    if !path.exists() {
        return Ok(Vec::new());
    }
    // Looked at first: a run that ends between the look and the read leaves nothing `sending`.
    let running = lock::is_held(dir);
    let conn = store::open_read_only(&path)?;
    let Some(version) = store::check(&conn, &path)? else {
        return Ok(Vec::new());
    };
    let mut records = status::records(&conn, &path, campaign)?;
    if version >= 2 {
        records.extend(status::posted(&conn, &path, campaign)?);
    }
    if !running {
        for record in records.iter_mut().filter(|r| r.state == State::Sending) {
            record.state = State::Uncertain;
            record.reply = Some(DIED_MID_SEND.to_string());
        }
    }
    Ok(records)
}

/// Turns the letters a dead run left `sending` into `uncertain`, logging each; their ids, sorted.
fn recover(
    conn: &Connection,
    path: &Path,
    campaign: &str,
    clock: &Clock,
) -> Result<Vec<RecipientId>, Problem> {
    let now = store::time(clock.now());
    let ids =
        mark_uncertain(conn, campaign, &now).map_err(|e| store::problem(path, "update", &e))?;
    let mut recovered: Vec<RecipientId> =
        ids.iter().filter_map(|id| RecipientId::parse(id)).collect();
    recovered.sort();
    Ok(recovered)
}

fn mark_uncertain(conn: &Connection, campaign: &str, now: &str) -> rusqlite::Result<Vec<String>> {
    let tx = conn.unchecked_transaction()?;
    let ids = tx
        .prepare(
            "UPDATE letters SET state = 'uncertain', reply = ?3, updated_at = ?2
             WHERE campaign = ?1 AND state = 'sending' RETURNING recipient",
        )?
        .query_map((campaign, now, DIED_MID_SEND), |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    let mut log = tx.prepare(
        "INSERT INTO attempts (campaign, recipient, time, event, reply)
         VALUES (?1, ?2, ?3, 'uncertain', ?4)",
    )?;
    for id in &ids {
        log.execute((campaign, id, now, DIED_MID_SEND))?;
    }
    drop(log);
    tx.commit()?;
    Ok(ids)
}
