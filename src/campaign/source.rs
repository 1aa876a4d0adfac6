//! Reading recipients from `recipients.toml` or `recipients.csv`, as raw entries in file order.
//!
//! Neither format is held in memory as a whole once parsed: a large TOML file is cut at its
//! `[[recipient]]` lines and the pieces parsed one after another as they are needed (if a piece
//! fails, the whole file is parsed so the error points at the right place), and CSV is read a row
//! at a time. A campaign of any size fits in little more memory than its text.

use std::collections::VecDeque;
use std::io::BufReader;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde_json::Value;
use toml::de::{DeTable, DeValue};

use super::recipient::{RawField, RawRecipient};
use super::settings::toml_problem;
use crate::diagnostic::Problem;
use crate::input::{self, ReadError};

/// Raw recipients in file order, or the problem that stopped reading.
pub type RawItem = Result<RawRecipient, Problem>;

/// Raw entries of a recipients file, with their number when it is known before reading.
pub struct Source {
    pub items: Box<dyn Iterator<Item = RawItem> + Send>,
    pub count: Option<usize>,
}

/// Opens a recipients file for reading its entries in order.
pub fn open(path: &Path) -> Result<Source, Problem> {
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if is_csv {
        let file = input::open(path, input::RECIPIENTS_LIMIT).map_err(|e| cannot_read(path, &e))?;
        let rows = CsvRows::new(path, BufReader::with_capacity(1 << 16, file));
        return Ok(Source {
            items: Box::new(rows),
            count: None,
        });
    }
    let text =
        input::read_text(path, input::RECIPIENTS_LIMIT).map_err(|e| cannot_read(path, &e))?;
    let text = match TomlPieces::new(path, text) {
        Ok(pieces) => {
            let count = pieces.count;
            return Ok(Source {
                items: Box::new(pieces),
                count: Some(count),
            });
        }
        Err(text) => text,
    };
    let entries = parse_toml(path, &text)?;
    Ok(Source {
        count: Some(entries.len()),
        items: Box::new(entries.into_iter().map(Ok)),
    })
}

fn cannot_read(path: &Path, e: &ReadError) -> Problem {
    let hint = match e.hint() {
        _ if e.is_not_found() => {
            "create it (see the README), or set `recipients` in [campaign] of lettermerge.toml"
                .into()
        }
        Some(hint) => format!("{hint}; `recipients` in [campaign] of lettermerge.toml names it"),
        None => "check that the file is readable".into(),
    };
    Problem::error(format!("cannot read {}: {e}", path.display())).hint(hint)
}

/// Parses a whole recipients TOML file into raw entries with spans into `text`.
pub fn parse_toml(path: &Path, text: &str) -> Result<Vec<RawRecipient>, Problem> {
    toml_entries(path, text, 0, text)
}

