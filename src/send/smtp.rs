//! One SMTP connection, opened the way lettre cannot: with TCP_NODELAY set on the socket.
//!
//! lettre never sets TCP_NODELAY, so each message waits ≈ 44 ms for Nagle's algorithm against the
//! server's delayed ACK. We open the TCP stream ourselves, set nodelay, and hand it to lettre's
//! `AsyncSmtpConnection::connect_with_transport`; STARTTLS upgrades that same stream.

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::Error;
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::bounded::{self, Bounded};
use super::secret::Secrets;
use crate::campaign::smtp::{Security, SmtpSettings};

/// What went wrong on a connection, and how far the letter had got.
#[derive(Debug)]
pub enum Fault {
    /// The server answered 4xx, or the connection failed before the letter's content went out:
    /// try again later.
    Transient(String),
    /// The server answered 5xx: this letter will not be accepted.
    Permanent(String),
    /// The content went out and no answer came back: it may or may not have been delivered.
    Unknown(String),
    /// Connecting failed: the connection is unusable, the letter untouched; try again later.
    Connect(String),
    /// The login was refused or the server's certificate is not trusted: no letter can go out
    /// until the settings change, so the run stops.
    Fatal(String),
    /// The journal could not record the letter's `sending`: its content did not go out, and no
    /// other letter may start. Never retried: a full disk is not a network fault.
    Journal(String),
}

impl Fault {
    /// The same fault, its text cleaned of the password.
    fn redacted(self, secrets: &Secrets) -> Fault {
        match self {
            Fault::Transient(t) => Fault::Transient(secrets.redact(t)),
            Fault::Permanent(t) => Fault::Permanent(secrets.redact(t)),
            Fault::Unknown(t) => Fault::Unknown(secrets.redact(t)),
            Fault::Connect(t) => Fault::Connect(secrets.redact(t)),
            Fault::Fatal(t) => Fault::Fatal(secrets.redact(t)),
            Fault::Journal(t) => Fault::Journal(secrets.redact(t)),
        }
    }
}

/// Settings and credentials for opening connections.
pub struct Connector {
    pub settings: SmtpSettings,
    pub credentials: Option<Credentials>,
    pub tls: Option<TlsParameters>,
    hello: ClientId,
    /// Whose login this is, to hide the password in replies.
    password: Option<(String, String)>,
}

impl Connector {
    pub fn new(settings: SmtpSettings, password: Option<String>) -> Result<Connector, String> {
        let login = settings.username.clone().zip(password);
        let credentials = login
            .as_ref()
            .map(|(user, pass)| Credentials::new(user.clone(), pass.clone()));
        let tls = match settings.security {
            Security::None => None,
            _ => Some(tls_parameters(&settings)?),
        };
        // Not lettre's default, this computer's host name: Postfix refuses a bare name (`vm`),
        // and a laptop's name (`marias-macbook.fritz.box`) would travel in the Received header of
        // every letter to the embassy. `[smtp] helo`, else the sender's domain (see SmtpSettings).
        let hello = settings.helo.clone();
        Ok(Connector {
            settings,
            credentials,
            tls,
            hello,
            password: login,
        })
    }

    /// Opens a connection: TCP with nodelay, greeting, EHLO, TLS and login as configured. What
    /// the server says is cleaned of the password before it is shown anywhere.
    pub async fn connect(&self) -> Result<Connection, Fault> {
        let secrets = self.secrets();
        match self.open().await {
            Ok(mut connection) => {
                connection.secrets = secrets;
                Ok(connection)
            }
            Err(fault) => Err(fault.redacted(&secrets)),
        }
    }

    fn secrets(&self) -> Secrets {
        match &self.password {
            Some((user, password)) => Secrets::of(user, password),
            None => Secrets::default(),
        }
    }

