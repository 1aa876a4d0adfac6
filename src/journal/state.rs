//! What the journal knows about one letter: its state, and the hash of the content that was sent.

use std::fmt;

use sha2::{Digest, Sha256};

/// Where a letter stands. Stored in the journal as its lowercase name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Not sent yet: no row, or a row whose last attempt got a temporary refusal (4xx, timeout).
    Pending,
    /// Waiting for its due time (`due_at`).
    Scheduled,
    /// Being handed to the server right now; found at start, it means the process died.
    Sending,
    /// The server accepted it (`reply` holds its answer).
    Sent,
    /// The server refused it for good (5xx); sent again only with `--retry-failed`.
    Failed,
    /// The process died while the server was answering: it may or may not have gone out; sent
    /// again only with `--retry-uncertain`.
    Uncertain,
    /// A postal letter (the recipient has no email) not yet recorded as posted. Never stored:
    /// it is what `status` shows for a print-only recipient the journal knows nothing of.
    ToPost,
    /// A postal letter recorded as posted (`lettermerge posted`), kept in the `posted` table.
    Posted,
}

impl State {
    pub const ALL: [State; 8] = [
        State::Pending,
        State::Scheduled,
        State::Sending,
        State::Sent,
        State::Failed,
        State::Uncertain,
        State::ToPost,
        State::Posted,
    ];

    /// The name stored in the journal and shown by `status`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Scheduled => "scheduled",
            State::Sending => "sending",
            State::Sent => "sent",
            State::Failed => "failed",
            State::Uncertain => "uncertain",
            State::ToPost => "to-post",
            State::Posted => "posted",
        }
    }

    /// The state stored under `name`, if it is one.
    pub fn parse(name: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The SHA-256 of a letter as sent, in lowercase hex: equal hashes mean the same letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContentHash(String);

impl ContentHash {
    /// The hash of a letter's bytes (the message as it goes to the server).
    pub fn of(content: &[u8]) -> ContentHash {
        let digest = Sha256::digest(content);
        ContentHash(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// A hash read back from the journal: 64 lowercase hex digits, else `None`.
    pub fn from_hex(hex: &str) -> Option<ContentHash> {
        let valid = hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        valid.then(|| ContentHash(hex.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_their_names() {
        for state in State::ALL {
            assert_eq!(State::parse(state.as_str()), Some(state));
        }
        assert_eq!(State::parse("SENT"), None);
    }

    #[test]
    fn hashes_are_hex_sha256() {
        let hash = ContentHash::of(b"abc");
        assert_eq!(
            hash.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(ContentHash::from_hex(hash.as_str()), Some(hash));
        assert_eq!(ContentHash::from_hex("BA78"), None);
    }
}
