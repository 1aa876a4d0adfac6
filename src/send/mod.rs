//! Sending: each recipient's letter as the email `render --format eml` writes, delivered over
//! SMTP and recorded in the journal so that no letter ever goes out twice.
//!
//! [`prepare`] merges every letter into an [`Outgoing`] message; the command asks the journal
//! which to send; [`deliver::deliver`] sends them over a few connections, recording `sending`
//! durably before each letter's content and the server's answer after.

pub mod bounded;
pub mod deliver;
pub mod secret;
pub mod smtp;
pub mod timetable;

use chrono::{DateTime, Utc};
use lettre::address::Envelope;
use lettre::Address;
use rayon::prelude::*;

use crate::campaign::schedule::{Due, Schedule};
use crate::campaign::{Campaign, Recipient, RecipientId};
use crate::clock::Clock;
use crate::cmd::render::email;
use crate::diagnostic::Problem;
use crate::journal::ContentHash;
use crate::render::eml::{TestCopy, TEST_SUBJECT};
use crate::render::Email;
use crate::template::Letters;

/// A letter ready to go: the envelope, the exact bytes, and what the journal keys it by.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub id: RecipientId,
    pub envelope: Envelope,
    /// The message as it goes to the server; empty until the letter is [`Outgoing::built`].
    pub bytes: Vec<u8>,
    /// Whether `bytes` holds the message: a letter due later than [`Selection::build_until`] is
    /// merged (to check it and know its hash) but its email is built only in the run that sends it.
    pub built: bool,
    pub message_id: String,
    /// The letter's content (not its Date), to tell a changed letter from the one sent.
    pub hash: ContentHash,
    /// Who it goes to, for people: "To; Cc".
    pub to: String,
    pub subject: String,
    /// When it is due, for a scheduled run.
    pub due: Option<Due>,
}

/// Which letters to prepare.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub only: Vec<String>,
    /// Send every letter to this address instead of its recipients.
    pub test_to: Option<Address>,
    /// When each letter is due, for a scheduled run.
    pub schedule: Option<Schedule>,
    /// Letters due after this are not built into emails yet (see [`Outgoing::built`]).
    pub build_until: Option<DateTime<Utc>>,
}

/// Every letter of the campaign with an email, merged and built, in file order; plus the ids of
/// print-only recipients. Any problem stops everything: nothing is sent from a broken campaign.
pub fn prepare(
    campaign: &Campaign,
    letters: &Letters,
    clock: &Clock,
    selection: &Selection,
) -> Result<(Vec<Outgoing>, Vec<RecipientId>), Vec<Problem>> {
    let mut recipients = campaign.recipients().map_err(|p| vec![p])?;
    let email = email(campaign, clock.now(), None).map_err(|p| vec![p])?;
    let test = selection
        .test_to
        .as_ref()
        .map(|to| TestCopy::new(to.clone(), clock.now()));
    let mut problems = Vec::new();
    let mut outgoing = Vec::new();
    let mut print_only = Vec::new();
    let path = recipients.path.clone();
    while let Some(checked) = recipients.next_checked() {
        let mut chosen = Vec::new();
        for result in checked {
            let recipient = match result {
                Ok(r) => r,
                Err(p) => {
                    problems.extend(p);
                    continue;
                }
            };
            let wanted = selection.only.is_empty()
                || selection.only.iter().any(|id| id == recipient.id.as_str());
            if !wanted {
                continue;
            }
            if recipient.has_email() {
                chosen.push(recipient);
            } else {
                print_only.push(recipient.id.clone());
            }
        }
        let built: Vec<_> = chosen
            .par_iter()
            .map(|r| build(r, letters, &email, selection, test.as_ref(), &path))
            .collect();
        for result in built {
            match result {
                Ok(o) => outgoing.push(o),
                Err(p) => problems.push(p),
            }
        }
    }
    for id in &selection.only {
        let known = outgoing.iter().any(|o| o.id.as_str() == id)
            || print_only.iter().any(|p| p.as_str() == id);
        if !known && problems.is_empty() {
            problems.push(
                Problem::error(format!("there is no recipient with id `{id}`"))
                    .in_file(&path)
                    .hint("`lettermerge check` lists the recipients; ids are lowercase"),
            );
        }
    }
    if problems.is_empty() {
        Ok((outgoing, print_only))
    } else {
        Err(problems)
    }
}

/// The letter to `recipient`, or with `test` its test copy: the same letter, to the tester
/// alone, under a Message-ID of its own (see [`TestCopy`]).
fn build(
    recipient: &Recipient,
    letters: &Letters,
    email: &Email,
    selection: &Selection,
    test: Option<&TestCopy>,
    path: &std::path::Path,
) -> Result<Outgoing, Problem> {
    let due = match &selection.schedule {
        Some(schedule) => Some(schedule.due(recipient, path)?),
        None => None,
    };
    let letter = letters.render(recipient)?;
    let addressed = email
        .envelope
        .addressing(recipient, &letter.subject)?
        .expect("a recipient with email has an address");
    let to: Vec<String> = addressed.to().iter().map(ToString::to_string).collect();
    let mut content = letter.markdown.clone().into_bytes();
    content.push(0);
    content.extend(letter.subject.as_bytes());
    content.push(0);
    content.extend(to.join(",").as_bytes());
    let hash = ContentHash::of(&content);
    let built = match (due, selection.build_until) {
        (Some(due), Some(until)) => due.at <= until,
        _ => true,
    };
    let bytes = if built {
        email
            .copy(&letter, recipient, test)?
            .expect("a recipient with email has a message")
            .formatted()
    } else {
        Vec::new()
    };
    let (envelope, message_id, subject) = match test {
        Some(test) => (
            Envelope::new(addressed.from().cloned(), vec![test.to.clone()])
                .map_err(|e| Problem::error(format!("cannot address the test copy: {e}")))?,
            email.envelope.test_message_id(recipient, test),
            format!("{TEST_SUBJECT}{}", letter.subject),
        ),
        None => (
            addressed,
            email.envelope.message_id(recipient),
            letter.subject,
        ),
    };
    let to: Vec<String> = envelope.to().iter().map(ToString::to_string).collect();
    Ok(Outgoing {
        id: recipient.id.clone(),
        message_id,
        hash,
        to: to.join(", "),
        subject,
        bytes,
        built,
        envelope,
        due,
    })
}