    async fn open(&self) -> Result<Connection, Fault> {
        let s = &self.settings;
        let within = s.timeout;
        let fault = |e: String| {
            let text = format!("{}:{}: {e}", s.host, s.port);
            match e.contains(bounded::TOO_LONG) {
                // Something that floods instead of answering (or sits on the path before
                // STARTTLS) does so on every try: the run stops.
                true => Fault::Fatal(text),
                false => Fault::Connect(text),
            }
        };
        let tcp = timeout(within, TcpStream::connect((s.host.as_str(), s.port)))
            .await
            .map_err(|_| fault("no answer (timed out)".into()))?
            .map_err(|e| fault(e.to_string()))?;
        tcp.set_nodelay(true).map_err(|e| fault(e.to_string()))?;
        let mut tls_starts = None;
        let mut conn = match (s.security, &self.tls) {
            (Security::Tls, Some(tls)) => {
                // Implicit TLS over the same bounded stream: lettre makes the TLS layer on it
                // (with the campaign's CA), and the SMTP conversation goes over that.
                let stream = timeout(within, bounded::implicit_tls(tcp, tls.clone()))
                    .await
                    .map_err(|_| fault("TLS handshake timed out".into()))?
                    .map_err(|e| {
                        let text = e.to_string();
                        match text.contains(bounded::TOO_LONG) {
                            true => fault(text),
                            false => Fault::Fatal(format!("{}:{}: TLS: {text}", s.host, s.port)),
                        }
                    })?;
                timeout(
                    within,
                    AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello),
                )
                .await
                .map_err(|_| fault("no greeting (timed out)".into()))?
                .map_err(|e| fault(e.to_string()))?
            }
            _ => {
                let (stream, encrypted) = Bounded::new(tcp);
                let conn = timeout(
                    within,
                    AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello),
                )
                .await
                .map_err(|_| fault("no greeting (timed out)".into()))?
                .map_err(|e| fault(e.to_string()))?;
                tls_starts = Some(encrypted);
                conn
            }
        };
        if let (Security::StartTls, Some(tls)) = (s.security, &self.tls) {
            if !conn.can_starttls() {
                return Err(fault(
                    "the server does not offer STARTTLS; set security = \"tls\" if it uses port 465".into(),
                ));
            }
            // From here on the stream under lettre carries TLS records, not lines.
            if let Some(encrypted) = &tls_starts {
                encrypted.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            timeout(within, conn.starttls(tls.clone(), &self.hello))
                .await
                .map_err(|_| fault("TLS handshake timed out".into()))?
                .map_err(|e| Fault::Fatal(format!("{}:{}: TLS: {e}", s.host, s.port)))?;
        }
        // lettre keeps only the EHLO keywords it uses itself; ask again to learn of PIPELINING.
        // Before AUTH: a second EHLO resets a session as RSET does, and nothing more.
        let ehlo = timeout(within, conn.command(Ehlo::new(self.hello.clone())))
            .await
            .map_err(|_| fault("no answer to EHLO (timed out)".into()))?
            .map_err(|e| fault(format!("EHLO: {e}")))?;
        let pipelining = ehlo.message().any(|line| {
            line.split_whitespace()
                .next()
                .is_some_and(|word| word.eq_ignore_ascii_case("PIPELINING"))
        });
        if let Some(credentials) = &self.credentials {
            timeout(
                within,
                conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials),
            )
            .await
            .map_err(|_| fault("login timed out".into()))?
            .map_err(|e| {
                if e.is_permanent() {
                    Fault::Fatal(format!(
                        "{}:{}: the server refused the login: {e}",
                        s.host, s.port
                    ))
                } else {
                    fault(format!("login failed: {e}"))
                }
            })?;
        }
        Ok(Connection {
            conn,
            pipelining,
            ahead: None,
            secrets: Secrets::default(),
        })
    }
}

/// An open connection and what its server offers beyond what lettre reads.
pub struct Connection {
    pub conn: AsyncSmtpConnection,
    /// The server announced PIPELINING (RFC 2920).
    pub pipelining: bool,
    /// The letter (recipient id) whose envelope went out behind the previous letter's content;
    /// the server's answers to it are not read yet.
    ahead: Option<String>,
    /// The password's forms, hidden in every reply.
    secrets: Secrets,
}

impl Connection {
    /// Whether answers are waiting unread (an envelope sent ahead for a letter that then did not
    /// go): such a connection is dropped, not ended with QUIT.
    pub fn has_unread(&self) -> bool {
        self.ahead.is_some()
    }
}

/// The part of a letter that SMTP carries.
#[derive(Clone, Copy)]
pub struct Letter<'a> {
    /// The recipient's id: which letter an envelope sent ahead belongs to.
    pub key: &'a str,
    pub envelope: &'a Envelope,
    pub bytes: &'a [u8],
}

