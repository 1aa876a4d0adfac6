//! The email exactly as `send` sends it: multipart (text and HTML), built with lettre.

use std::time::SystemTime;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;
use sha2::{Digest, Sha256};

use crate::campaign::Recipient;
use crate::diagnostic::Problem;

/// What every message of a campaign shares.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub campaign_id: String,
    pub from: Mailbox,
    pub date: SystemTime,
}

impl Envelope {
    /// The Message-ID of a recipient's letter: stable, from the campaign and recipient ids, so a
    /// letter keeps its identity across renders and sends.
    pub fn message_id(&self, recipient: &Recipient) -> String {
        let domain = self.from.email.domain();
        format!("<{}.{}@{}>", self.campaign_id, recipient.id, domain)
    }

    /// Builds the message. `None` for a print-only recipient (no email).
    pub fn message(
        &self,
        recipient: &Recipient,
        subject: &str,
        text: String,
        html: String,
    ) -> Result<Option<Message>, Problem> {
        let Some(to) = recipient.email.clone() else {
            return Ok(None);
        };
        let mut builder = Message::builder()
            .from(self.from.clone())
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
            .boundary(boundary)
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
