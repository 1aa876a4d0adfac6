//! One recipient: parsed from a TOML table or a CSV row, checked once, then trusted.

use std::fmt;
use std::ops::Range;
use std::path::Path;

use chrono_tz::Tz;
use language_tags::LanguageTag;
use lettre::message::Mailbox;
use lettre::Address;
use serde_json::{Map, Value};

use crate::diagnostic::{quote_value, Problem};

/// A recipient's id: `[a-z0-9-]+`, unique in the campaign; it names output files and journal rows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecipientId(String);

impl RecipientId {
    pub fn parse(s: &str) -> Option<RecipientId> {
        is_valid_id(s).then(|| RecipientId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecipientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `s` is a valid id: lowercase ASCII letters, digits and '-', not empty.
pub fn is_valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A BCP 47 language tag, checked against the IANA registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Language(LanguageTag);

impl Language {
    pub fn parse(s: &str) -> Option<Language> {
        // A campaign uses a handful of languages: the last few tags checked on this thread are
        // kept, so each is validated once rather than once per recipient.
        thread_local! {
            static SEEN: std::cell::RefCell<Vec<Language>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        if let Some(seen) = SEEN.with(|seen| seen.borrow().iter().find(|l| l.tag() == s).cloned()) {
            return Some(seen);
        }
        let tag = LanguageTag::parse(s).ok()?;
        tag.validate().ok()?;
        let language = Language(tag);
        if language.tag() == s {
            SEEN.with(|seen| {
                let mut seen = seen.borrow_mut();
                if seen.len() >= 16 {
                    seen.remove(0);
                }
                seen.push(language.clone());
            });
        }
        Some(language)
    }

    pub fn english() -> Language {
        Language(LanguageTag::parse("en").expect("en is a language tag"))
    }

    pub fn tag(&self) -> &str {
        self.0.as_str()
    }

    /// The primary language subtag, lowercase: `zh` for `zh-Hant-TW`.
    pub fn primary(&self) -> String {
        self.0.primary_language().to_ascii_lowercase()
    }
}

/// A recipient's data as read from the file, before it is checked.
#[derive(Debug, Clone)]
pub struct RawRecipient {
    /// Where the whole entry stands in the file.
    pub span: Range<usize>,
    pub fields: Vec<RawField>,
}

#[derive(Debug, Clone)]
pub struct RawField {
    pub key: String,
    pub value: Value,
    pub span: Range<usize>,
}

/// A checked recipient. Once built, the rest of the program trusts it.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub id: RecipientId,
    pub name: String,
    pub email: Option<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub bcc: Vec<Mailbox>,
    pub language: Language,
    pub timezone: Option<Tz>,
    /// `[recipient.letter]`: slots laid over the campaign's `[letter]`.
    pub letter: Map<String, Value>,
    /// Everything templates see as `recipient.<key>`.
    pub fields: Map<String, Value>,
    /// Where this recipient stands in its file.
    pub span: Range<usize>,
    /// Where each field that is not text (a list, a table, a number …) is written, `letter`
    /// included: to point at it should a template print it where text is needed.
    pub places: Vec<(String, Range<usize>)>,
}

/// Keys that the program itself reads; all others are the campaign's own.
pub const KNOWN_KEYS: &[&str] = &[
    "id",
    "name",
    "salutation",
    "title",
    "organization",
    "address",
    "email",
    "cc",
    "bcc",
    "language",
    "timezone",
    "paper",
    "letter",
];

impl Recipient {
    /// Checks a raw recipient; every problem found is pushed, not only the first.
    pub fn from_raw(
        raw: RawRecipient,
        file: &Path,
        problems: &mut Vec<Problem>,
    ) -> Option<Recipient> {
        let before = problems.len();
        let mut check = Checker {
            file,
            problems,
            id: None,
        };
        let id = check.id(&raw);
        check.id = id.as_ref().map(|i| i.to_string());
        let name = check.required_text(&raw, "name");
        let mut fields = Map::new();
        let mut email_address = None;
        let mut cc = Vec::new();
        let mut bcc = Vec::new();
        let mut language = None;
        let mut timezone = None;
        let mut letter = Map::new();
        let mut places = Vec::new();
        for mut field in raw.fields {
            if !field.value.is_string() {
                places.push((field.key.clone(), field.span.clone()));
            }
            let value = match field.key.as_str() {
                "id" | "name" | "salutation" | "title" | "organization" => {
                    check.text(&mut field).map(Value::String)
                }
                "address" => check
                    .lines(&mut field)
                    .map(|lines| Value::Array(lines.into_iter().map(Value::String).collect())),
                "email" => check.text(&mut field).and_then(|s| {
                    email_address = check.address(&field, &s);
                    email_address.as_ref().map(|_| Value::String(s))
                }),
                "cc" | "bcc" => check.addresses(&field).map(|list| {
                    let values = list.iter().map(|a| Value::String(a.to_string())).collect();
                    let boxes = list.into_iter().map(|a| Mailbox::new(None, a));
                    if field.key == "cc" {
                        cc.extend(boxes);
                    } else {
                        bcc.extend(boxes);
                    }
                    Value::Array(values)
                }),
                "language" => check.text(&mut field).and_then(|s| {
                    language = check.language(&field, &s);
                    language
                        .as_ref()
                        .map(|l| Value::String(l.tag().to_string()))
                }),
                "timezone" => check.text(&mut field).and_then(|s| {
                    timezone = check.timezone(&field, &s);
                    timezone.map(|_| Value::String(s))
                }),
                "paper" => check.text(&mut field).and_then(|s| {
                    if super::settings::Paper::parse(&s).is_some() {
                        return Some(Value::String(s));
                    }
                    check.push(
                        Problem::error(format!("{} is not a paper size", quote_value(&s)))
                            .at(check.file, field.span.clone())
                            .label("unknown paper")
                            .hint("write paper = \"a4\" or paper = \"us-letter\", or remove it to use [pdf] paper"),
                    );
                    None
                }),
                "letter" => {
                    match field.value {
                        Value::Object(map) => letter = map,
                        _ => check.push(
                            Problem::error("`letter` must be a table of letter slots")
                                .at(check.file, field.span.clone())
                                .hint("write it as [recipient.letter] below the recipient, e.g. subject = \"…\""),
                        ),
                    }
                    continue;
                }
                _ => Some(field.value),
            };
            if let Some(value) = value {
                fields.insert(field.key, value);
            }
        }
        if problems.len() > before {
            return None;
        }
        let name = name?;
        Some(Recipient {
            id: id?,
            email: email_address.map(|a| mailbox(Some(&name), a)),
            // The addressee is shown outside the letter too (a page's title, the preview).
            name: crate::controls::replace(&name).into_owned(),
            cc,
            bcc,
            language: language.unwrap_or_else(Language::english),
            timezone,
            letter,
            fields,
            span: raw.span,
            places,
        })
    }

    /// A recipient the email would go to: print-only recipients have none.
    pub fn has_email(&self) -> bool {
        self.email.is_some()
    }
}

/// Text fit for a mail header, on one line: line breaks and tabs (CR, LF, CR LF, VT, FF, NEL,
/// U+2028, U+2029) become spaces, every other control character and bidirectional override
/// U+FFFD, as in the letter's text ([`crate::controls`]).
pub fn header_safe(s: &str) -> String {
    let breaks = |c: char| {
        matches!(
            c,
            '\t' | '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{85}' | '\u{2028}' | '\u{2029}'
        )
    };
    if !s
        .chars()
        .any(|c| breaks(c) || crate::controls::is_control(c))
    {
        return s.trim().to_string();
    }
    s.replace("\r\n", " ")
        .chars()
        .map(|c| match c {
            c if breaks(c) => ' ',
            c if crate::controls::is_control(c) => crate::controls::REPLACEMENT,
            c => c,
        })
        .collect::<String>()
        .trim()
        .to_string()
}

/// A mailbox for a header: the name, if any, made [`header_safe`] (lettre cannot write a name
/// with a line break, and would panic trying). Every named mailbox is made here.
pub fn mailbox(name: Option<&str>, address: Address) -> Mailbox {
    let name = name.map(header_safe).filter(|n| !n.is_empty());
    Mailbox::new(name, address)
}

struct Checker<'a> {
    file: &'a Path,
    problems: &'a mut Vec<Problem>,
    id: Option<String>,
}

impl Checker<'_> {
    fn push(&mut self, mut problem: Problem) {
        if let Some(id) = &self.id {
            problem = problem.recipient(id.clone());
        }
        self.problems.push(problem);
    }

    fn id(&mut self, raw: &RawRecipient) -> Option<RecipientId> {
        let Some(field) = raw.fields.iter().find(|f| f.key == "id") else {
            self.push(
                Problem::error("a recipient has no `id`")
                    .at(self.file, raw.span.clone())
                    .label("this recipient")
                    .hint("add e.g. id = \"cn-embassy-norway\": lowercase letters, digits and '-'; it names the output files"),
            );
            return None;
        };
        let text = field.value.as_str().unwrap_or_default();
        let id = RecipientId::parse(text);
        if id.is_none() {
            let suggestion: String = text
                .to_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            let suggestion = suggestion.trim_matches('-');
            let hint = match suggestion.len() {
                0..=200 => format!("write e.g. id = \"{suggestion}\""),
                _ => {
                    "write a shorter id: at most 200 characters, lowercase letters, digits and '-'"
                        .into()
                }
            };
            let shown = match field.value.as_str() {
                Some(text) => quote_value(text).to_string(),
                None => field.value.to_string(),
            };
            self.push(
                Problem::error(format!("recipient id {shown} is not valid"))
                    .at(self.file, field.span.clone())
                    .label("ids use only a-z, 0-9 and '-'")
                    .hint(hint),
            );
        }
        id
    }

    fn required_text(&mut self, raw: &RawRecipient, key: &str) -> Option<String> {
        match raw.fields.iter().find(|f| f.key == key) {
            Some(f) => f.value.as_str().map(str::to_string),
            None => {
                self.push(
                    Problem::error(format!("recipient has no `{key}`"))
                        .at(self.file, raw.span.clone())
                        .label(format!("`{key}` missing here"))
                        .hint(format!("add {key} = \"…\" to this recipient")),
                );
                None
            }
        }
    }

    /// The field's text, taken out of it.
    fn text(&mut self, field: &mut RawField) -> Option<String> {
        match &mut field.value {
            Value::String(s) => Some(std::mem::take(s)),
            other => {
                self.push(
                    Problem::error(format!("`{}` must be text", field.key))
                        .at(self.file, field.span.clone())
                        .label(format!("found {}", kind(other)))
                        .hint(format!("put the value in quotes: {} = \"…\"", field.key)),
                );
                None
            }
        }
    }

    /// The field's lines, taken out of it.
    fn lines(&mut self, field: &mut RawField) -> Option<Vec<String>> {
        match &mut field.value {
            Value::String(s) => Some(s.lines().map(str::to_string).collect()),
            Value::Array(items) if items.iter().all(Value::is_string) => Some(
                items
                    .iter_mut()
                    .filter_map(|v| match v {
                        Value::String(s) => Some(std::mem::take(s)),
                        _ => None,
                    })
                    .collect(),
            ),
            other => {
                self.push(
                    Problem::error(format!("`{}` must be a list of lines", field.key))
                        .at(self.file, field.span.clone())
                        .label(format!("found {}", kind(other)))
                        .hint(format!(
                            "write {} = [\"first line\", \"second line\"]",
                            field.key
                        )),
                );
                None
            }
        }
    }

    fn address(&mut self, field: &RawField, text: &str) -> Option<Address> {
        match text.trim().parse::<Address>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.push(
                    Problem::error(format!("{} is not a valid email address", quote_value(text)))
                        .at(self.file, field.span.clone())
                        .label("not an email address")
                        .hint(format!(
                            "write one address like name@example.org in `{}`, or remove it to make this recipient print-only",
                            field.key
                        )),
                );
                None
            }
        }
    }

    fn addresses(&mut self, field: &RawField) -> Option<Vec<Address>> {
        let items: Vec<String> = match &field.value {
            Value::String(s) => s.split(';').map(str::to_string).collect(),
            Value::Array(items) if items.iter().all(Value::is_string) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            other => {
                self.push(
                    Problem::error(format!("`{}` must be a list of email addresses", field.key))
                        .at(self.file, field.span.clone())
                        .label(format!("found {}", kind(other)))
                        .hint(format!(
                            "write {} = [\"a@example.org\", \"b@example.org\"]",
                            field.key
                        )),
                );
                return None;
            }
        };
        let mut out = Vec::new();
        let mut ok = true;
        for item in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            match self.address(field, item) {
                Some(a) => out.push(a),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn language(&mut self, field: &RawField, text: &str) -> Option<Language> {
        let lang = Language::parse(text.trim());
        if lang.is_none() {
            self.push(
                Problem::error(format!("{} is not a language tag", quote_value(text)))
                    .at(self.file, field.span.clone())
                    .label("not a BCP 47 language tag")
                    .hint("use a tag such as \"en\", \"fr\", \"ko\", \"zh\" or \"zh-Hant\""),
            );
        }
        lang
    }

    fn timezone(&mut self, field: &RawField, text: &str) -> Option<Tz> {
        match text.trim().parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                let hint = match suggest_timezone(text) {
                    Some(s) => format!("did you mean \"{s}\"? Time zones are IANA names"),
                    None => "use an IANA time zone name such as \"Europe/Oslo\" or \"Asia/Seoul\""
                        .into(),
                };
                self.push(
                    Problem::error(format!("{} is not a time zone", quote_value(text)))
                        .at(self.file, field.span.clone())
                        .label("unknown time zone")
                        .hint(hint),
                );
                None
            }
        }
    }
}

