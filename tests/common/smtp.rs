//! A real SMTP server for tests: [mailin-embedded] on 127.0.0.1, on a free port, in background
//! threads, recording every message it accepts and answering each recipient as a [`Script`] says.
//!
//! ```ignore
//! let server = SmtpServer::start(Script::new().temporary_at_data("alice@example.org", 2));
//! // … send to 127.0.0.1:server.port() …
//! assert_eq!(server.messages_to("alice@example.org").len(), 1);
//! ```
//!
//! Dropping the connection after the DATA content, before any reply, is done from inside the
//! handler: mailin-embedded runs each session on a worker thread of a pool and offers no way for a
//! handler to close the connection without writing a reply, so the handler unwinds that session's
//! thread (`resume_unwind`, which prints nothing); the session's socket is dropped with it and the
//! client sees the connection end. Each such drop costs the pool one worker, so the pool is sized
//! well beyond the connections a test opens.
//!
//! [mailin-embedded]: https://docs.rs/mailin-embedded
#![allow(dead_code)]

use std::io;
use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mailin_embedded::{response, Handler, Response, Server, SslConfig};

/// Worker threads of the server: concurrent sessions, plus one per dropped connection.
const THREADS: u32 = 32;

/// One message the server accepted (answered 250 at the end of DATA).
#[derive(Debug, Clone)]
pub struct Message {
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    /// The envelope recipients (`RCPT TO`) the server accepted, in order.
    pub to: Vec<String>,
    /// The message as received, with CRLF line ends and dot-stuffing undone.
    pub data: Vec<u8>,
}

impl Message {
    /// The message as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// The value of a header of the message, when it has it.
    pub fn header(&self, name: &str) -> Option<String> {
        crate::common::header(&self.text(), name)
    }

    /// Whether `addr` is one of the envelope recipients.
    pub fn is_to(&self, addr: &str) -> bool {
        self.to.iter().any(|t| t.eq_ignore_ascii_case(addr))
    }
}

/// When in the conversation a scripted answer is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// In answer to `RCPT TO:<addr>`.
    Rcpt,
    /// In answer to the end of DATA, for a message with `addr` among its recipients.
    DataEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Reply with this code.
    Code(u16),
    /// Close the connection without replying.
    Drop,
    /// Wait until [`SmtpServer::release`], then accept.
    Hold,
}

#[derive(Debug, Clone)]
struct Rule {
    addr: String,
    stage: Stage,
    answer: Answer,
    /// How many times the rule applies before the server accepts; `None`: always.
    times: Option<usize>,
    /// How many times it has applied.
    used: usize,
}

/// How the server answers, recipient by recipient. Addresses compare case-insensitively; a
/// recipient without a rule is accepted.
#[derive(Debug, Clone, Default)]
pub struct Script {
    rules: Vec<Rule>,
    pipelining: bool,
}

impl Script {
    /// Accept everything.
    pub fn new() -> Script {
        Script::default()
    }

    /// `451` to `RCPT TO:<addr>` the first `times` times, then accept.
    pub fn temporary_at_rcpt(self, addr: &str, times: usize) -> Script {
        self.rule(addr, Stage::Rcpt, Answer::Code(451), Some(times))
    }

    /// `451` at the end of DATA of a message to `addr` the first `times` times, then accept.
    pub fn temporary_at_data(self, addr: &str, times: usize) -> Script {
        self.rule(addr, Stage::DataEnd, Answer::Code(451), Some(times))
    }

    /// `550` to `RCPT TO:<addr>`, always.
    pub fn permanent_at_rcpt(self, addr: &str) -> Script {
        self.rule(addr, Stage::Rcpt, Answer::Code(550), None)
    }

    /// `550` at the end of DATA of a message to `addr`, always.
    pub fn permanent_at_data(self, addr: &str) -> Script {
        self.rule(addr, Stage::DataEnd, Answer::Code(550), None)
    }

    /// Closes the connection once the whole DATA content of a message to `addr` is in, without
    /// replying, the first `times` times; then accepts. The dropped message is not recorded as
    /// accepted (see [`SmtpServer::dropped_to`]).
    pub fn drop_after_data(self, addr: &str, times: usize) -> Script {
        self.rule(addr, Stage::DataEnd, Answer::Drop, Some(times))
    }