/// The `[[recipient]]` entries of `piece`, which starts at `offset` in the file's `text`.
///
/// The document is read as toml's own tree of borrowed strings and spans, and each value turned
/// straight into what templates read: no generic deserializing in between.
fn toml_entries(
    path: &Path,
    piece: &str,
    offset: usize,
    text: &str,
) -> Result<Vec<RawRecipient>, Problem> {
    let document = DeTable::parse(piece).map_err(|e| toml_problem(path, piece, &e))?;
    let at = |span: Range<usize>| span.start + offset..span.end + offset;
    let not_valid = |message: String, span: Range<usize>| {
        Problem::error(format!("{} is not valid: {message}", file_name(path)))
            .at(path, at(span))
            .hint("each recipient starts with a line [[recipient]]; other keys belong inside one")
    };
    let mut entries = Vec::new();
    for (key, value) in document.into_inner() {
        if key.get_ref() != "recipient" {
            return Err(not_valid(
                format!("unknown key `{}`, expected `recipient`", key.get_ref()),
                key.span(),
            ));
        }
        let span = value.span();
        let DeValue::Array(items) = value.into_inner() else {
            return Err(not_valid(
                "`recipient` must be a list of [[recipient]] tables".into(),
                span,
            ));
        };
        for item in items {
            let span = item.span();
            let DeValue::Table(table) = item.into_inner() else {
                return Err(not_valid(
                    "each recipient must be a table of keys".into(),
                    span,
                ));
            };
            entries.push(raw_entry(path, table, at(span), offset, text)?);
        }
    }
    Ok(entries)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// A large TOML file read a piece at a time: pieces are cut at `[[recipient]]` lines.
struct TomlPieces {
    path: PathBuf,
    text: String,
    cuts: Vec<usize>,
    next: usize,
    ready: VecDeque<RawRecipient>,
    count: usize,
}

impl TomlPieces {
    /// Pieces of about this many bytes are parsed at a time.
    const PIECE: usize = 1 << 18;

    /// The text back when the file is small, or cannot be cut safely (keys before the first
    /// recipient).
    fn new(path: &Path, text: String) -> Result<TomlPieces, String> {
        if text.len() < 2 * Self::PIECE {
            return Err(text);
        }
        let starts = entry_starts(&text);
        let Some(&first) = starts.first() else {
            return Err(text);
        };
        let only_comments = text[..first]
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
        if !only_comments {
            return Err(text);
        }
        let mut cuts = vec![first];
        for &s in &starts {
            if s - cuts.last().copied().unwrap_or(0) >= Self::PIECE {
                cuts.push(s);
            }
        }
        cuts.push(text.len());
        Ok(TomlPieces {
            path: path.to_path_buf(),
            count: starts.len(),
            text,
            cuts,
            next: 0,
            ready: VecDeque::new(),
        })
    }

    /// Parses the next piece into `ready`. A piece that fails is parsed again as part of the
    /// whole file: either the file has an error (reported where it is) or the cut fell inside a
    /// multi-line string, and the whole file's entries from this piece on are used instead.
    fn parse_next(&mut self) -> Result<(), Problem> {
        let (start, end) = (self.cuts[self.next], self.cuts[self.next + 1]);
        self.next += 1;
        match toml_entries(&self.path, &self.text[start..end], start, &self.text) {
            Ok(entries) => {
                self.ready.extend(entries);
                Ok(())
            }
            Err(_) => {
                self.next = self.cuts.len() - 1;
                let whole = parse_toml(&self.path, &self.text)?;
                self.ready
                    .extend(whole.into_iter().filter(|r| r.span.start >= start));
                Ok(())
            }
        }
    }
}

impl Iterator for TomlPieces {
    type Item = RawItem;

    fn next(&mut self) -> Option<RawItem> {
        loop {
            if let Some(entry) = self.ready.pop_front() {
                return Some(Ok(entry));
            }
            if self.next + 1 >= self.cuts.len() {
                return None;
            }
            if let Err(problem) = self.parse_next() {
                self.next = self.cuts.len() - 1;
                return Some(Err(problem));
            }
        }
    }
}

/// Byte offsets of lines that open a recipient (`[[recipient]]`).
fn entry_starts(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "[[recipient]]" {
            starts.push(offset);
        }
        offset += line.len();
    }
    starts
}

/// One `[[recipient]]` table; `span` is its place in the file, and the spans inside `table`
/// are `offset` bytes before the file's.
fn raw_entry(
    path: &Path,
    table: DeTable<'_>,
    span: Range<usize>,
    offset: usize,
    text: &str,
) -> Result<RawRecipient, Problem> {
    // The entry's place is its first line: where a person looks for it.
    let start = span.start.min(text.len());
    let first_line = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let fields = table
        .into_iter()
        .map(|(key, value)| {
            let span = value.span();
            let value = de_to_json(value.into_inner()).map_err(|at| {
                let at = if at.is_empty() { span.clone() } else { at };
                Problem::error(format!(
                    "{} is not valid: this number is too large",
                    file_name(path)
                ))
                .at(path, at.start + offset..at.end + offset)
                .hint("write it as a string in \"quotes\"")
            })?;
            Ok(RawField {
                key: key.into_inner().into_owned(),
                value,
                span: span.start + offset..span.end + offset,
            })
        })
        .collect::<Result<_, Problem>>()?;
    Ok(RawRecipient {
        span: start..first_line.max(start),
        fields,
    })
}

