//! Delivering prepared letters over a few SMTP connections, at a bounded rate, with retries,
//! recording each letter in the journal before its content goes out.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::ProgressBar;
use tokio::time::{sleep_until, Instant};

use super::smtp::{self, Connection, Connector, Fault, Letter};
use super::Outgoing;
use crate::campaign::RecipientId;
use crate::journal::Writer;

/// What became of one letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Accepted, with the server's reply.
    Sent(String),
    /// Refused for good (5xx), with the reply.
    Failed(String),
    /// The content went out and no answer came: may have been delivered.
    Uncertain(String),
    /// Refused for now until the retries ran out: still pending, sent by the next run.
    Unsent(String),
}

struct Shared {
    queue: Mutex<VecDeque<Outgoing>>,
    next_slot: tokio::sync::Mutex<Instant>,
    interval: Duration,
    /// Set when no letter can go out (login refused): the rest are left pending.
    stop: Mutex<Option<String>>,
    fates: Mutex<Vec<(RecipientId, Fate)>>,
    tally: Tally,
}

/// What the progress bar tells besides how many letters are done: how many went, how many not.
#[derive(Default)]
struct Tally {
    sent: AtomicUsize,
    not_sent: AtomicUsize,
}

impl Tally {
    /// Counts one letter's fate on the bar. The bar's rate and time left come from indicatif.
    fn count(&self, fate: &Fate, progress: &ProgressBar) {
        let (sent, not_sent) = match fate {
            Fate::Sent(_) => (
                self.sent.fetch_add(1, Ordering::Relaxed) + 1,
                self.not_sent.load(Ordering::Relaxed),
            ),
            _ => (
                self.sent.load(Ordering::Relaxed),
                self.not_sent.fetch_add(1, Ordering::Relaxed) + 1,
            ),
        };
        progress.inc(1);
        if !progress.is_hidden() {
            progress.set_message(format!("{sent} sent, {not_sent} not sent"));
        }
    }
}

/// Sends every letter over `connections` connections; returns each letter's fate.
pub fn deliver(
    connector: Connector,
    letters: Vec<Outgoing>,
    writer: Option<Writer>,
    progress: &ProgressBar,
) -> Vec<(RecipientId, Fate)> {
    let connections = connector.settings.connections.min(letters.len()).max(1);
    let shared = Arc::new(Shared {
        queue: Mutex::new(letters.into()),
        next_slot: tokio::sync::Mutex::new(Instant::now()),
        interval: connector
            .settings
            .rate
            .map_or(Duration::ZERO, |r| r.interval()),
        stop: Mutex::new(None),
        fates: Mutex::new(Vec::new()),
        tally: Tally::default(),
    });
    let connector = Arc::new(connector);
    // Two workers keep the connections moving while one is in the kernel; on a single CPU a
    // second one only takes turns with the first.
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cpus.clamp(1, 2))
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    runtime.block_on(async {
        let tasks: Vec<_> = (0..connections)
            .map(|_| {
                let (shared, connector, writer) =
                    (shared.clone(), connector.clone(), writer.clone());
                let progress = progress.clone();
                tokio::spawn(async move {
                    worker(&shared, &connector, writer.as_ref(), &progress).await
                })
            })
            .collect();
        for task in tasks {
            let _ = task.await;
        }
    });
    let mut fates = std::mem::take(&mut *shared.fates.lock().expect("fates lock"));
    fates.sort_by(|a, b| a.0.cmp(&b.0));
    fates
}

/// One connection: takes letters from the queue until it is empty. On a server that pipelines,
/// and without a rate to keep, the next letter is taken before this one's content goes out, so
/// that its envelope can go in the same write.
async fn worker(
    shared: &Shared,
    connector: &Connector,
    writer: Option<&Writer>,
    progress: &ProgressBar,
) {
    let mut conn: Option<Connection> = None;
    let mut next: Option<Outgoing> = None;
    let take = || shared.queue.lock().expect("queue lock").pop_front();
    while let Some(letter) = next.take().or_else(take) {
        let stopped = shared.stop.lock().expect("stop lock").clone();
        let fate = match stopped
            .or_else(|| journal_broken(writer))
            .or_else(stop_asked)
        {
            Some(reason) => Fate::Unsent(reason),
            None => {
                // Before the first connection nobody knows whether it pipelines: the letter
                // taken is then simply the next one this connection sends.
                let ahead = shared.interval.is_zero() && conn.as_ref().is_none_or(|c| c.pipelining);
                next = if ahead { take() } else { None };
                one_letter(shared, connector, writer, &mut conn, &letter, next.as_ref()).await
            }
        };
        shared.tally.count(&fate, progress);
        shared
            .fates
            .lock()
            .expect("fates lock")
            .push((letter.id.clone(), fate));
    }
    if let Some(mut c) = conn {
        if !c.has_unread() {
            let _ = c.conn.quit().await;
        }
    }
}