    /// Keeps the first message to `addr` waiting for its end-of-DATA reply until
    /// [`SmtpServer::release`] (see [`SmtpServer::wait_until_held`]), then accepts it.
    pub fn hold_at_data(self, addr: &str) -> Script {
        self.rule(addr, Stage::DataEnd, Answer::Hold, Some(1))
    }

    /// Offers PIPELINING (RFC 2920), so that the client writes commands in groups. mailin reads
    /// a group a line at a time as it would read them one by one, but answers EHLO itself with
    /// no PIPELINING in it and puts its own answer in place of a handler's 250; a 252 from the
    /// handler goes out as it is. So EHLO is answered `252 PIPELINING`: the one keyword, where
    /// lettre takes the server's name, and the client finds it there. No STARTTLS, no AUTH.
    pub fn pipelining(mut self) -> Script {
        self.pipelining = true;
        self
    }

    fn rule(mut self, addr: &str, stage: Stage, answer: Answer, times: Option<usize>) -> Script {
        self.rules.push(Rule {
            addr: addr.to_ascii_lowercase(),
            stage,
            answer,
            times,
            used: 0,
        });
        self
    }

    /// The answer due now at `stage` for a command concerning `addrs`, counting it as used.
    fn answer(&mut self, stage: Stage, addrs: &[String]) -> Option<Answer> {
        let rule = self.rules.iter_mut().find(|r| {
            r.stage == stage
                && r.times.is_none_or(|t| r.used < t)
                && addrs.iter().any(|a| a.eq_ignore_ascii_case(&r.addr))
        })?;
        rule.used += 1;
        Some(rule.answer)
    }
}

#[derive(Default)]
struct Record {
    script: Script,
    messages: Vec<Message>,
    /// How many sessions greeted the server (HELO or EHLO).
    sessions: usize,
    /// The name each greeting gave (the argument of HELO or EHLO), in order.
    greetings: Vec<String>,
    /// Every `RCPT TO` address seen, accepted or not, lowercased.
    rcpts: Vec<String>,
    /// The recipients of every message whose connection was dropped after its DATA.
    dropped: Vec<Vec<String>>,
    /// How many messages have been held, and whether they have been released.
    held: usize,
    released: bool,
}

