//! The senders' side of the journal: record each letter's fate from any number of threads.

use std::future::Future;
use std::path::Path;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::lock::Lock;
use super::state::{ContentHash, State};
use super::store;
use super::worker::{Broken, Failure, Request, Worker};
use crate::campaign::RecipientId;
use crate::clock::Clock;
use crate::diagnostic::Problem;

/// Records what happens to each letter. Cheap to clone, and shared freely between threads: all
/// clones feed one thread that commits their records in groups, one fsync for many letters.
///
/// The campaign stays locked while any clone lives, even after its [`super::Journal`] is gone.
#[derive(Debug, Clone)]
pub struct Writer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    requests: Sender<Request>,
    thread: Mutex<Option<JoinHandle<Result<(), Failure>>>>,
    broken: Broken,
    _lock: Arc<Lock>,
}

impl Writer {
    /// Opens a write connection to the journal at `path` and starts its thread.
    pub(super) fn start(
        path: &Path,
        campaign: &str,
        clock: Clock,
        lock: Arc<Lock>,
    ) -> Result<Writer, Problem> {
        let conn = store::open(path)?;
        let broken = Broken::default();
        let worker = Worker::new(
            conn,
            path.to_path_buf(),
            campaign.to_string(),
            clock,
            broken.clone(),
        );
        let (requests, inbox) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || worker.run(inbox))
            .map_err(|e| Problem::error(format!("cannot start the journal's writer: {e}")))?;
        Ok(Writer {
            inner: Arc::new(Inner {
                requests,
                thread: Mutex::new(Some(thread)),
                broken,
                _lock: lock,
            }),
        })
    }

    /// Records that the letter is about to go out, and returns once that record is on disk. Send
    /// the letter's content (what follows DATA's 354) only after `Ok`: then a crash at any moment
    /// leaves the letter `sending`, which the next run reads as uncertain, never as unsent.
    ///
    /// Refuses a letter recorded as sent (a letter is never sent twice) or being sent right now.
    pub fn mark_sending(
        &self,
        recipient: &RecipientId,
        hash: &ContentHash,
        message_id: &str,
    ) -> Result<(), Problem> {
        let on_disk = self.ask_sending(recipient, hash, message_id)?;
        on_disk.0.blocking_recv().map_err(|_| stopped())?
    }

    /// [`Writer::mark_sending`] for a task, in two steps: the record is asked for now and the
    /// answer awaited later, without holding a thread. Send the letter's content only after the
    /// answer is `Ok`; what needs no record (MAIL, RCPT, DATA) may go out meanwhile.
    pub fn ask_sending(
        &self,
        recipient: &RecipientId,
        hash: &ContentHash,
        message_id: &str,
    ) -> Result<OnDisk, Problem> {
        let (done, on_disk) = oneshot::channel();
        self.request(Request::Sending {
            recipient: recipient.to_string(),
            hash: hash.to_string(),
            message_id: message_id.to_string(),
            done,
        })?;
        Ok(OnDisk(on_disk))
    }

    /// Records that the server accepted the letter, with its reply. Committed soon, and surely by
    /// [`Writer::finish`].
    pub fn mark_sent(&self, recipient: &RecipientId, reply: &str) -> Result<(), Problem> {
        self.outcome(recipient, State::Sent, reply)
    }

    /// Records that the server refused the letter for good (a permanent, 5xx answer).
    pub fn mark_failed(&self, recipient: &RecipientId, reply: &str) -> Result<(), Problem> {
        self.outcome(recipient, State::Failed, reply)
    }

    /// Records that the server refused the letter for now (4xx, dropped connection, timeout): it
    /// is pending again, and the next run sends it without any flag.
    pub fn mark_retry(&self, recipient: &RecipientId, reply: &str) -> Result<(), Problem> {
        self.outcome(recipient, State::Pending, reply)
    }

    /// Records that the letter went out and no answer came back: it may have been delivered, so it
    /// is sent again only with `--retry-uncertain`.
    pub fn mark_uncertain(&self, recipient: &RecipientId, reply: &str) -> Result<(), Problem> {
        self.outcome(recipient, State::Uncertain, reply)
    }

    /// Records when a letter is due. Does nothing to a letter already sent, failed or uncertain.
    pub fn mark_scheduled(
        &self,
        recipient: &RecipientId,
        due: DateTime<Utc>,
    ) -> Result<(), Problem> {
        self.request(Request::Scheduled {
            recipient: recipient.to_string(),
            due: store::time(due),
        })
    }

    /// Why the journal cannot be written, once a write has failed in this run (a full disk, a
    /// file made read-only). From then on every [`Writer::ask_sending`] is refused: no new letter
    /// may start, and the run should stop and say what it knows.
    pub fn broken(&self) -> Option<Problem> {
        self.inner.broken.get()
    }

    /// Commits everything recorded through any clone and stops the thread; later calls on other
    /// clones fail. The error is the first write that failed, with the outcomes of this run that
    /// are not in the journal.
    ///
    /// Dropping the last clone does the same, silently.
    pub fn finish(self) -> Result<(), Failure> {
        self.inner.finish()
    }

    fn outcome(&self, recipient: &RecipientId, state: State, reply: &str) -> Result<(), Problem> {
        self.request(Request::Outcome {
            recipient: recipient.to_string(),
            state,
            reply: reply.to_string(),
        })
    }

    fn request(&self, request: Request) -> Result<(), Problem> {
        self.inner.requests.send(request).map_err(|_| stopped())
    }
}

/// The answer to [`Writer::ask_sending`]: resolves once the record is on disk, or with why not.
#[derive(Debug)]
pub struct OnDisk(oneshot::Receiver<Result<(), Problem>>);

impl Future for OnDisk {
    type Output = Result<(), Problem>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|answer| answer.unwrap_or_else(|_| Err(stopped())))
    }
}

impl Inner {
    fn finish(&self) -> Result<(), Failure> {
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(thread) = thread else {
            return Ok(());
        };
        let _ = self.requests.send(Request::Finish);
        thread.join().unwrap_or_else(|_| {
            Err(Failure {
                problem: stopped(),
                unrecorded: Vec::new(),
            })
        })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

fn stopped() -> Problem {
    Problem::error("the send journal's writer has stopped; nothing more can be recorded")
        .hint("no letter goes out without its record; run `send` again to go on where it stopped")
}
