//! The email exactly as `send` sends it: multipart (text and HTML), built with lettre; the
//! header fields that carry people's words encoded by [`super::header`].

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};
use sha2::{Digest, Sha256};

use super::header::{self, Encoded};
use crate::campaign::Recipient;
use crate::diagnostic::{plural, Problem};

/// The header that marks a test copy, and says whose letter it copies.
pub const TEST_HEADER: &str = "X-Lettermerge-Test";

/// What a test copy's subject starts with: whoever sees it, in any mail client, sees at once
/// that it is not the letter itself.
pub const TEST_SUBJECT: &str = "[TEST] ";

/// A test copy (`send --test-to`): the letter as it will go, but to the tester alone, with no
/// Cc or Bcc, marked as a test, and with a Message-ID of its own, so that a mailbox that saw the
/// test never takes the real letter for a duplicate of it.
#[derive(Debug, Clone)]
pub struct TestCopy {
    pub to: Address,
    /// Unique to the run: the time and random digits, in each test copy's Message-ID.
    pub run: String,
}

impl TestCopy {
    pub fn new(to: Address, now: DateTime<Utc>) -> TestCopy {
        let mut random = [0u8; 4];
        // Without the system's randomness the time alone keeps runs apart.
        let _ = getrandom::getrandom(&mut random);
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        TestCopy {
            to,
            run: format!("{}-{hex}", now.format("%Y%m%dT%H%M%SZ")),
        }
    }
}

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

    /// The Message-ID of a test copy of `recipient`'s letter: never the letter's own.
    pub fn test_message_id(&self, recipient: &Recipient, test: &TestCopy) -> String {
        let real = self.message_id(recipient);
        format!("<test-{}.{}", test.run, &real[1..])
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

    /// Builds the message, or its test copy. `None` for a print-only recipient (no email).
    pub fn message(
        &self,
        recipient: &Recipient,
        subject: &str,
        body: Body,
        test: Option<&TestCopy>,
    ) -> Result<Option<Message>, Problem> {
        let Some(envelope) = self.addressing(recipient, subject)? else {
            return Ok(None);
        };
        let (Some(to), Some(from)) = (recipient.email.clone(), self.from.clone()) else {
            return Ok(None);
        };
        let fields = self.fields(recipient, subject, test)?;
        let (envelope, to) = match test {
            None => (envelope, to),
            Some(test) => (
                lettre::address::Envelope::new(Some(from.email.clone()), vec![test.to.clone()])
                    .map_err(|e| Problem::error(format!("cannot address the test copy: {e}")))?,
                Mailbox::new(None, test.to.clone()),
            ),
        };
        let mut builder = Message::builder()
            .envelope(envelope)
            .from(from)
            .to(to)
            .subject(fields.subject.0.clone())
            .date(self.date)
            .message_id(Some(fields.message_id.clone()));
        if test.is_none() {
            for cc in &recipient.cc {
                builder = builder.cc(cc.clone());
            }
        }
        let mut message = builder.multipart(body.parts()).map_err(|e| {
            Problem::error(format!(
                "cannot build the email for `{}`: {e}",
                recipient.id
            ))
            .recipient(recipient.id.to_string())
            .hint("check the recipient's email and cc addresses and [sender] email")
        })?;
        fields.set(&mut message);
        Ok(Some(message))
    }

    /// The header fields of `recipient`'s message (or its test copy) that carry people's words,
    /// encoded and folded; an error for one with a line no server may accept (over 998 octets,
    /// which only an address or id that long could make).
    pub fn fields(
        &self,
        recipient: &Recipient,
        subject: &str,
        test: Option<&TestCopy>,
    ) -> Result<Fields, Problem> {
        let id = recipient.id.to_string();
        let from = self.from.iter().collect::<Vec<_>>();
        let real_to = recipient.email.iter().collect::<Vec<_>>();
        let tester = test.map(|t| Mailbox::new(None, t.to.clone()));
        let (to, cc, subject, message_id, marked) = match (test, &tester) {
            (Some(test), Some(tester)) => (
                vec![tester],
                Vec::new(),
                format!("{TEST_SUBJECT}{subject}"),
                self.test_message_id(recipient, test),
                Some(test_note(recipient)),
            ),
            _ => (
                real_to,
                recipient.cc.iter().collect(),
                subject.to_string(),
                self.message_id(recipient),
                None,
            ),
        };
        let mut fields = Fields {
            encoded: vec![
                ("From", header::mailboxes("From", from)),
                ("To", header::mailboxes("To", to)),
            ],
            subject: (subject.clone(), header::unstructured("Subject", &subject)),
            message_id,
        };
        if !cc.is_empty() {
            fields.encoded.push(("Cc", header::mailboxes("Cc", cc)));
        }
        if let Some(note) = marked {
            let encoded = header::unstructured(TEST_HEADER, &note);
            fields.encoded.push((TEST_HEADER, encoded));
        }
        let message_id = Encoded {
            value: fields.message_id.clone(),
            cut_cluster: false,
        };
        let too_long = fields
            .encoded
            .iter()
            .map(|(name, e)| (*name, e))
            .chain([("Subject", &fields.subject.1), ("Message-ID", &message_id)])
            .map(|(name, e)| (name, e.longest_line(name)))
            .find(|(_, longest)| *longest > header::LIMIT);
        if let Some((name, longest)) = too_long {
            return Err(Problem::error(format!(
                "the email to `{id}` would have a {name} line of {longest} octets, and mail servers refuse lines over {}",
                header::LIMIT
            ))
            .in_file(&self.settings_file)
            .recipient(id)
            .hint(match name {
                "Message-ID" => "shorten the campaign id or the recipient's id: the Message-ID is made of both and the sender's domain",
                _ => "a line can be folded only between addresses: shorten the address that is this long",
            }));
        }
        Ok(fields)
    }
}

