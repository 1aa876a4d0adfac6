//! Reading the campaign's own files: regular files only, and no more than a campaign needs.
//!
//! A campaign folder is copied and edited by many hands, so a path in it may name a named pipe
//! (reading blocks for ever), a device such as `/dev/zero` (it never ends) or a file far larger
//! than any letter. Each is refused with an error that names it, before anything is read.
//! Symbolic links are followed: a link to a regular file is that file.

use std::fmt;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::Path;

/// `lettermerge.toml`: settings and the shared letter slots, a few pages of text at most.
pub const SETTINGS_LIMIT: u64 = 4 << 20;
/// A template or partial: a letter of a few pages is a few kilobytes; 4 MB is a book.
pub const TEMPLATE_LIMIT: u64 = 4 << 20;
/// `recipients.toml` or `.csv`: a recipient takes 300 to 500 bytes, so 64 MB holds well over
/// 100,000 of them, more than any campaign of letters, while a TOML file of that size still fits
/// in memory as it is parsed.
pub const RECIPIENTS_LIMIT: u64 = 64 << 20;
/// A PEM file of CA certificates.
pub const CA_LIMIT: u64 = 1 << 20;

/// Why a file of the campaign was not read.
#[derive(Debug)]
pub enum ReadError {
    /// The system's own error: not found, no permission, not UTF-8 …
    Io(io::Error),
    /// Something other than a regular file: what it is.
    NotAFile(&'static str),
    /// Larger than `limit` bytes.
    TooLarge { limit: u64 },
}

impl ReadError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }

    /// What to do about it, when the error itself says what to do; `None` for the system's own
    /// errors, whose remedy depends on what the file is for.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            ReadError::Io(e) if e.kind() == io::ErrorKind::InvalidData => {
                Some("save the file as UTF-8 text")
            }
            ReadError::Io(_) => None,
            ReadError::NotAFile(_) => Some(
                "lettermerge reads only regular files (or links to them), never pipes, devices or sockets: put a regular file there",
            ),
            ReadError::TooLarge { .. } => Some(
                "check that this is the right file; a campaign this large is better split into several",
            ),
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) if e.kind() == io::ErrorKind::InvalidData => {
                f.write_str("it is not UTF-8 text")
            }
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::NotAFile(kind) => write!(f, "it is {kind}, not a regular file"),
            ReadError::TooLarge { limit } => {
                write!(
                    f,
                    "it is larger than {} MB, the most lettermerge reads",
                    limit >> 20
                )
            }
        }
    }
}

impl std::error::Error for ReadError {}

impl From<ReadError> for io::Error {
    fn from(e: ReadError) -> io::Error {
        match e {
            ReadError::Io(e) => e,
            other => io::Error::other(other),
        }
    }
}

/// Opens `path` for reading, if it is a regular file of at most `limit` bytes; the reader fails
/// with [`ReadError::TooLarge`] should the file grow past the limit while it is read.
pub fn open(path: &Path, limit: u64) -> Result<Capped<File>, ReadError> {
    // Looked at before opening: opening a named pipe waits for a writer.
    regular(&std::fs::metadata(path).map_err(ReadError::Io)?, limit)?;
    let file = File::open(path).map_err(ReadError::Io)?;
    // And again once open, in case it was replaced in between.
    let metadata = file.metadata().map_err(ReadError::Io)?;
    regular(&metadata, limit)?;
    Ok(Capped {
        inner: file,
        limit,
        left: limit,
        over: false,
        size: metadata.len(),
    })
}

/// The whole of a regular file of at most `limit` bytes.
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut reader = open(path, limit)?;
    // The whole file in one allocation, as `std::fs::read` makes it.
    let mut bytes = Vec::with_capacity(usize::try_from(reader.size).unwrap_or(0).saturating_add(1));
    match reader.read_to_end(&mut bytes) {
        Ok(_) => Ok(bytes),
        Err(_) if reader.over => Err(ReadError::TooLarge { limit }),
        Err(e) => Err(ReadError::Io(e)),
    }
}

/// The whole of a regular file of at most `limit` bytes, as UTF-8 text.
pub fn read_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    String::from_utf8(read(path, limit)?)
        .map_err(|e| ReadError::Io(io::Error::new(io::ErrorKind::InvalidData, e.utf8_error())))
}

fn regular(metadata: &Metadata, limit: u64) -> Result<(), ReadError> {
    if !metadata.is_file() {
        return Err(ReadError::NotAFile(kind(metadata)));
    }
    if metadata.len() > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(())
}