/// Sends one letter, retrying temporary faults with doubling waits.
async fn one_letter(
    shared: &Shared,
    connector: &Connector,
    writer: Option<&Writer>,
    conn: &mut Option<Connection>,
    letter: &Outgoing,
    next: Option<&Outgoing>,
) -> Fate {
    let settings = &connector.settings;
    let mut wait = settings.backoff;
    let mut attempt = 0;
    loop {
        pace(shared).await;
        let fault = match attempt_once(connector, writer, conn, letter, next).await {
            Ok(reply) => {
                record(writer, |w| w.mark_sent(&letter.id, &reply));
                return Fate::Sent(reply);
            }
            Err(fault) => fault,
        };
        *conn = None;
        match fault {
            Fault::Permanent(reply) => {
                record(writer, |w| w.mark_failed(&letter.id, &reply));
                return Fate::Failed(reply);
            }
            Fault::Unknown(reason) => {
                record(writer, |w| w.mark_uncertain(&letter.id, &reason));
                return Fate::Uncertain(reason);
            }
            Fault::Fatal(reason) | Fault::Journal(reason) => {
                *shared.stop.lock().expect("stop lock") = Some(reason.clone());
                return Fate::Unsent(reason);
            }
            Fault::Transient(reason) | Fault::Connect(reason) => {
                attempt += 1;
                if attempt > settings.retries {
                    return Fate::Unsent(reason);
                }
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
    }
}

/// Connects if needed, records `sending`, and sends: the record is asked for first and goes to
/// disk while the envelope (MAIL, RCPT, DATA) is with the server; the content waits for it. A
/// letter refused before its content went out is put back to pending in the journal.
async fn attempt_once(
    connector: &Connector,
    writer: Option<&Writer>,
    conn: &mut Option<Connection>,
    letter: &Outgoing,
    next: Option<&Outgoing>,
) -> Result<String, Fault> {
    if conn.is_none() {
        *conn = Some(connector.connect().await?);
    }
    let c = conn.as_mut().expect("connected");
    let on_disk = match writer {
        Some(w) => Some(
            w.ask_sending(&letter.id, &letter.hash, &letter.message_id)
                .map_err(|p| Fault::Journal(p.message))?,
        ),
        None => None,
    };
    let durable = async move {
        match on_disk {
            Some(on_disk) => on_disk.await.map_err(|p| p.message),
            None => Ok(()),
        }
    };
    let result = smtp::send(
        c,
        wire(letter),
        next.map(wire),
        connector.settings.timeout,
        durable,
    )
    .await;
    if let Err(Fault::Transient(reason)) = &result {
        record(writer, |w| w.mark_retry(&letter.id, reason));
    }
    result
}

fn wire(letter: &Outgoing) -> Letter<'_> {
    Letter {
        key: letter.id.as_str(),
        envelope: &letter.envelope,
        bytes: &letter.bytes,
    }
}

/// Why no new letter starts, when the journal could not be written.
fn journal_broken(writer: Option<&Writer>) -> Option<String> {
    let problem = writer?.broken()?;
    Some(format!(
        "the run stopped: the send journal could not be written ({})",
        problem.message
    ))
}

/// Why no new letter starts, when Ctrl-C asked the run to stop.
fn stop_asked() -> Option<String> {
    crate::interrupt::requested().then(|| "the run was stopped (Ctrl-C) before it".to_string())
}

/// Waits for this letter's turn under the campaign's rate.
async fn pace(shared: &Shared) {
    if shared.interval.is_zero() {
        return;
    }
    let slot = {
        let mut next = shared.next_slot.lock().await;
        let slot = (*next).max(Instant::now());
        *next = slot + shared.interval;
        slot
    };
    sleep_until(slot).await;
}

/// Hands an outcome to the journal's writer. An outcome it cannot write is reported by
/// [`Writer::finish`], with the letter, so the summary can say what became of it.
fn record(
    writer: Option<&Writer>,
    f: impl FnOnce(&Writer) -> Result<(), crate::diagnostic::Problem>,
) {
    if let Some(w) = writer {
        if let Err(p) = f(w) {
            crate::console::message(
                format_args!(
                    "warning: the journal could not record an outcome: {}",
                    p.message
                ),
                true,
            );
        }
    }
}

/// Hands every letter to the local MTA's `sendmail` (Postfix's queue then delivers), recording
/// each in the journal like SMTP does. `sendmail` queues a letter whole or not at all, so a
/// refusal leaves the letter pending.
pub fn deliver_sendmail(
    command: Option<&std::path::Path>,
    parallel: usize,
    letters: Vec<Outgoing>,
    writer: Option<Writer>,
    progress: &ProgressBar,
) -> Vec<(RecipientId, Fate)> {
    use rayon::prelude::*;
    let transport = match command {
        Some(path) => lettre::SendmailTransport::new_with_command(path),
        None => lettre::SendmailTransport::new(),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(parallel.max(1))
        .build()
        .expect("a thread pool starts");
    let tally = Tally::default();
    let mut fates: Vec<(RecipientId, Fate)> = pool.install(|| {
        letters
            .par_iter()
            .map(|letter| {
                let fate = hand_over(&transport, writer.as_ref(), letter);
                tally.count(&fate, progress);
                (letter.id.clone(), fate)
            })
            .collect()
    });
    fates.sort_by(|a, b| a.0.cmp(&b.0));
    fates
}

fn hand_over(
    transport: &lettre::SendmailTransport,
    writer: Option<&Writer>,
    letter: &Outgoing,
) -> Fate {
    use lettre::Transport;
    if let Some(reason) = journal_broken(writer).or_else(stop_asked) {
        return Fate::Unsent(reason);
    }
    if let Some(w) = writer {
        if let Err(p) = w.mark_sending(&letter.id, &letter.hash, &letter.message_id) {
            return Fate::Unsent(p.message);
        }
    }
    match transport.send_raw(&letter.envelope, &letter.bytes) {
        Ok(()) => {
            let reply = "queued by sendmail";
            record(writer, |w| w.mark_sent(&letter.id, reply));
            Fate::Sent(reply.into())
        }
        Err(e) => {
            let reason = format!("sendmail refused it: {e}");
            record(writer, |w| w.mark_retry(&letter.id, &reason));
            Fate::Unsent(reason)
        }
    }
}