impl Envelope {
    /// What `check` says of the header fields of `recipient`'s email: an error for a line no
    /// server accepts, a warning for a character cluster cut between encoded-words.
    pub fn check_fields(&self, recipient: &Recipient, subject: &str) -> Option<Problem> {
        let fields = match self.fields(recipient, subject, None) {
            Ok(fields) => fields,
            Err(problem) => return Some(problem),
        };
        let name = fields.cut_cluster()?;
        let id = recipient.id.to_string();
        Some(
            Problem::warning(format!(
                "the {name} of the email to `{id}` has a character longer than one encoded-word can hold (a letter with dozens of marks)"
            ))
            .in_file(&self.settings_file)
            .recipient(id)
            .hint("it is sent whole, but a mail reader that shows encoded-words apart may show it broken: such text is often a paste gone wrong, so check that field"),
        )
    }
}

/// What a test copy's header says: whose letter it copies.
fn test_note(recipient: &Recipient) -> String {
    let named = |m: &Mailbox| match &m.name {
        Some(name) if !name.is_empty() => format!("{name} <{}>", m.email),
        _ => m.email.to_string(),
    };
    let mut note = format!(
        "copy of the letter to {}",
        recipient.email.as_ref().map(named).unwrap_or_default()
    );
    if !recipient.cc.is_empty() {
        let cc: Vec<String> = recipient.cc.iter().map(named).collect();
        note.push_str(&format!(", cc {}", cc.join(", ")));
    }
    if !recipient.bcc.is_empty() {
        note.push_str(&format!(", and {}", plural(recipient.bcc.len(), "bcc")));
    }
    note
}

/// The header fields lettermerge encodes itself, ready to replace lettre's.
#[derive(Debug, Clone)]
pub struct Fields {
    /// From, To, Cc and the test copy's mark, as they go.
    pub encoded: Vec<(&'static str, Encoded)>,
    /// The subject as written, and as it goes.
    pub subject: (String, Encoded),
    pub message_id: String,
}

impl Fields {
    /// Whether a character cluster had to be cut (see [`Encoded::cut_cluster`]): the name of
    /// the first field where one was.
    pub fn cut_cluster(&self) -> Option<&'static str> {
        self.encoded
            .iter()
            .map(|(name, e)| (*name, e))
            .chain([("Subject", &self.subject.1)])
            .find(|(_, e)| e.cut_cluster)
            .map(|(name, _)| name)
    }