/// TOML to JSON, as templates see values: dates and times become their TOML text
/// (`2026-12-10`). An integer too large for 64 bits is an error at its span.
fn de_to_json(value: DeValue<'_>) -> Result<Value, Range<usize>> {
    Ok(match value {
        DeValue::String(s) => Value::String(s.into_owned()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Value::from(n),
            Err(_) => return Err(0..0),
        },
        DeValue::Float(f) => Value::from(f.as_str().parse::<f64>().unwrap_or(f64::NAN)),
        DeValue::Boolean(b) => Value::Bool(b),
        DeValue::Datetime(d) => Value::String(d.to_string()),
        DeValue::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| {
                    let span = v.span();
                    de_to_json(v.into_inner()).map_err(|e| if e.is_empty() { span } else { e })
                })
                .collect::<Result<_, _>>()?,
        ),
        DeValue::Table(table) => Value::Object(
            table
                .into_iter()
                .map(|(k, v)| {
                    let span = v.span();
                    let value =
                        de_to_json(v.into_inner())
                            .map_err(|e| if e.is_empty() { span } else { e })?;
                    Ok::<_, Range<usize>>((k.into_inner().into_owned(), value))
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// The recipients file as the CSV reader reads it, noting where line breaks are. The reader puts
/// a row's start at the line break before it when lines end in CRLF (as spreadsheets write them)
/// or a blank line comes first; the row is then moved past them, so errors point at its line.
struct Breaks<R> {
    inner: R,
    read: usize,
    /// Offsets of `\r` and `\n` bytes read but not yet passed by a row's start.
    at: std::collections::VecDeque<usize>,
}

impl<R: std::io::Read> std::io::Read for Breaks<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let breaks = buf[..n].iter().enumerate();
        self.at.extend(
            breaks
                .filter(|(_, b)| matches!(b, b'\r' | b'\n'))
                .map(|(i, _)| self.read + i),
        );
        self.read += n;
        Ok(n)
    }
}

impl<R> Breaks<R> {
    /// The first offset at or after `start` that is not a line break.
    fn skip(&mut self, mut start: usize) -> usize {
        while let Some(&at) = self.at.front() {
            if at < start {
                self.at.pop_front();
            } else if at == start {
                self.at.pop_front();
                start += 1;
            } else {
                break;
            }
        }
        start
    }
}

/// CSV rows as raw recipients: a multi-line cell is a list, `letter.KEY` columns fill the
/// recipient's letter slots, and an empty cell is no value at all.
struct CsvRows<R: std::io::Read> {
    path: PathBuf,
    reader: csv::Reader<Breaks<R>>,
    headers: Vec<String>,
    failed: bool,
    /// Problems found in the header row, given out before reading stops.
    queued: VecDeque<Problem>,
}

impl<R: std::io::Read> CsvRows<R> {
    fn new(path: &Path, input: R) -> Self {
        let reader = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(Breaks {
                inner: input,
                read: 0,
                at: Default::default(),
            });
        CsvRows {
            path: path.to_path_buf(),
            reader,
            headers: Vec::new(),
            failed: false,
            queued: VecDeque::new(),
        }
    }

    /// Where a row (or an error in it) starts, past any line break the reader counts in.
    fn row_start(&mut self, position: Option<&csv::Position>) -> usize {
        let start = position.map_or(0, |p| p.byte() as usize);
        self.reader.get_mut().skip(start)
    }

    fn csv_problem(&mut self, e: &csv::Error) -> Problem {
        if let csv::ErrorKind::Io(io) = e.kind() {
            // A file that grew past the limit while it was read, or a disk that failed.
            return Problem::error(format!("cannot read {}: {io}", self.path.display()))
                .in_file(&self.path)
                .hint(
                    io.get_ref()
                        .and_then(|inner| inner.downcast_ref::<ReadError>())
                        .and_then(ReadError::hint)
                        .unwrap_or("check that the file is readable"),
                );
        }
        let at = self.row_start(e.position());
        let message = match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => format!("this row has {len} cells but the header has {expected_len}"),
            csv::ErrorKind::Utf8 { .. } => "this row is not UTF-8 text".to_string(),
            _ => e.to_string(),
        };
        Problem::error(format!("{} is not valid: {message}", self.path.display()))
            .at(&self.path, at..at)
            .hint("each row needs one cell per column; cells with commas or line breaks go in \"double quotes\"; save the sheet as CSV UTF-8")
    }
}

impl<R: std::io::Read> Iterator for CsvRows<R> {
    type Item = RawItem;

    fn next(&mut self) -> Option<RawItem> {
        if self.failed {
            return self.queued.pop_front().map(Err);
        }
        if self.headers.is_empty() {
            match self.reader.headers() {
                Ok(h) => self.headers = h.iter().map(|s| s.trim().to_string()).collect(),
                Err(e) => {
                    self.failed = true;
                    return Some(Err(self.csv_problem(&e)));
                }
            }
            // The header row's line, up to its first line break.
            let header_end = self.reader.get_ref().at.front().copied();
            let header_line = 0..header_end.unwrap_or(self.reader.position().byte() as usize);
            self.queued = same_columns(&self.headers)
                .iter()
                .map(|columns| same_columns_problem(&self.path, columns))
                .map(|p| p.at(&self.path, header_line.clone()))
                .collect();
            if !self.queued.is_empty() {
                // Which of the columns is meant cannot be known: no row is read.
                self.failed = true;
                return self.queued.pop_front().map(Err);
            }
        }
        let mut record = csv::StringRecord::new();
        match self.reader.read_record(&mut record) {
            Ok(false) => None,
            Ok(true) => {
                let start = self.row_start(record.position());
                let end = (self.reader.position().byte() as usize).max(start);
                Some(Ok(csv_entry(&self.headers, &record, start..end)))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(self.csv_problem(&e)))
            }
        }
    }
}