/// Sends one message: MAIL, RCPT and DATA while `durable` (the letter's `sending` record) is on
/// its way to disk, then — only once it is there — the content. Returns the server's final reply.
///
/// Nothing of a letter reaches anyone before its content: a crash before the content leaves a
/// server with an unfinished transaction, which it drops, and a letter that is still pending.
///
/// With PIPELINING (RFC 2920) the envelope and DATA are one write and one wait for the answers
/// instead of one each; and the `next` letter's envelope goes out in the same write as this
/// letter's content, so that its answers are already there when its turn comes. Its `sending`
/// record is asked for only once this letter's answer is in, so a connection never has more
/// than one letter whose fate is unknown. The content is dot-stuffed here and written with its
/// terminator in one piece.
pub async fn send<F>(
    connection: &mut Connection,
    letter: Letter<'_>,
    next: Option<Letter<'_>>,
    within: std::time::Duration,
    durable: F,
) -> Result<String, Fault>
where
    F: std::future::Future<Output = Result<(), String>>,
{
    let secrets = connection.secrets.clone();
    match send_as_is(connection, letter, next, within, durable).await {
        Ok(reply) => Ok(secrets.redact(reply)),
        Err(fault) => Err(fault.redacted(&secrets)),
    }
}

async fn send_as_is<F>(
    connection: &mut Connection,
    letter: Letter<'_>,
    next: Option<Letter<'_>>,
    within: std::time::Duration,
    durable: F,
) -> Result<String, Fault>
where
    F: std::future::Future<Output = Result<(), String>>,
{
    let rcpts = letter.envelope.to().len();
    let conn = &mut connection.conn;
    let envelope_sent = match connection.ahead.take() {
        Some(key) if key == letter.key => answers(conn, rcpts + 2, within).await,
        Some(key) => Err(Fault::Transient(format!(
            "the connection still held the answers for {key}; it was closed"
        ))),
        None if connection.pipelining => pipelined(conn, letter.envelope, within).await,
        None => one_by_one(conn, letter.envelope, within).await,
    };
    // Whatever the server said, the record is awaited first: an outcome recorded for a letter
    // whose `sending` was never written would be refused by the journal.
    durable.await.map_err(Fault::Journal)?;
    envelope_sent?;
    let content = match DataContent::new(letter.bytes) {
        Some(mut content) => {
            if let (Some(next), true) = (next, connection.pipelining) {
                content.0.push_str(&envelope_group(next.envelope));
                connection.ahead = Some(next.key.to_string());
            }
            timeout(within, conn.command(content)).await
        }
        None => timeout(within, conn.message(letter.bytes)).await,
    };
    let reply = content
        .map_err(|_| Fault::Unknown("no answer after the letter was sent (timed out)".into()))?
        .map_err(|e| classify(e, true))?;
    let text: Vec<&str> = reply.message().collect();
    Ok(format!("{} {}", reply.code(), text.join(" ")))
}

/// MAIL, every RCPT and DATA as one pipelined group (RFC 2920 lets DATA end a group).
fn envelope_group(envelope: &Envelope) -> String {
    let mut group = Mail::new(envelope.from().cloned(), vec![]).to_string();
    for to in envelope.to() {
        group.push_str(&Rcpt::new(to.clone(), vec![]).to_string());
    }
    group.push_str(&Data.to_string());
    group
}

/// The envelope as one group: the first answer comes with the write, then the others.
async fn pipelined(
    conn: &mut AsyncSmtpConnection,
    envelope: &Envelope,
    within: std::time::Duration,
) -> Result<(), Fault> {
    step(within, conn.command(envelope_group(envelope)), false).await?;
    answers(conn, envelope.to().len() + 1, within).await
}

/// Reads `n` answers of a pipelined group in order. On the first refusal the caller drops the
/// connection, so the answers still unread do not matter.
async fn answers(
    conn: &mut AsyncSmtpConnection,
    n: usize,
    within: std::time::Duration,
) -> Result<(), Fault> {
    for _ in 0..n {
        step(within, conn.read_response(), false).await?;
    }
    Ok(())
}

