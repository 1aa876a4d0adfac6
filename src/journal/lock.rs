//! One `send` at a time per campaign: an exclusive lock on a file next to the journal.
//!
//! The operating system drops the lock when its holder exits, however it exits, so a crashed run
//! never leaves the campaign locked.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

use crate::diagnostic::Problem;

/// The lock file, in the campaign folder next to the journal. It stays there between runs; only
/// the lock on it matters.
pub const LOCK_FILE: &str = "lettermerge-journal.lock";

/// The campaign's lock, held while this value lives.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Takes the campaign's lock, or refuses at once if another process holds it.
    pub fn acquire(dir: &Path) -> Result<Lock, Problem> {
        Lock::acquire_within(dir, LOOKS)
    }

    fn acquire_within(dir: &Path, looks: u32) -> Result<Lock, Problem> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| {
                Problem::error(format!("cannot open the journal's lock file: {e}"))
                    .in_file(&path)
                    .hint("check that you can write to the campaign folder")
            })?;
        match try_lock(&file, looks) {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(busy(holder(&mut file)).in_file(&path)),
            Err(TryLockError::Error(e)) => {
                return Err(
                    Problem::error(format!("cannot lock the send journal: {e}"))
                        .in_file(&path)
                        .hint("the campaign folder must be on a file system that supports file locks (not some network shares)"),
                )
            }
        }
        // Only so that a refused run can name the process; the lock itself is what counts.
        let _ = write_pid(&mut file);
        Ok(Lock { _file: file })
    }
}

/// How many times a lock is tried before a run refuses, [`PAUSE`] apart: `status` holds it
/// for an instant when it looks whether a `send` runs ([`is_held`]).
const LOOKS: u32 = 20;
const PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

fn try_lock(file: &File, looks: u32) -> Result<(), TryLockError> {
    let mut look = 1;
    loop {
        match file.try_lock() {
            Err(TryLockError::WouldBlock) if look < looks => {
                std::thread::sleep(PAUSE);
                look += 1;
            }
            other => return other,
        }
    }
}

/// Whether a live process holds the campaign's lock: a `send` (or `posted`) is running now.
/// Looks without waiting and lets go at once; no lock file means no run ever held it.
pub fn is_held(dir: &Path) -> bool {
    let Ok(file) = File::open(dir.join(LOCK_FILE)) else {
        return false;
    };
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(TryLockError::WouldBlock) => true,
        // A file system without locks: the journal's own state is all there is to go by.
        Err(TryLockError::Error(_)) => true,
    }
}

/// The refusal a second `send` on the same campaign gets.
fn busy(pid: Option<u32>) -> Problem {
    let (who, stop) = match pid {
        Some(pid) => (format!(" (process {pid})"), format!("`kill {pid}`")),
        None => (String::new(), "Ctrl-C in its terminal".to_string()),
    };
    Problem::error(format!(
        "another `lettermerge send` is running on this campaign{who}"
    ))
    .hint(format!(
        "wait for it to finish, or stop it ({stop}); the journal keeps what it did, so the next `send` goes on from there"
    ))
}

fn holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

fn write_pid(file: &mut File) -> std::io::Result<()> {
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "{}", std::process::id())
}
