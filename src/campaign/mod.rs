//! The campaign: settings, recipients and where they live, loaded and checked into types.

pub mod paths;
pub mod recipient;
pub mod schedule;
pub mod settings;
pub mod smtp;
pub mod source;
pub mod value;

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};

use chrono::NaiveDate;
use rayon::prelude::*;

pub use recipient::{Language, Recipient, RecipientId};
pub use settings::Settings;

use crate::clock::Clock;
use crate::diagnostic::Problem;
use recipient::RawRecipient;
use source::RawItem;

/// How many recipients are read, checked and merged together.
pub const CHUNK: usize = 1024;

/// Reads entries on a thread of their own, a couple of chunks ahead of the work on them.
fn read_ahead(items: Box<dyn Iterator<Item = RawItem> + Send>) -> Receiver<Vec<RawItem>> {
    let (send, receive) = sync_channel(1);
    std::thread::spawn(move || {
        let mut items = items;
        loop {
            let chunk: Vec<RawItem> = items.by_ref().take(CHUNK).collect();
            if chunk.is_empty() || send.send(chunk).is_err() {
                break;
            }
        }
    });
    receive
}

/// A campaign folder with its settings loaded.
#[derive(Debug, Clone)]
pub struct Campaign {
    pub dir: PathBuf,
    pub settings: Settings,
}

impl Campaign {
    /// Loads `lettermerge.toml` from `dir` (every key has a default).
    pub fn load(dir: &Path, clock: &Clock) -> Result<Campaign, Vec<Problem>> {
        Campaign::load_for(dir, clock, None)
    }

    /// Loads the campaign for a run scheduled on `scheduled` (`send --at`): the letters' date,
    /// unless the campaign names one.
    pub fn load_for(
        dir: &Path,
        clock: &Clock,
        scheduled: Option<NaiveDate>,
    ) -> Result<Campaign, Vec<Problem>> {
        if !dir.is_dir() {
            return Err(vec![Problem::error(format!(
                "{} is not a campaign folder",
                dir.display()
            ))
            .hint(
                "pass the folder with -C, or create one with `lettermerge init DIR`",
            )]);
        }
        let settings = Settings::load(dir, clock.today(), scheduled)?;
        Ok(Campaign {
            dir: dir.to_path_buf(),
            settings,
        })
    }

    /// The recipients file, as the user would name it.
    pub fn recipients_path(&self) -> PathBuf {
        self.dir.join(&self.settings.campaign.recipients)
    }

    /// Opens the recipients for reading in file order.
    pub fn recipients(&self) -> Result<Recipients, Problem> {
        let path = self.recipients_path();
        let source = source::open(&path)?;
        Ok(Recipients {
            path,
            chunks: read_ahead(source.items),
            count: source.count,
            seen: HashMap::new(),
        })
    }
}

/// The recipients of a campaign, read in order. Reading is cheap; checking each entry
/// ([`Recipients::check`]) can run in parallel; [`Recipients::admit`] then keeps ids unique.
pub struct Recipients {
    pub path: PathBuf,
    chunks: Receiver<Vec<RawItem>>,
    count: Option<usize>,
    seen: HashMap<RecipientId, Range<usize>>,
}

impl Recipients {
    /// The next raw entries, [`CHUNK`] at most; empty at the end.
    pub fn next_chunk(&mut self) -> Vec<RawItem> {
        self.chunks.recv().unwrap_or_default()
    }

    /// How many entries there are, when known before reading them (TOML; not CSV).
    pub fn len_hint(&self) -> Option<usize> {
        self.count
    }

    /// The next chunk of recipients, checked on every core and admitted in file order (an id
    /// used twice is an error there); `None` at the end of the file.
    pub fn next_checked(&mut self) -> Option<Vec<Result<Recipient, Vec<Problem>>>> {
        let chunk = self.next_chunk();
        if chunk.is_empty() {
            return None;
        }
        let path = self.path.clone();
        let checked: Vec<_> = chunk
            .into_par_iter()
            .map(|item| Recipients::check(&path, item))
            .collect();
        let admitted = checked
            .into_iter()
            .map(|result| {
                let recipient = result?;
                self.admit(&recipient).map_err(|p| vec![p])?;
                Ok(recipient)
            })
            .collect();
        Some(admitted)
    }

    /// Checks one entry into a recipient, with every problem it has.
    pub fn check(path: &Path, item: RawItem) -> Result<Recipient, Vec<Problem>> {
        let raw: RawRecipient = item.map_err(|p| vec![p])?;
        let mut problems = Vec::new();
        Recipient::from_raw(raw, path, &mut problems).ok_or(problems)
    }

    /// Admits a checked recipient unless its id was already used.
    pub fn admit(&mut self, recipient: &Recipient) -> Result<(), Problem> {
        if let Some(first) = self.seen.get(&recipient.id) {
            let line = crate::input::read_text(&self.path, crate::input::RECIPIENTS_LIMIT)
                .map(|t| crate::diagnostic::line_of(&t, first.start))
                .unwrap_or(0);
            return Err(Problem::error(format!(
                "recipient id `{}` is used twice",
                recipient.id
            ))
            .at(&self.path, recipient.span.clone())
            .label("second recipient with this id")
            .recipient(recipient.id.to_string())
            .hint(format!(
                "ids name output files and journal rows, so each must be unique: rename this one (the first is on line {line})"
            )));
        }
        self.seen
            .insert(recipient.id.clone(), recipient.span.clone());
        Ok(())
    }
}
