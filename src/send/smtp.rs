//! One SMTP connection, opened the way lettre cannot: with TCP_NODELAY set on the socket.
//!
//! lettre never sets TCP_NODELAY, so each message waits ≈ 44 ms for Nagle's algorithm against the
//! server's delayed ACK. We open the TCP stream ourselves, set nodelay, and hand it to lettre's
//! `AsyncSmtpConnection::connect_with_transport`; STARTTLS upgrades that same stream.

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::Error;
use tokio::net::TcpStream;
use tokio::time::timeout;

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
}

/// Settings and credentials for opening connections.
pub struct Connector {
    pub settings: SmtpSettings,
    pub credentials: Option<Credentials>,
    pub tls: Option<TlsParameters>,
    hello: ClientId,
}

impl Connector {
    pub fn new(settings: SmtpSettings, password: Option<String>) -> Result<Connector, String> {
        let credentials = match (&settings.username, password) {
            (Some(user), Some(pass)) => Some(Credentials::new(user.clone(), pass)),
            _ => None,
        };
        let tls = match settings.security {
            Security::None => None,
            _ => Some(tls_parameters(&settings)?),
        };
        Ok(Connector {
            settings,
            credentials,
            tls,
            hello: ClientId::default(),
        })
    }

    /// Opens a connection: TCP with nodelay, greeting, EHLO, TLS and login as configured.
    pub async fn connect(&self) -> Result<AsyncSmtpConnection, Fault> {
        let s = &self.settings;
        let within = s.timeout;
        let fault = |e: String| Fault::Connect(format!("{}:{}: {e}", s.host, s.port));
        let tcp = timeout(within, TcpStream::connect((s.host.as_str(), s.port)))
            .await
            .map_err(|_| fault("no answer (timed out)".into()))?
            .map_err(|e| fault(e.to_string()))?;
        tcp.set_nodelay(true).map_err(|e| fault(e.to_string()))?;
        let mut conn = match (s.security, &self.tls) {
            (Security::Tls, Some(tls)) => {
                // Implicit TLS: lettre opens this one itself (without nodelay); over the
                // internet the rate limit, not Nagle, sets the pace.
                drop(tcp);
                timeout(
                    within,
                    AsyncSmtpConnection::connect_tokio1(
                        (s.host.as_str(), s.port),
                        Some(within),
                        &self.hello,
                        Some(tls.clone()),
                        None,
                    ),
                )
                .await
                .map_err(|_| fault("no answer (timed out)".into()))?
                .map_err(|e| fault(e.to_string()))?
            }
            _ => timeout(
                within,
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello),
            )
            .await
            .map_err(|_| fault("no greeting (timed out)".into()))?
            .map_err(|e| fault(e.to_string()))?,
        };
        if let (Security::StartTls, Some(tls)) = (s.security, &self.tls) {
            if !conn.can_starttls() {
                return Err(fault(
                    "the server does not offer STARTTLS; set security = \"tls\" if it uses port 465".into(),
                ));
            }
            timeout(within, conn.starttls(tls.clone(), &self.hello))
                .await
                .map_err(|_| fault("TLS handshake timed out".into()))?
                .map_err(|e| Fault::Fatal(format!("{}:{}: TLS: {e}", s.host, s.port)))?;
        }
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
        Ok(conn)
    }
}

/// Sends one message: MAIL, RCPT, DATA, then the content. Returns the server's final reply.
/// The caller records the letter as `sending` before calling.
pub async fn send(
    conn: &mut AsyncSmtpConnection,
    envelope: &Envelope,
    bytes: &[u8],
    within: std::time::Duration,
) -> Result<String, Fault> {
    step(
        within,
        conn.command(Mail::new(envelope.from().cloned(), vec![])),
        false,
    )
    .await?;
    for to in envelope.to() {
        step(within, conn.command(Rcpt::new(to.clone(), vec![])), false).await?;
    }
    step(within, conn.command(Data), false).await?;
    let reply = timeout(within, conn.message(bytes))
        .await
        .map_err(|_| Fault::Unknown("no answer after the letter was sent (timed out)".into()))?
        .map_err(|e| classify(e, true))?;
    let text: Vec<&str> = reply.message().collect();
    Ok(format!("{} {}", reply.code(), text.join(" ")))
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
    } else if e.is_transient() || !content_sent {
        Fault::Transient(text)
    } else {
        Fault::Unknown(text)
    }
}

fn tls_parameters(settings: &SmtpSettings) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(settings.host.clone());
    if let Some(ca) = &settings.ca_file {
        let pem = std::fs::read(ca).map_err(|e| format!("cannot read {}: {e}", ca.display()))?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| format!("{} is not a PEM certificate: {e}", ca.display()))?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build_rustls().map_err(|e| e.to_string())
}