/// Columns that name the same field, as a person reading the sheet sees them: the spaces around
/// a name are not part of it (they are trimmed when read) and neither is case (`Email` beside
/// `email`). Each group is its columns' 1-based numbers and names, in order; empty names are no
/// field and are left out.
fn same_columns(headers: &[String]) -> Vec<Vec<(usize, &str)>> {
    let mut groups: Vec<(String, Vec<(usize, &str)>)> = Vec::new();
    for (i, header) in headers.iter().enumerate().filter(|(_, h)| !h.is_empty()) {
        let key = header.to_lowercase();
        let column = (i + 1, header.as_str());
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, columns)) => columns.push(column),
            None => groups.push((key, vec![column])),
        }
    }
    groups
        .into_iter()
        .map(|(_, columns)| columns)
        .filter(|columns| columns.len() > 1)
        .collect()
}

/// "column `email` appears twice (columns 4 and 5)".
fn same_columns_problem(path: &Path, columns: &[(usize, &str)]) -> Problem {
    let in_prose = |items: Vec<String>| match items.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    };
    let name = columns.first().map_or("", |c| c.1);
    let message = if columns.iter().all(|c| c.1 == name) {
        let times = match columns.len() {
            2 => "twice".to_string(),
            n => format!("{n} times"),
        };
        let numbers = in_prose(columns.iter().map(|c| c.0.to_string()).collect());
        format!("column `{name}` appears {times} (columns {numbers})")
    } else {
        let names = in_prose(
            columns
                .iter()
                .map(|c| format!("`{}` ({})", c.1, c.0))
                .collect(),
        );
        format!("columns {names} differ only in case")
    };
    Problem::error(format!("{}: {message}", file_name(path)))
        .label("in this header row")
        .hint("each column names one field, so only one of these could be read: delete or rename the others in the sheet (names are read as written, in their case)")
}

