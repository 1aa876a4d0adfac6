//! The thread that owns the journal's write connection and commits records in groups.
//!
//! Requests queue up while a commit is on its way to disk; the next transaction takes all of them
//! at once, so many senders share one fsync. A batch holding a `sending` record is committed at
//! once and each sender told when its record is on disk; a batch of outcomes only (sent, failed,
//! retry, scheduled) may wait up to [`LAZY_COMMIT`] for company, since losing one to a crash
//! leaves the letter `sending`, which the next run reads as uncertain: never as unsent.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, Params};

use super::state::State;
use super::store;
use crate::clock::Clock;
use crate::diagnostic::Problem;

/// The most requests one transaction takes.
const MAX_BATCH: usize = 4096;

/// How long outcomes may wait in an open transaction before they are committed on their own.
pub const LAZY_COMMIT: Duration = Duration::from_millis(50);

/// Where a durable request learns that its record is on disk, or why it is not. A oneshot: a
/// task awaits it without holding a thread, a thread blocks on it.
pub type Ack = tokio::sync::oneshot::Sender<Result<(), Problem>>;

/// What a [`super::Writer`] asks of the thread.
pub enum Request {
    Sending {
        recipient: String,
        hash: String,
        message_id: String,
        done: Ack,
    },
    Outcome {
        recipient: String,
        state: State,
        reply: String,
    },
    Scheduled {
        recipient: String,
        due: String,
    },
    Finish,
}

const UPSERT_SENDING: &str = "
    INSERT INTO letters (campaign, recipient, state, content_hash, message_id, attempts, updated_at)
    VALUES (?1, ?2, 'sending', ?3, ?4, 1, ?5)
    ON CONFLICT (campaign, recipient) DO UPDATE SET
        state = 'sending', content_hash = excluded.content_hash, message_id = excluded.message_id,
        attempts = attempts + 1, reply = NULL, updated_at = excluded.updated_at
    WHERE state NOT IN ('sent', 'sending')";

const UPDATE_OUTCOME: &str = "
    UPDATE letters SET state = ?3, reply = ?4, updated_at = ?5,
        sent_at = CASE WHEN ?3 = 'sent' THEN ?5 ELSE sent_at END
    WHERE campaign = ?1 AND recipient = ?2 AND state = 'sending'";

const UPSERT_SCHEDULED: &str = "
    INSERT INTO letters (campaign, recipient, state, updated_at, due_at)
    VALUES (?1, ?2, 'scheduled', ?3, ?4)
    ON CONFLICT (campaign, recipient) DO UPDATE SET
        state = 'scheduled', due_at = excluded.due_at, updated_at = excluded.updated_at
    WHERE state = 'pending' OR (state = 'scheduled' AND due_at IS NOT excluded.due_at)";

const LOG: &str =
    "INSERT INTO attempts (campaign, recipient, time, event, reply) VALUES (?1, ?2, ?3, ?4, ?5)";

/// The writer thread's state.
pub struct Worker {
    conn: Connection,
    path: PathBuf,
    campaign: String,
    clock: Clock,
    /// When the open transaction began, if one is open.
    open_since: Option<Instant>,
    /// Senders waiting for the open transaction to be committed.
    waiting: Vec<Ack>,
    /// Outcomes written in the open transaction: recipient and state.
    outcomes: Vec<(String, State)>,
    /// Outcomes that could not be recorded, in the order they came.
    lost: Vec<(String, State)>,
    /// The first write that failed. From then on no letter may start ([`Broken`]).
    trouble: Option<Problem>,
    broken: Broken,
}

/// Set once the journal could not be written: every sender can see it, and no new letter goes.
#[derive(Debug, Clone, Default)]
pub struct Broken(Arc<Mutex<Option<Problem>>>);

impl Broken {
    /// Why the journal cannot be written, once it cannot.
    pub fn get(&self) -> Option<Problem> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, problem: &Problem) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(|| problem.clone());
    }
}

/// How the writer thread ended when something could not be recorded.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The first write that failed, with the journal file and what to do.
    pub problem: Problem,
    /// Outcomes of this run that are not in the journal: the journal still shows these letters
    /// `sending`, which the next run reads as uncertain.
    pub unrecorded: Vec<(String, State)>,
}