    /// Puts the encoded fields in place of lettre's, where lettre put its own (the text it
    /// shows, as `get_raw` gives it, stays lettre's).
    fn set(self, message: &mut Message) {
        let headers = message.headers_mut();
        let subject = ("Subject", self.subject.1, Some(self.subject.0));
        for (name, encoded, raw) in self
            .encoded
            .into_iter()
            .map(|(n, e)| (n, e, None))
            .chain([subject])
        {
            let raw = raw
                .or_else(|| headers.get_raw(name).map(str::to_string))
                .unwrap_or_default();
            headers.insert_raw(HeaderValue::dangerous_new_pre_encoded(
                HeaderName::new_from_ascii_str(name),
                raw,
                encoded.value,
            ));
        }
    }
}

/// A message's body: its text, its page, and its attachment.
pub struct Body {
    pub text: String,
    pub html: String,
    pub attachment: Option<(String, Vec<u8>)>,
}

impl Body {
    fn parts(self) -> MultiPart {
        let boundary = boundary(&self.text, &self.html);
        let body = MultiPart::alternative()
            .boundary(boundary.clone())
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(self.text),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(self.html),
            );
        match self.attachment {
            None => body,
            Some((name, bytes)) => MultiPart::mixed()
                .boundary(format!("{boundary}_mixed"))
                .multipart(body)
                .singlepart(Attachment::new(name).body(
                    bytes,
                    ContentType::parse("application/pdf").expect("a MIME type"),
                )),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::recipient::{Language, RecipientId};

    fn envelope(campaign_id: &str) -> Envelope {
        Envelope {
            campaign_id: campaign_id.to_string(),
            from: Some(Mailbox::new(
                Some("Ada Advocate".into()),
                "ada@example.org".parse().expect("an address"),
            )),
            date: SystemTime::UNIX_EPOCH,
            settings_file: "lettermerge.toml".into(),
        }
    }

    fn alice() -> Recipient {
        Recipient {
            id: RecipientId::parse("alice").expect("an id"),
            name: "Alice Ambassador".into(),
            email: Some(Mailbox::new(
                Some("Alice Ambassador".into()),
                "alice@example.org".parse().expect("an address"),
            )),
            cc: vec![Mailbox::new(
                None,
                "office@example.org".parse().expect("an address"),
            )],
            bcc: Vec::new(),
            language: Language::english(),
            timezone: None,
            letter: Default::default(),
            fields: Default::default(),
            span: 0..0,
            places: Vec::new(),
        }
    }

    #[test]
    fn a_header_line_no_server_accepts_is_an_error_that_names_it() {
        let e = envelope(&"c".repeat(1000))
            .fields(&alice(), "Free the prisoners", None)
            .unwrap_err();
        assert!(
            e.message.contains("a Message-ID line of 1032 octets"),
            "{e:?}"
        );
        assert_eq!(e.recipient.as_deref(), Some("alice"));
        assert!(e.hint.unwrap_or_default().contains("campaign id"));
        assert!(envelope("test-campaign")
            .fields(&alice(), "Free the prisoners", None)
            .is_ok());
    }

    #[test]
    fn a_test_copy_has_a_message_id_of_its_own_in_every_run() {
        let envelope = envelope("test-campaign");
        let tester: Address = "tester@example.org".parse().expect("an address");
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let (one, two) = (
            TestCopy::new(tester.clone(), now),
            TestCopy::new(tester, now),
        );
        let real = envelope.message_id(&alice());
        let ids = [
            envelope.test_message_id(&alice(), &one),
            envelope.test_message_id(&alice(), &two),
        ];
        assert_ne!(ids[0], ids[1], "random digits keep runs apart");
        for id in &ids {
            assert_ne!(*id, real);
            assert!(id.starts_with("<test-19700101T000000Z-"), "{id}");
            assert!(id.ends_with(".test-campaign.alice@example.org>"), "{id}");
        }
    }
}