fn csv_entry(
    headers: &[String],
    record: &csv::StringRecord,
    span: std::ops::Range<usize>,
) -> RawRecipient {
    let row_span = span.start..span.end.saturating_sub(1).max(span.start);
    let mut fields = Vec::new();
    let mut letter = serde_json::Map::new();
    for (header, cell) in headers.iter().zip(record.iter()) {
        if cell.trim().is_empty() || header.is_empty() {
            continue;
        }
        let value = if cell.contains('\n') {
            Value::Array(
                cell.lines()
                    .map(|l| Value::String(l.trim_end_matches('\r').to_string()))
                    .collect(),
            )
        } else {
            Value::String(cell.to_string())
        };
        match header.strip_prefix("letter.") {
            Some(slot) => {
                letter.insert(slot.to_string(), value);
            }
            None => fields.push(RawField {
                key: header.clone(),
                value,
                span: row_span.clone(),
            }),
        }
    }
    if !letter.is_empty() {
        fields.push(RawField {
            key: "letter".into(),
            value: Value::Object(letter),
            span: row_span.clone(),
        });
    }
    RawRecipient {
        span: row_span,
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_multiline_cells_are_lists_and_letter_columns_are_slots() {
        let csv = "id,name,address,cc,letter.subject,note\n\
                   a,Ann,\"1 Road\nTown\",x@example.org;y@example.org,Hello,\n";
        let rows: Vec<_> = CsvRows::new(Path::new("r.csv"), csv.as_bytes()).collect();
        let row = rows[0].as_ref().unwrap();
        let get = |k: &str| {
            row.fields
                .iter()
                .find(|f| f.key == k)
                .map(|f| f.value.clone())
        };
        assert_eq!(
            get("address").unwrap(),
            serde_json::json!(["1 Road", "Town"])
        );
        assert_eq!(
            get("letter").unwrap(),
            serde_json::json!({"subject": "Hello"})
        );
        assert!(get("note").is_none(), "an empty cell is no value");
    }

    #[test]
    fn csv_row_with_missing_cells_is_an_error_with_a_place() {
        let csv = "id,name\na,Ann\nb\n";
        let rows: Vec<_> = CsvRows::new(Path::new("r.csv"), csv.as_bytes()).collect();
        let err = rows[1].as_ref().unwrap_err();
        assert!(err.message.contains("1 cells"), "{}", err.message);
        assert_eq!(err.location.as_ref().unwrap().span.start, 14, "{err:?}");
    }

    #[test]
    fn columns_are_the_same_without_spaces_and_case_and_empty_names_are_none() {
        let headers: Vec<String> = ["id", "", "Email", "name", "", "email", "EMAIL", "Name"]
            .iter()
            .map(|h| h.to_string())
            .collect();
        assert_eq!(
            same_columns(&headers),
            vec![
                vec![(3, "Email"), (6, "email"), (7, "EMAIL")],
                vec![(4, "name"), (8, "Name")]
            ]
        );
        let csv = " id ,name,id\na,Ann,b\n";
        let rows: Vec<_> = CsvRows::new(Path::new("r.csv"), csv.as_bytes()).collect();
        assert_eq!(rows.len(), 1, "no row is read after the header's problem");
        let e = rows[0].as_ref().unwrap_err();
        assert_eq!(
            e.message,
            "r.csv: column `id` appears twice (columns 1 and 3)"
        );
        assert_eq!(
            &csv[e.location.as_ref().unwrap().span.clone()],
            " id ,name,id"
        );
    }

    #[test]
    fn csv_rows_start_on_their_own_line_with_crlf_and_blank_lines() {
        let csv = "id,name\r\na,Ann\r\nb,\"Bo\r\nB\"\r\n\r\nc,Cy\r\nd\r\n";
        let rows: Vec<_> = CsvRows::new(Path::new("r.csv"), csv.as_bytes()).collect();
        let starts: Vec<_> = rows[..3]
            .iter()
            .map(|r| r.as_ref().unwrap().span.start)
            .collect();
        let lines: Vec<_> = starts.iter().map(|&at| &csv[at..at + 2]).collect();
        assert_eq!(lines, ["a,", "b,", "c,"]);
        let err = rows[3].as_ref().unwrap_err();
        assert_eq!(&csv[err.location.as_ref().unwrap().span.start..], "d\r\n");
    }

    fn big_toml(n: usize) -> String {
        let mut text = String::from("# recipients\n");
        for i in 0..n {
            text.push_str(&format!(
                "[[recipient]]\nid = \"r{i}\"\nname = \"N {i}\"\n\n"
            ));
        }
        text
    }

    #[test]
    fn toml_pieces_parse_like_the_whole_file() {
        let text = big_toml(30_000);
        let Ok(pieces) = TomlPieces::new(Path::new("r.toml"), text.clone()) else {
            panic!("big enough to be cut");
        };
        assert!(pieces.cuts.len() > 3);
        let fast: Vec<_> = pieces.map(Result::unwrap).collect();
        let whole = parse_toml(Path::new("r.toml"), &text).unwrap();
        assert_eq!(fast.len(), whole.len());
        let last = fast.last().unwrap();
        let id = last.fields.iter().find(|f| f.key == "id").unwrap();
        assert_eq!(&text[id.span.clone()], "\"r29999\"");
    }

    #[test]
    fn a_cut_inside_a_multiline_string_still_reads_every_entry() {
        let mut text = big_toml(10_000);
        text.push_str("[[recipient]]\nid = \"s\"\nname = \"S\"\nnote = \"\"\"\n");
        text.push_str("[[recipient]]\n");
        text.push_str(&"x".repeat(1 << 19));
        text.push_str("\n\"\"\"\n\n");
        text.push_str(
            &big_toml(10_000)
                .replace("# recipients\n", "")
                .replace("\"r", "\"t"),
        );
        let pieces = TomlPieces::new(Path::new("r.toml"), text.clone())
            .ok()
            .unwrap();
        let read: Vec<_> = pieces.map(Result::unwrap).collect();
        assert_eq!(read.len(), 20_001);
    }

    #[test]
    fn what_is_not_a_list_of_recipients_is_an_error_at_its_line() {
        for (text, says, line) in [
            ("title = \"x\"\n", "unknown key `title`", 1),
            ("recipient = \"x\"\n", "must be a list", 1),
            ("recipient = [1]\n", "must be a table", 1),
            (
                "[[recipient]]\nid = \"a\"\nphone = 99999999999999999999\n",
                "too large",
                3,
            ),
            (
                "[[recipient]]\nid = \"a\"\nphones = [1, 99999999999999999999]\n",
                "too large",
                3,
            ),
        ] {
            let e = parse_toml(Path::new("r.toml"), text).unwrap_err();
            assert!(e.message.contains(says), "{text:?}: {}", e.message);
            assert!(e.message.contains("r.toml"), "{}", e.message);
            let at = e.location.as_ref().expect("a place").span.start;
            assert_eq!(crate::diagnostic::line_of(text, at), line, "{text:?}");
        }
    }

    #[test]
    fn values_read_as_templates_see_them() {
        let text = "[[recipient]]\nid = \"a\"\nn = 0x10\nf = 1.5\nd = 2026-12-10\nok = true\n\
                    list = [\"x\", 2]\n[recipient.letter]\nsubject = \"S\"\n";
        let entry = &parse_toml(Path::new("r.toml"), text).unwrap()[0];
        let get = |k: &str| entry.fields.iter().find(|f| f.key == k).unwrap();
        assert_eq!(get("n").value, serde_json::json!(16));
        assert_eq!(get("f").value, serde_json::json!(1.5));
        assert_eq!(get("d").value, serde_json::json!("2026-12-10"));
        assert_eq!(get("ok").value, serde_json::json!(true));
        assert_eq!(get("list").value, serde_json::json!(["x", 2]));
        assert_eq!(get("letter").value, serde_json::json!({"subject": "S"}));
        assert_eq!(&text[get("d").span.clone()], "2026-12-10");
    }

    #[test]
    fn an_error_in_a_late_piece_points_at_its_line() {
        let mut text = big_toml(20_000);
        text.push_str("[[recipient]]\nid = \"bad\"\nname = \"unterminated\n");
        let pieces = TomlPieces::new(Path::new("r.toml"), text.clone())
            .ok()
            .unwrap();
        let err = pieces.filter_map(Result::err).next().expect("an error");
        let at = err.location.unwrap().span.start;
        assert_eq!(crate::diagnostic::line_of(&text, at), text.lines().count());
    }
}