/// What a file that is not a regular file is, in words.
fn kind(metadata: &Metadata) -> &'static str {
    let kind = metadata.file_type();
    if kind.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "not a file"
}

/// A reader that fails, rather than going on, once it has given `limit` bytes.
pub struct Capped<R> {
    inner: R,
    limit: u64,
    left: u64,
    /// It went past the limit.
    over: bool,
    /// The file's size when it was opened.
    size: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // One byte more than is left shows whether there is more.
        let want = usize::try_from(self.left.saturating_add(1)).unwrap_or(usize::MAX);
        let want = buf.len().min(want);
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            self.over = true;
            self.left = 0;
            return Err(ReadError::TooLarge { limit: self.limit }.into());
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder() -> tempfile::TempDir {
        tempfile::tempdir().expect("a temporary folder")
    }

    #[test]
    fn a_regular_file_and_a_link_to_one_are_read() {
        let dir = folder();
        let file = dir.path().join("letter.md");
        std::fs::write(&file, "Dear {{recipient.name}},\n").unwrap();
        assert_eq!(read_text(&file, 100).unwrap(), "Dear {{recipient.name}},\n");
        #[cfg(unix)]
        {
            let link = dir.path().join("link.md");
            std::os::unix::fs::symlink(&file, &link).unwrap();
            assert_eq!(read_text(&link, 100).unwrap(), "Dear {{recipient.name}},\n");
        }
    }

    #[test]
    fn what_is_not_a_regular_file_is_refused_without_reading() {
        let dir = folder();
        let mut cases = vec![(dir.path().to_path_buf(), "a folder")];
        #[cfg(unix)]
        {
            let fifo = dir.path().join("pipe.toml");
            rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::RUSR).unwrap();
            cases.push((fifo.clone(), "a named pipe (FIFO)"));
            let link = dir.path().join("link.toml");
            std::os::unix::fs::symlink(&fifo, &link).unwrap();
            cases.push((link, "a named pipe (FIFO)"));
            cases.push(("/dev/zero".into(), "a device"));
            cases.push(("/dev/null".into(), "a device"));
        }
        for (path, kind) in cases {
            let e = read_text(&path, RECIPIENTS_LIMIT).unwrap_err();
            assert!(
                matches!(e, ReadError::NotAFile(k) if k == kind),
                "{path:?}: {e}"
            );
            assert!(e.to_string().contains("not a regular file"), "{e}");
            assert!(e.hint().is_some());
        }
    }

    #[test]
    fn a_file_over_the_limit_is_refused() {
        let dir = folder();
        let file = dir.path().join("recipients.csv");
        std::fs::write(&file, vec![b'x'; 3 << 20]).unwrap();
        let e = read(&file, 2 << 20).unwrap_err();
        assert!(
            matches!(e, ReadError::TooLarge { limit } if limit == 2 << 20),
            "{e}"
        );
        assert!(e.to_string().contains("larger than 2 MB"), "{e}");
        assert_eq!(
            read(&file, 3 << 20).unwrap().len(),
            3 << 20,
            "the limit itself is fine"
        );
    }

    #[test]
    fn a_reader_stops_with_an_error_where_the_limit_is() {
        // As a file that grows after it was looked at.
        let mut capped = Capped {
            inner: &[7u8; 100][..],
            limit: 10,
            left: 10,
            over: false,
            size: 0,
        };
        let mut bytes = Vec::new();
        let e = capped.read_to_end(&mut bytes).unwrap_err();
        assert!(bytes.len() <= 10, "{}", bytes.len());
        assert!(e.to_string().contains("larger than"), "{e}");
        assert!(capped.read(&mut [0; 4]).is_err(), "and stays stopped");
        let mut exact = Capped {
            inner: &[7u8; 10][..],
            limit: 10,
            left: 10,
            over: false,
            size: 0,
        };
        assert_eq!(exact.read_to_end(&mut Vec::new()).unwrap(), 10);
    }

    #[test]
    fn text_that_is_not_utf8_says_so() {
        let dir = folder();
        let file = dir.path().join("letter.md");
        std::fs::write(&file, b"caf\xe9").unwrap();
        let e = read_text(&file, 100).unwrap_err();
        assert_eq!(e.to_string(), "it is not UTF-8 text");
        assert_eq!(e.hint(), Some("save the file as UTF-8 text"));
    }
}