async fn one_by_one(
    conn: &mut AsyncSmtpConnection,
    envelope: &Envelope,
    within: std::time::Duration,
) -> Result<(), Fault> {
    let mail = Mail::new(envelope.from().cloned(), vec![]);
    step(within, conn.command(mail), false).await?;
    for to in envelope.to() {
        step(within, conn.command(Rcpt::new(to.clone(), vec![])), false).await?;
    }
    step(within, conn.command(Data), false).await?;
    Ok(())
}

/// A message's content as it goes after DATA's 354: dot-stuffed (RFC 5321 4.5.2) and ended by
/// `CRLF . CRLF`, written in one piece through lettre's `command`. This is byte for byte what
/// lettre's own `message` writes, without its byte-at-a-time encoder and its second write for
/// the terminator. `None` for a message that is not UTF-8 (lettre's are 7-bit: headers encoded,
/// bodies quoted-printable or base64), which then goes through lettre's `message`.
pub struct DataContent(String);

impl DataContent {
    pub fn new(message: &[u8]) -> Option<DataContent> {
        let text = std::str::from_utf8(message).ok()?;
        let mut out = String::with_capacity(text.len() + text.len() / 512 + 8);
        if text.starts_with('.') {
            out.push('.');
        }
        let mut from = 0;
        for at in memchr::memmem::find_iter(message, b"\r\n.") {
            // `at + 2` is just after an ASCII LF: a character boundary.
            out.push_str(&text[from..at + 2]);
            out.push('.');
            from = at + 2;
        }
        out.push_str(&text[from..]);
        out.push_str("\r\n.\r\n");
        Some(DataContent(out))
    }
}

impl std::fmt::Display for DataContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

async fn step<T>(
    within: std::time::Duration,
    command: impl std::future::Future<Output = Result<T, Error>>,
    content_sent: bool,
) -> Result<T, Fault> {
    timeout(within, command)
        .await
        .map_err(|_| Fault::Transient("the server did not answer (timed out)".into()))?
        .map_err(|e| classify(e, content_sent))
}

/// A lettre error as a fault: the server's own 4xx/5xx answers are definite; anything else is
/// harmless before the content went out and unknown after.
fn classify(e: Error, content_sent: bool) -> Fault {
    let text = e.to_string();
    if e.is_permanent() {
        Fault::Permanent(text)
    } else if text.contains(bounded::TOO_LONG) && !content_sent {
        Fault::Fatal(text)
    } else if e.is_transient() || !content_sent {
        Fault::Transient(text)
    } else {
        Fault::Unknown(text)
    }
}

fn tls_parameters(settings: &SmtpSettings) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(settings.host.clone());
    if let Some(ca) = &settings.ca_file {
        let pem = crate::input::read(ca, crate::input::CA_LIMIT)
            .map_err(|e| format!("cannot read {}: {e}", ca.display()))?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| format!("{} is not a PEM certificate: {e}", ca.display()))?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build_rustls().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::DataContent;

    /// RFC 5321 4.5.2 line by line: a line that starts with a dot gets one more; then the
    /// terminator that lettre's `message` writes.
    fn by_lines(message: &str) -> String {
        let lines: Vec<String> = message
            .split("\r\n")
            .map(|line| match line.starts_with('.') {
                true => format!(".{line}"),
                false => line.to_string(),
            })
            .collect();
        format!("{}\r\n.\r\n", lines.join("\r\n"))
    }

    #[test]
    fn content_is_dot_stuffed_like_line_by_line_and_ends_with_the_terminator() {
        for message in [
            "",
            ".",
            "..",
            ".starts with a dot",
            "Subject: x\r\n\r\n.\r\n..\r\n.a\r\nb.\r\n",
            "a\r\n.b\r\n.c",
            "bare\n.newline and bare\r.return stay",
            "\r\r\n.after a stray CR\r\n",
            "ends with CRLF\r\n",
            "\r\n.",
            "Grüße\r\n.über\r\n",
        ] {
            let content = DataContent::new(message.as_bytes()).expect("UTF-8");
            assert_eq!(content.to_string(), by_lines(message), "{message:?}");
        }
    }

    #[test]
    fn content_that_is_not_utf8_is_left_to_lettre() {
        assert!(DataContent::new(b"caf\xe9\r\n.x").is_none());
    }
}
