//! The email exactly as `send` sends it: multipart (text and HTML), built with lettre.

use std::time::SystemTime;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::Message;
use sha2::{Digest, Sha256};

use crate::campaign::Recipient;
use crate::diagnostic::Problem;

/// What every message of a campaign shares.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub campaign_id: String,
    /// `[sender]`: an email needs one, a printed letter does not.
    pub from: Option<Mailbox>,
    pub date: SystemTime,
    /// The settings file, for problems about the sender.
    pub settings_file: std::path::PathBuf,
}

impl Envelope {
    /// The Message-ID of a recipient's letter: stable, from the campaign and recipient ids, so a
    /// letter keeps its identity across renders and sends.
    pub fn message_id(&self, recipient: &Recipient) -> String {
        let domain = self
            .from
            .as_ref()
            .map_or("lettermerge.invalid", |f| f.email.domain());
        format!("<{}.{}@{}>", self.campaign_id, recipient.id, domain)
    }

    /// Who the letter to `recipient` goes from and to (To, then Cc, then Bcc, as lettre reads
    /// them from the headers), once its sender and subject are known to be there. `None` for a
    /// print-only recipient (no email).
    pub fn addressing(
        &self,
        recipient: &Recipient,
        subject: &str,
    ) -> Result<Option<lettre::address::Envelope>, Problem> {
        let Some(to) = &recipient.email else {
            return Ok(None);
        };
        let id = recipient.id.to_string();
        let Some(from) = &self.from else {
            return Err(Problem::error(format!(
                "the email to `{id}` needs a sender: [sender] has no `email`"
            ))
            .in_file(&self.settings_file)
            .recipient(id)
            .hint("add email = \"you@example.org\" (and name) under [sender], or leave eml out: --format md,txt,html"));
        };
        if subject.is_empty() {
            return Err(
                Problem::error(format!("the email to `{id}` has no subject"))
                    .in_file(&self.settings_file)
                    .recipient(id)
                    .hint("set subject under [letter] (or [email] subject) in lettermerge.toml"),
            );
        }
        let rcpts = std::iter::once(to)
            .chain(&recipient.cc)
            .chain(&recipient.bcc)
            .map(|m| m.email.clone())
            .collect();
        lettre::address::Envelope::new(Some(from.email.clone()), rcpts)
            .map(Some)
            .map_err(|e| {
                Problem::error(format!("cannot address the email to `{id}`: {e}")).recipient(id)
            })
    }

    /// Builds the message. `None` for a print-only recipient (no email).
    pub fn message(
        &self,
        recipient: &Recipient,
        subject: &str,
        text: String,
        html: String,
        attachment: Option<(String, Vec<u8>)>,
    ) -> Result<Option<Message>, Problem> {
        let Some(envelope) = self.addressing(recipient, subject)? else {
            return Ok(None);
        };
        let (Some(to), Some(from)) = (recipient.email.clone(), self.from.clone()) else {
            return Ok(None);
        };
        let mut builder = Message::builder()
            .envelope(envelope)
            .from(from)
            .to(to)
            .subject(subject)
            .date(self.date)
            .message_id(Some(self.message_id(recipient)));
        for cc in &recipient.cc {
            builder = builder.cc(cc.clone());
        }
        for bcc in &recipient.bcc {
            builder = builder.bcc(bcc.clone());
        }
        let boundary = boundary(&text, &html);
        let body = MultiPart::alternative()
            .boundary(boundary.clone())
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(text),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(html),
            );
        let body = match attachment {
            None => body,
            Some((name, bytes)) => MultiPart::mixed()
                .boundary(format!("{boundary}_mixed"))
                .multipart(body)
                .singlepart(Attachment::new(name).body(
                    bytes,
                    ContentType::parse("application/pdf").expect("a MIME type"),
                )),
        };
        builder.multipart(body).map(Some).map_err(|e| {
            Problem::error(format!(
                "cannot build the email for `{}`: {e}",
                recipient.id
            ))
            .recipient(recipient.id.to_string())
            .hint("check the recipient's email and cc addresses and [sender] email")
        })
    }
}

/// A MIME boundary derived from the content: stable for the same letter, and impossible for the
/// letter's own text to contain.
fn boundary(text: &str, html: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(text.as_bytes());
    hash.update([0]);
    hash.update(html.as_bytes());
    let digest = hash.finalize();
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("=_lettermerge_{hex}")
}
