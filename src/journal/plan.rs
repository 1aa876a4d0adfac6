//! Before a run: which letters go out, and why the others do not.

use std::collections::HashMap;

use rusqlite::Connection;

use super::state::{ContentHash, State};
use super::Retry;
use crate::campaign::RecipientId;

/// What `send` does with one letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send it: never sent, due, refused only for now last time, or retried by a flag.
    Send,
    /// Sent already, so never again; `changed` when the letter now differs from what went out
    /// (the summary says so).
    AlreadySent { changed: bool },
    /// Refused for good last time; sent again only with `--retry-failed`.
    SkipFailed,
    /// Its fate is unknown; sent again only with `--retry-uncertain`.
    SkipUncertain,
}

/// One letter of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub recipient: RecipientId,
    /// Its state in the journal before this run.
    pub was: State,
    pub decision: Decision,
}

/// The decision for every letter given to [`super::Journal::plan`], in the order given.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub letters: Vec<Planned>,
}

impl Plan {
    /// The recipients whose letters go out in this run.
    pub fn to_send(&self) -> impl Iterator<Item = &RecipientId> {
        self.with(|d| d == Decision::Send)
    }

    /// Recipients already sent whose letter has changed since: not resent, but worth saying.
    pub fn changed_since_sent(&self) -> impl Iterator<Item = &RecipientId> {
        self.with(|d| d == Decision::AlreadySent { changed: true })
    }

    /// How many letters got exactly `decision`.
    pub fn count(&self, decision: Decision) -> usize {
        self.with(|d| d == decision).count()
    }

    /// Recipients whose decision satisfies `wanted`.
    pub fn with(&self, wanted: impl Fn(Decision) -> bool) -> impl Iterator<Item = &RecipientId> {
        self.letters
            .iter()
            .filter(move |p| wanted(p.decision))
            .map(|p| &p.recipient)
    }
}

/// What the journal holds about a letter that matters to the plan.
pub(super) struct Known {
    state: State,
    hash: Option<String>,
}

/// Every letter of `campaign` the journal knows, by recipient id.
pub(super) fn known(conn: &Connection, campaign: &str) -> rusqlite::Result<HashMap<String, Known>> {
    let mut stmt =
        conn.prepare("SELECT recipient, state, content_hash FROM letters WHERE campaign = ?1")?;
    let rows = stmt.query_map([campaign], |row| {
        let state: String = row.get(1)?;
        Ok((
            row.get::<_, String>(0)?,
            Known {
                // The schema's CHECK admits only known names.
                state: State::parse(&state).unwrap_or(State::Uncertain),
                hash: row.get(2)?,
            },
        ))
    })?;
    let mut known: HashMap<String, Known> = rows.collect::<rusqlite::Result<_>>()?;
    let mut stmt = conn.prepare("SELECT recipient FROM posted WHERE campaign = ?1")?;
    for recipient in stmt.query_map([campaign], |row| row.get::<_, String>(0))? {
        known.insert(
            recipient?,
            Known {
                state: State::Posted,
                hash: None,
            },
        );
    }
    Ok(known)
}

/// The decision for one letter, given what the journal knows of it and the run's flags.
pub(super) fn decide(known: Option<&Known>, hash: &ContentHash, retry: Retry) -> (State, Decision) {
    let Some(known) = known else {
        return (State::Pending, Decision::Send);
    };
    let decision = match known.state {
        State::Pending | State::Scheduled | State::ToPost => Decision::Send,
        // Posted on paper, then given an email: the letter reached them once already.
        State::Posted => Decision::AlreadySent { changed: false },
        State::Sent => Decision::AlreadySent {
            changed: known.hash.as_deref().is_some_and(|h| h != hash.as_str()),
        },
        State::Failed if retry.failed => Decision::Send,
        State::Failed => Decision::SkipFailed,
        // A letter still `sending` belongs to a run in progress: as unsure as an uncertain one.
        State::Uncertain | State::Sending if retry.uncertain => Decision::Send,
        State::Uncertain | State::Sending => Decision::SkipUncertain,
    };
    (known.state, decision)
}
