//! The SQLite file underneath the journal: opening it, its schema, and its errors as problems.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::diagnostic::Problem;

/// The schema this code writes, kept in `PRAGMA user_version`. Version 1 had no `posted` table;
/// a journal of version 1 is upgraded when it is next opened for writing.
pub const SCHEMA_VERSION: i64 = 2;

/// Postal letters: when each was posted, as the person who posted it recorded it.
const POSTED: &str = "
    CREATE TABLE posted (
        campaign    TEXT NOT NULL,
        recipient   TEXT NOT NULL,
        posted_on   TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (campaign, recipient)
    ) WITHOUT ROWID;
";

/// One row per letter, and an append-only log of everything that happened to each.
pub(super) const SCHEMA: &str = "
    CREATE TABLE letters (
        campaign     TEXT NOT NULL,
        recipient    TEXT NOT NULL,
        state        TEXT NOT NULL CHECK (state IN
                         ('pending', 'scheduled', 'sending', 'sent', 'failed', 'uncertain')),
        content_hash TEXT,
        message_id   TEXT,
        attempts     INTEGER NOT NULL DEFAULT 0,
        reply        TEXT,
        updated_at   TEXT NOT NULL,
        sent_at      TEXT,
        due_at       TEXT,
        PRIMARY KEY (campaign, recipient)
    ) WITHOUT ROWID;
    CREATE TABLE attempts (
        id        INTEGER PRIMARY KEY,
        campaign  TEXT NOT NULL,
        recipient TEXT NOT NULL,
        time      TEXT NOT NULL,
        event     TEXT NOT NULL,
        reply     TEXT
    );
";

/// Opens the journal for writing, creating it if new, with every commit on disk before it returns.
pub fn open(path: &Path) -> Result<Connection, Problem> {
    let conn = Connection::open(path).map_err(|e| problem(path, "open", &e))?;
    configure(&conn, path)?;
    Ok(conn)
}

/// Opens an existing journal to read it, touching nothing.
pub fn open_read_only(path: &Path) -> Result<Connection, Problem> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| problem(path, "open", &e))?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(|e| problem(path, "open", &e))?;
    Ok(conn)
}

/// WAL lets `status` read while `send` writes; `synchronous=FULL` makes each commit durable.
fn configure(conn: &Connection, path: &Path) -> Result<(), Problem> {
    let read = |e: rusqlite::Error| problem(path, "read", &e);
    conn.busy_timeout(Duration::from_secs(5)).map_err(read)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(read)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Problem::error(format!(
            "the send journal cannot use write-ahead logging (it stays in {mode} mode)"
        ))
        .in_file(path)
        .hint("keep the campaign folder on a local disk; network file systems cannot share the journal safely"));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(read)
}

/// Creates the schema in a new journal, upgrades one of an older version, or checks that an
/// existing one is a journal this code understands.
pub fn prepare(conn: &Connection, path: &Path) -> Result<(), Problem> {
    match check(conn, path)? {
        None => create(conn).map_err(|e| problem(path, "create", &e)),
        Some(1) => upgrade(conn).map_err(|e| problem(path, "upgrade", &e)),
        Some(_) => Ok(()),
    }
}

/// The schema version of the journal in the file, which this code understands, or `None` when
/// the file holds nothing yet; a problem if it holds something else.
pub fn check(conn: &Connection, path: &Path) -> Result<Option<i64>, Problem> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| problem(path, "read", &e))?;
    match version {
        0 if is_empty(conn).map_err(|e| problem(path, "read", &e))? => Ok(None),
        0 => Err(Problem::error("this SQLite file is not a lettermerge send journal")
            .in_file(path)
            .hint("it was left as it is; move it out of the campaign folder if it is yours, and run again")),
        1..=SCHEMA_VERSION => Ok(Some(version)),
        newer => Err(Problem::error(format!(
            "the send journal was written by a newer lettermerge (schema {newer}, this one knows {SCHEMA_VERSION})"
        ))
        .in_file(path)
        .hint("upgrade lettermerge to go on with this campaign")),
    }
}

fn is_empty(conn: &Connection) -> rusqlite::Result<bool> {
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))?;
    Ok(tables == 0)
}

fn create(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE; {SCHEMA} {POSTED} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
    ))
}

/// Version 1 to 2: the `posted` table, in one transaction (all or nothing).
fn upgrade(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE; {POSTED} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
    ))
}

/// A time as the journal stores it: RFC 3339 in UTC, to the millisecond.
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A time read back from the journal.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A database error as a problem with the journal file: what failed, and what to do about it.
pub fn problem(path: &Path, action: &str, e: &rusqlite::Error) -> Problem {
    let (what, hint) = match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => (
            "it is damaged or not a journal at all",
            "it was left as it is; restore it from a backup, or move it aside only if no letter of this campaign was sent: without it `send` cannot tell what went out",
        ),
        Some(ErrorCode::DiskFull) => ("the disk is full", "free some space and run again"),
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => (
            "it cannot be written",
            "check that you can write to the campaign folder and the journal in it",
        ),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => (
            "another program has it open",
            "close whatever else has the journal open (a database browser?) and run again",
        ),
        _ => (
            "the database failed",
            "run again; if it keeps failing, check the disk the campaign folder is on",
        ),
    };
    Problem::error(format!("cannot {action} the send journal: {what} ({e})"))
        .in_file(path)
        .hint(hint)
}