/// The IANA zone closest to a misspelt one, if one is close.
pub(crate) fn suggest_timezone(text: &str) -> Option<&'static str> {
    let wanted = text.trim().to_ascii_lowercase();
    chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| tz.name())
        .filter_map(|name| Some((edit_distance(&wanted, &name.to_ascii_lowercase(), 3)?, name)))
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name)
}

/// The Levenshtein distance of `a` and `b` when it is at most `limit`, for "did you mean" hints.
///
/// Only the cells within `limit` of the diagonal are computed, and texts whose lengths differ by
/// more than `limit` are not compared at all: a name of absurd length from a file costs next to
/// nothing against the short names it is compared with.
pub fn edit_distance(a: &str, b: &str, limit: usize) -> Option<usize> {
    // A character is 1 to 4 bytes: lengths this far apart in bytes are further apart than
    // `limit` in characters, which is known without counting them.
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() / 4 > short.len() + limit {
        return None;
    }
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    let far = limit + 1;
    let mut prev: Vec<usize> = (0..=b.len()).map(|j| j.min(far)).collect();
    let mut cur = vec![far; b.len() + 1];
    for (i, ca) in a.iter().enumerate().map(|(i, c)| (i + 1, c)) {
        let low = i.saturating_sub(limit).max(1);
        let high = (i + limit).min(b.len());
        cur[0] = i.min(far);
        if low > 1 {
            cur[low - 1] = far;
        }
        for j in low..=high {
            let cost = usize::from(*ca != b[j - 1]);
            cur[j] = (prev[j - 1] + cost)
                .min(prev[j] + 1)
                .min(cur[j - 1] + 1)
                .min(far);
        }
        if high < b.len() {
            cur[high + 1] = far;
        }
        if cur[low - 1..=high].iter().all(|&d| d >= far) {
            return None;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let d = prev[b.len()];
    (d <= limit).then_some(d)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(fields: &[(&str, Value)]) -> RawRecipient {
        RawRecipient {
            span: 0..0,
            fields: fields
                .iter()
                .map(|(k, v)| RawField {
                    key: k.to_string(),
                    value: v.clone(),
                    span: 0..0,
                })
                .collect(),
        }
    }

    #[test]
    fn ids_are_lowercase_slugs() {
        assert!(is_valid_id("cn-embassy-norway"));
        assert!(!is_valid_id("CN"));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id(""));
    }

    #[test]
    fn every_problem_of_a_recipient_is_reported() {
        let mut problems = Vec::new();
        let r = raw(&[
            ("id", "x".into()),
            ("email", "not-an-email".into()),
            ("timezone", "Europe/Olso".into()),
            ("language", "english please".into()),
        ]);
        assert!(Recipient::from_raw(r, Path::new("r.toml"), &mut problems).is_none());
        let messages: Vec<_> = problems.iter().map(|p| p.message.clone()).collect();
        assert_eq!(problems.len(), 4, "{messages:?}");
        assert!(problems.iter().all(|p| p.recipient.as_deref() == Some("x")));
        assert!(problems
            .iter()
            .any(|p| p.hint.as_deref().unwrap_or("").contains("Europe/Oslo")));
    }

    #[test]
    fn cc_splits_on_semicolons() {
        let mut problems = Vec::new();
        let r = raw(&[
            ("id", "x".into()),
            ("name", "X".into()),
            ("cc", "a@example.org; b@example.org".into()),
        ]);
        let r = Recipient::from_raw(r, Path::new("r.csv"), &mut problems).unwrap();
        assert_eq!(r.cc.len(), 2);
        assert_eq!(r.language.tag(), "en");
    }

    /// Levenshtein distance, every cell computed: what the banded one must agree with.
    fn naive_distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                let cost = usize::from(ca != *cb);
                cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
            }
            prev = cur;
        }
        prev[b.len()]
    }

    #[test]
    fn bounded_edit_distance_agrees_with_the_naive_one() {
        // Every text of up to 4 characters from a 3-letter alphabet, against each other.
        let mut texts = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = texts
                .iter()
                .filter(|t| t.chars().count() == texts.last().map_or(0, |l| l.chars().count()))
                .flat_map(|t| ["a", "b", "é"].map(|c| format!("{t}{c}")))
                .collect();
            texts.extend(longer);
        }
        assert_eq!(texts.len(), 1 + 3 + 9 + 27 + 81);
        for a in &texts {
            for b in &texts {
                let d = naive_distance(a, b);
                for limit in 0..=3 {
                    let expected = (d <= limit).then_some(d);
                    assert_eq!(edit_distance(a, b, limit), expected, "{a:?} {b:?} {limit}");
                }
            }
        }
    }

    #[test]
    fn edit_distance_of_an_absurd_name_is_quick() {
        let long = "a".repeat(1 << 20);
        let started = std::time::Instant::now();
        assert_eq!(edit_distance(&long, "address", 2), None);
        assert_eq!(edit_distance(&long, &long, 2), Some(0));
        assert_eq!(edit_distance(&long, &format!("{long}bb"), 2), Some(2));
        assert_eq!(suggest_timezone(&long), None);
        assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    }

    #[test]
    fn header_safe_removes_line_breaks() {
        assert_eq!(header_safe("A\r\nBcc: x@y"), "A Bcc: x@y");
        assert_eq!(header_safe(" A\rB\u{85}C\u{2028}D\tE\n"), "A B C D E");
    }

    #[test]
    fn header_safe_replaces_controls_as_letters_do() {
        assert_eq!(
            header_safe("A\u{1b}]0;x\u{7}\0\u{7f}\u{9b}\u{202e}\u{2069}B"),
            "A\u{FFFD}]0;x\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}B"
        );
    }

    #[test]
    fn a_mailbox_is_written_whatever_its_name_holds() {
        use lettre::message::header::{From, Headers};
        let address: Address = "ada@example.org".parse().unwrap();
        for c in (0..=0x9f_u32)
            .filter_map(char::from_u32)
            .filter(|c| c.is_control())
            .chain(['\u{2028}', '\u{2029}'])
        {
            let named = mailbox(Some(&format!("Ada{c}Bcc: x@y")), address.clone());
            let name = named.name.clone().unwrap_or_default();
            assert!(
                name == "Ada Bcc: x@y" || name == "Ada\u{FFFD}Bcc: x@y",
                "{c:?}: {name:?}"
            );
            let mut headers = Headers::new();
            headers.set(From::from(lettre::message::Mailboxes::from(named)));
            let raw = headers.get_raw("From").unwrap_or_default();
            assert!(!raw.contains(c) || c == '\r' || c == '\n', "{c:?}: {raw}");
        }
        let unnamed = mailbox(Some(" \r\n "), address);
        assert_eq!(
            unnamed.name, None,
            "a name of nothing but breaks is no name"
        );
    }
}