impl Worker {
    pub fn new(
        conn: Connection,
        path: PathBuf,
        campaign: String,
        clock: Clock,
        broken: Broken,
    ) -> Worker {
        Worker {
            conn,
            path,
            campaign,
            clock,
            open_since: None,
            waiting: Vec::new(),
            outcomes: Vec::new(),
            lost: Vec::new(),
            trouble: None,
            broken,
        }
    }

    /// Serves requests until `Finish` or until every writer is gone; everything received is
    /// committed before it returns. The error says what could not be written, and which outcomes
    /// are not in the journal.
    pub fn run(mut self, requests: Receiver<Request>) -> Result<(), Failure> {
        while let Some(first) = self.next(&requests) {
            if !self.batch(first, &requests) {
                break;
            }
        }
        self.commit();
        match self.trouble {
            None => Ok(()),
            Some(problem) => Err(Failure {
                problem,
                unrecorded: self.lost,
            }),
        }
    }

    /// The next request, committing outcomes that have waited long enough meanwhile.
    fn next(&mut self, requests: &Receiver<Request>) -> Option<Request> {
        loop {
            let Some(since) = self.open_since else {
                return requests.recv().ok();
            };
            match requests.recv_timeout(LAZY_COMMIT.saturating_sub(since.elapsed())) {
                Ok(request) => return Some(request),
                Err(RecvTimeoutError::Timeout) => self.commit(),
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Writes `first` and whatever else is queued into one transaction, and commits it if a
    /// sender waits. False once `Finish` has been seen.
    fn batch(&mut self, first: Request, requests: &Receiver<Request>) -> bool {
        let mut go_on = self.apply(first);
        let mut taken = 1;
        while go_on && taken < MAX_BATCH {
            let Ok(request) = requests.try_recv() else {
                break;
            };
            go_on = self.apply(request);
            taken += 1;
        }
        if !self.waiting.is_empty() {
            self.commit();
        }
        go_on
    }

    /// Writes one request into the open transaction. False for `Finish`.
    fn apply(&mut self, request: Request) -> bool {
        let now = store::time(self.clock.now());
        let outcome = match request {
            Request::Finish => return false,
            Request::Sending {
                recipient,
                hash,
                message_id,
                done,
            } => {
                // A journal that could not be written lets no new letter start, even if the
                // next write might go through: the run stops and says what it knows.
                if let Some(problem) = self.broken.get() {
                    let _ = done.send(Err(problem.recipient(recipient)));
                    return true;
                }
                match self.sending(&recipient, &hash, &message_id, &now) {
                    Ok(Ok(())) => self.waiting.push(done),
                    Ok(Err(refusal)) => {
                        let _ = done.send(Err(refusal));
                    }
                    Err(problem) => {
                        self.failed(&problem);
                        let _ = done.send(Err(problem));
                    }
                }
                return true;
            }
            Request::Outcome {
                recipient,
                state,
                reply,
            } => {
                let written = self.outcome(&recipient, state, &reply, &now);
                if written.is_err() {
                    self.lost.push((recipient, state));
                }
                written
            }
            Request::Scheduled { recipient, due } => self.scheduled(&recipient, &due, &now),
        };
        // Nobody waits for an outcome: its failure is kept for `finish`.
        if let Err(problem) = outcome {
            self.failed(&problem);
        }
        true
    }

    /// Records that a letter is about to go out; refuses one already sent or being sent (the
    /// inner error: the journal is fine). The outer error is a write that failed.
    fn sending(
        &mut self,
        recipient: &str,
        hash: &str,
        message_id: &str,
        now: &str,
    ) -> Result<Result<(), Problem>, Problem> {
        self.begin()?;
        let args = params![self.campaign, recipient, hash, message_id, now];
        if self.write(UPSERT_SENDING, args, recipient)? == 0 {
            return Ok(Err(self.refusal(recipient)));
        }
        self.log(recipient, "sending", None, now).map(Ok)
    }

    /// Records how an attempt ended; the letter must be `sending`.
    fn outcome(
        &mut self,
        recipient: &str,
        state: State,
        reply: &str,
        now: &str,
    ) -> Result<(), Problem> {
        self.begin()?;
        let args = params![self.campaign, recipient, state.as_str(), reply, now];
        if self.write(UPDATE_OUTCOME, args, recipient)? == 0 {
            return Err(Problem::error(format!(
                "recorded `{state}` for a letter that was not being sent"
            ))
            .in_file(&self.path)
            .recipient(recipient)
            .hint("this is a bug in lettermerge; please report it"));
        }
        let event = if state == State::Pending {
            "retry"
        } else {
            state.as_str()
        };
        self.log(recipient, event, Some(reply), now)?;
        self.outcomes.push((recipient.to_string(), state));
        Ok(())
    }

    /// Records a letter's due time, unless its fate is already known.
    fn scheduled(&mut self, recipient: &str, due: &str, now: &str) -> Result<(), Problem> {
        self.begin()?;
        let args = params![self.campaign, recipient, now, due];
        if self.write(UPSERT_SCHEDULED, args, recipient)? > 0 {
            self.log(recipient, "scheduled", Some(due), now)?;
            self.outcomes
                .push((recipient.to_string(), State::Scheduled));
        }
        Ok(())
    }

    fn log(
        &self,
        recipient: &str,
        event: &str,
        reply: Option<&str>,
        now: &str,
    ) -> Result<(), Problem> {
        let args = params![self.campaign, recipient, now, event, reply];
        self.write(LOG, args, recipient).map(drop)
    }

    /// Runs one statement in the open transaction; the number of rows it changed.
    fn write(&self, sql: &str, args: impl Params, recipient: &str) -> Result<usize, Problem> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut stmt| stmt.execute(args))
            .map_err(|e| store::problem(&self.path, "write", &e).recipient(recipient))
    }

    /// Opens a transaction unless one is open.
    fn begin(&mut self) -> Result<(), Problem> {
        if self.open_since.is_none() {
            self.conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(|e| store::problem(&self.path, "write", &e))?;
            self.open_since = Some(Instant::now());
        }
        Ok(())
    }

    /// Why a letter cannot be marked `sending`: it went out already, or is going out now.
    fn refusal(&self, recipient: &str) -> Problem {
        let sent: bool = self
            .conn
            .query_row(
                "SELECT state = 'sent' FROM letters WHERE campaign = ?1 AND recipient = ?2",
                params![self.campaign, recipient],
                |row| row.get(0),
            )
            .unwrap_or(false);
        let (message, hint) = if sent {
            (
                "this letter was sent already; it is never sent twice",
                "`lettermerge status` shows when it went out",
            )
        } else {
            (
                "this letter is being sent already",
                "this is a bug in lettermerge; please report it",
            )
        };
        Problem::error(message)
            .in_file(&self.path)
            .recipient(recipient)
            .hint(hint)
    }

    /// After a failed write: the journal is broken for this run, and if SQLite rolled the whole
    /// transaction back, everything in it failed with it.
    fn failed(&mut self, problem: &Problem) {
        self.broken.set(problem);
        self.trouble.get_or_insert_with(|| problem.clone());
        if self.open_since.is_some() && self.conn.is_autocommit() {
            self.open_since = None;
            self.settle(Err(problem.clone()));
        }
    }

    /// Commits the open transaction, if any, and tells every waiting sender how it went.
    fn commit(&mut self) {
        if self.open_since.take().is_none() {
            return;
        }
        let result = self
            .conn
            .execute_batch("COMMIT")
            .map_err(|e| store::problem(&self.path, "write", &e));
        if let Err(problem) = &result {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.broken.set(problem);
            self.trouble.get_or_insert_with(|| problem.clone());
        }
        self.settle(result);
    }

    /// Tells waiting senders the fate of their records; lost outcomes are kept for `finish`.
    fn settle(&mut self, result: Result<(), Problem>) {
        for done in self.waiting.drain(..) {
            let _ = done.send(result.clone());
        }
        let outcomes = std::mem::take(&mut self.outcomes);
        if result.is_err() {
            self.lost.extend(outcomes);
        }
    }
}
