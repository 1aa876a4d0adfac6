//! Reading recipients from `recipients.toml` or `recipients.csv`, as raw entries in file order.
//!
//! TOML is parsed in parallel: the file is cut at `[[recipient]]` lines and the pieces parsed on
//! every core; if any piece fails, the whole file is parsed again so errors point at the right
//! place. CSV is read a row at a time, so a campaign of any size fits in little memory.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Deserialize;
use serde_json::Value;
use toml::Spanned;

use super::recipient::{RawField, RawRecipient};
use super::settings::toml_problem;
use super::value::toml_to_json;
use crate::diagnostic::Problem;

/// Raw recipients in file order, or the problem that stopped reading.
pub type RawItem = Result<RawRecipient, Problem>;

/// Opens a recipients file and yields its entries. TOML is read whole; CSV row by row.
pub fn open(path: &Path) -> Result<Box<dyn Iterator<Item = RawItem> + Send>, Problem> {
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if is_csv {
        let file = File::open(path).map_err(|e| cannot_read(path, &e))?;
        Ok(Box::new(CsvRows::new(
            path,
            BufReader::with_capacity(1 << 16, file),
        )))
    } else {
        let text = std::fs::read_to_string(path).map_err(|e| cannot_read(path, &e))?;
        let entries = parse_toml(path, &text)?;
        Ok(Box::new(entries.into_iter().map(Ok)))
    }
}

fn cannot_read(path: &Path, e: &std::io::Error) -> Problem {
    let hint = if e.kind() == std::io::ErrorKind::NotFound {
        "create it (see the README), or set `recipients` in [campaign] of lettermerge.toml"
    } else {
        "check that the file is readable"
    };
    Problem::error(format!("cannot read {}: {e}", path.display())).hint(hint)
}

type TomlEntry = Spanned<BTreeMap<String, Spanned<toml::Value>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlFile {
    #[serde(default)]
    recipient: Vec<TomlEntry>,
}

/// Parses a recipients TOML file into raw entries with spans into `text`.
pub fn parse_toml(path: &Path, text: &str) -> Result<Vec<RawRecipient>, Problem> {
    if let Some(entries) = parse_in_pieces(text) {
        return Ok(entries);
    }
    let file: TomlFile = toml::from_str(text).map_err(|e| {
        let mut p = toml_problem(path, &e);
        if e.message().contains("unknown field") {
            p = p.hint(
                "each recipient starts with a line [[recipient]]; other keys belong inside one",
            );
        }
        p
    })?;
    Ok(file
        .recipient
        .into_iter()
        .map(|e| raw_entry(e, 0, text))
        .collect())
}

/// The fast path: parse pieces cut at `[[recipient]]` lines on every core. `None` when the file
/// cannot be cut safely or a piece fails; the caller then parses the whole file.
fn parse_in_pieces(text: &str) -> Option<Vec<RawRecipient>> {
    const PIECE: usize = 1 << 20;
    if text.len() < 2 * PIECE {
        return None;
    }
    let starts = entry_starts(text);
    let first = *starts.first()?;
    if !text[..first]
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return None;
    }
    let mut cuts = vec![first];
    for &s in &starts {
        if s - cuts.last().copied().unwrap_or(0) >= PIECE {
            cuts.push(s);
        }
    }
    cuts.push(text.len());
    let pieces: Vec<(usize, &str)> = cuts.windows(2).map(|w| (w[0], &text[w[0]..w[1]])).collect();
    let parsed: Option<Vec<Vec<RawRecipient>>> = pieces
        .into_par_iter()
        .map(|(offset, piece)| {
            let file: TomlFile = toml::from_str(piece).ok()?;
            Some(
                file.recipient
                    .into_iter()
                    .map(|e| raw_entry(e, offset, text))
                    .collect(),
            )
        })
        .collect();
    Some(parsed?.into_iter().flatten().collect())
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

fn raw_entry(entry: TomlEntry, offset: usize, text: &str) -> RawRecipient {
    let span = entry.span();
    // The entry's place is its first line: where a person looks for it.
    let start = (span.start + offset).min(text.len());
    let first_line = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let fields = entry
        .into_inner()
        .into_iter()
        .map(|(key, v)| {
            let span = v.span();
            RawField {
                key,
                value: toml_to_json(v.get_ref()),
                span: span.start + offset..span.end + offset,
            }
        })
        .collect();
    RawRecipient {
        span: start..first_line.max(start),
        fields,
    }
}

/// CSV rows as raw recipients: a multi-line cell is a list, `letter.KEY` columns fill the
/// recipient's letter slots, and an empty cell is no value at all.
struct CsvRows<R: std::io::Read> {
    path: PathBuf,
    reader: csv::Reader<R>,
    headers: Vec<String>,
    failed: bool,
}

impl<R: std::io::Read> CsvRows<R> {
    fn new(path: &Path, input: R) -> Self {
        let reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
        CsvRows {
            path: path.to_path_buf(),
            reader,
            headers: Vec::new(),
            failed: false,
        }
    }

    fn csv_problem(&self, e: &csv::Error) -> Problem {
        let at = e.position().map_or(0, |p| p.byte() as usize);
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
            return None;
        }
        if self.headers.is_empty() {
            match self.reader.headers() {
                Ok(h) => self.headers = h.iter().map(|s| s.trim().to_string()).collect(),
                Err(e) => {
                    self.failed = true;
                    return Some(Err(self.csv_problem(&e)));
                }
            }
        }
        let mut record = csv::StringRecord::new();
        match self.reader.read_record(&mut record) {
            Ok(false) => None,
            Ok(true) => {
                let start = record.position().map_or(0, |p| p.byte() as usize);
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
    fn toml_pieces_parse_like_the_whole_file() {
        let mut text = String::from("# recipients\n");
        for i in 0..80_000 {
            text.push_str(&format!(
                "[[recipient]]\nid = \"r{i}\"\nname = \"N {i}\"\n\n"
            ));
        }
        let fast = parse_in_pieces(&text).expect("big enough to cut");
        let whole: TomlFile = toml::from_str(&text).unwrap();
        assert_eq!(fast.len(), whole.recipient.len());
        let last = fast.last().unwrap();
        let id = last.fields.iter().find(|f| f.key == "id").unwrap();
        assert_eq!(&text[id.span.clone()], "\"r79999\"");
    }
}