#[derive(Default)]
struct Shared {
    record: Mutex<Record>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Record> {
        // A dropped connection unwinds a session thread, but never while holding this lock.
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One SMTP session's handler: the transaction under way, and the server's shared record.
#[derive(Clone)]
struct Session {
    shared: Arc<Shared>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

/// The payload a session thread unwinds with to drop its connection.
struct DropConnection;

impl Handler for Session {
    fn helo(&mut self, _ip: IpAddr, domain: &str) -> Response {
        let mut record = self.shared.lock();
        record.sessions += 1;
        record.greetings.push(domain.to_string());
        if record.script.pipelining {
            return Response::custom(252, "PIPELINING".to_string());
        }
        response::OK
    }

    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        self.from = from.to_string();
        self.to.clear();
        self.data.clear();
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        let mut record = self.shared.lock();
        record.rcpts.push(to.to_ascii_lowercase());
        match record.script.answer(Stage::Rcpt, &[to.to_string()]) {
            Some(Answer::Code(code)) => refusal(code),
            _ => {
                self.to.push(to.to_string());
                response::OK
            }
        }
    }

    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> Response {
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let message = Message {
            from: self.from.clone(),
            to: std::mem::take(&mut self.to),
            data: std::mem::take(&mut self.data),
        };
        let mut record = self.shared.lock();
        match record.script.answer(Stage::DataEnd, &message.to) {
            Some(Answer::Code(code)) => {
                // mailin 0.6 keeps a session in DATA after an error reply to the end of DATA,
                // reading the client's next command as message text; the transaction is over
                // whatever the reply, so the state machine is told it was no error (the client
                // still reads the refusal's code).
                let mut refusal = refusal(code);
                refusal.is_error = false;
                return refusal;
            }
            Some(Answer::Drop) => {
                record.dropped.push(message.to);
                drop(record);
                self.shared.changed.notify_all();
                std::panic::resume_unwind(Box::new(DropConnection));
            }
            Some(Answer::Hold) => {
                record.held += 1;
                self.shared.changed.notify_all();
                while !record.released {
                    record = self
                        .shared
                        .changed
                        .wait(record)
                        .unwrap_or_else(|e| e.into_inner());
                }
            }
            None => {}
        }
        record.messages.push(message);
        drop(record);
        self.shared.changed.notify_all();
        response::OK
    }
}

fn refusal(code: u16) -> Response {
    let text = match code {
        451 => "4.3.0 Try again later (scripted)",
        550 => "5.1.1 Mailbox unavailable (scripted)",
        _ => "scripted refusal",
    };
    Response::custom(code, text.to_string())
}

/// An SMTP server on 127.0.0.1 for the length of a test (its threads end with the test process).
pub struct SmtpServer {
    port: u16,
    shared: Arc<Shared>,
}

impl SmtpServer {
    /// Starts a server on a free port of 127.0.0.1 that answers as `script` says. It listens
    /// before this returns.
    pub fn start(script: Script) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener
            .local_addr()
            .expect("the listener's address")
            .port();
        let shared = Arc::new(Shared {
            record: Mutex::new(Record {
                script,
                ..Record::default()
            }),
            changed: Condvar::new(),
        });
        let handler = Session {
            shared: Arc::clone(&shared),
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
        };
        let mut server = Server::new(handler);
        server
            .with_name("smtp.test")
            .with_num_threads(THREADS)
            .with_tcp_listener(listener)
            .with_ssl(SslConfig::None)
            .expect("no TLS");
        std::thread::Builder::new()
            .name(format!("smtp-{port}"))
            .spawn(move || {
                if let Err(e) = server.serve() {
                    panic!("the SMTP server stopped: {e}");
                }
            })
            .expect("start the SMTP server thread");
        SmtpServer { port, shared }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every message accepted so far, in order of acceptance.
    pub fn messages(&self) -> Vec<Message> {
        self.shared.lock().messages.clone()
    }

    /// The accepted messages with `addr` among their envelope recipients.
    pub fn messages_to(&self, addr: &str) -> Vec<Message> {
        self.messages()
            .into_iter()
            .filter(|m| m.is_to(addr))
            .collect()
    }

    /// Waits (up to 30 s) until a message to `addr` has been accepted; false if none came.
    pub fn wait_for(&self, addr: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if !self.messages_to(addr).is_empty() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// How many SMTP sessions began (HELO or EHLO) so far.
    pub fn sessions(&self) -> usize {
        self.shared.lock().sessions
    }

    /// The name given in each HELO or EHLO so far (a connection may greet more than once).
    pub fn greetings(&self) -> Vec<String> {
        self.shared.lock().greetings.clone()
    }

    /// How many times `RCPT TO:<addr>` was sent, whatever the answer.
    pub fn rcpts_to(&self, addr: &str) -> usize {
        let addr = addr.to_ascii_lowercase();
        self.shared
            .lock()
            .rcpts
            .iter()
            .filter(|r| **r == addr)
            .count()
    }

    /// How many messages to `addr` had their connection dropped after DATA.
    pub fn dropped_to(&self, addr: &str) -> usize {
        self.shared
            .lock()
            .dropped
            .iter()
            .filter(|to| to.iter().any(|t| t.eq_ignore_ascii_case(addr)))
            .count()
    }

    /// Waits (up to 30 s) until a message scripted with [`Script::hold_at_data`] is held.
    pub fn wait_until_held(&self) {
        self.wait_until_held_n(1);
    }

    /// Waits (up to 30 s) until `n` messages scripted with [`Script::hold_at_data`] are held.
    pub fn wait_until_held_n(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut record = self.shared.lock();
        while record.held < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "{n} messages were not held within 30 s");
            record = self
                .shared
                .changed
                .wait_timeout(record, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Lets a held message be accepted.
    pub fn release(&self) {
        self.shared.lock().released = true;
        self.shared.changed.notify_all();
    }
}

impl Drop for SmtpServer {
    /// A held session must not outlive the test waiting forever.
    fn drop(&mut self) {
        self.release();
    }
}
