//! The header fields that carry people's words (Subject, the names in From, To and Cc),
//! encoded and folded here rather than by lettre.
//!
//! lettre folds only at spaces: a long unbroken Subject word or display name stayed one line of
//! over 998 octets, which RFC 5322 (2.1.1) forbids; it never folds between the mailboxes of a
//! long Cc; and it cuts encoded-words (RFC 2047) between any two characters, leaving half an
//! emoji ZWJ sequence or an Arabic letter without its marks in each.
//!
//! Here a value is cut into words and gaps of spaces. A word of printable ASCII that fits on a
//! line is written as it is; any other word, and the spaces between two such words, go into
//! encoded-words, which are cut only between grapheme clusters (UAX #29). Lines are folded
//! before they pass [`FOLD`] octets; only a word that cannot be broken (an email address) makes
//! one longer. A subject lettre wrote within these limits comes out byte for byte the same. A
//! display name of printable ASCII is one quoted string, where lettre encoded any name with an
//! apostrophe and cut it mid-word between encoded-words ("Republ" "ic"), which Python 3.11 and
//! other readers show with a space (CPython gh-128110).

use base64::Engine;
use lettre::message::Mailbox;
use unicode_segmentation::UnicodeSegmentation;

/// Lines are folded before they pass this many octets, as lettre does (RFC 5322 asks for 78).
pub const FOLD: usize = 76;
/// No line of a message may be longer (RFC 5322 2.1.1), CRLF not counted.
pub const LIMIT: usize = 998;
/// A display name with more spaces in a row than this is not quoted: folded, it could make a
/// line of nothing but spaces, which RFC 5322 forbids.
const MAX_GAP: usize = 8;
/// The longest word of a display name written in quotes; a longer one is encoded, so that it
/// can be cut.
const QUOTED_WORD: usize = 60;
const OPEN: &str = "=?utf-8?b?";
const CLOSE: &str = "?=";
/// The most octets of text in one encoded-word: 45 are 60 of base64, and the word with its
/// frame is 72 octets, within RFC 2047's 75.
const WORD_TEXT: usize = 45;

/// A header value as it goes after `Name: `: ASCII, folded with CRLF and a space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub value: String,
    /// A grapheme cluster too long for one encoded-word (dozens of combining marks) had to be
    /// cut between its characters: still valid, and decoded back whole, but a reader that shows
    /// each encoded-word apart may show it broken.
    pub cut_cluster: bool,
}

impl Encoded {
    /// The longest line of `Name: value`, in octets.
    pub fn longest_line(&self, name: &str) -> usize {
        let mut lines = self.value.split("\r\n");
        let first = lines.next().map_or(0, str::len) + name.len() + 2;
        lines.map(str::len).fold(first, usize::max)
    }
}

/// An unstructured value (RFC 5322 3.2.5): Subject, Comments, an `X-` header of text.
pub fn unstructured(name: &str, value: &str) -> Encoded {
    let mut w = Writer::new(name);
    let tokens = tokens(value, |word, before| {
        let fits = match before {
            0 => name.len() + 2 + word.len() <= FOLD,
            gap => gap + word.len() <= FOLD,
        };
        fits && printable(word)
    });
    w.tokens(&tokens);
    w.finish()
}

/// A list of mailboxes (From, To, Cc): display names as phrases (RFC 5322 3.2.5), each address
/// whole, folded between them.
pub fn mailboxes<'a>(name: &str, list: impl IntoIterator<Item = &'a Mailbox>) -> Encoded {
    let mut w = Writer::new(name);
    for (i, mailbox) in list.into_iter().enumerate() {
        if i > 0 {
            w.put(",");
            w.spaces = 1;
        }
        match mailbox.name.as_deref().filter(|n| !n.is_empty()) {
            Some(display) => {
                phrase(&mut w, display);
                w.spaces = 1;
                w.word(&format!("<{}>", mailbox.email));
            }
            None => w.word(mailbox.email.as_ref()),
        }
    }
    w.finish()
}

/// A display name (a phrase, RFC 5322 3.2.5). Printable ASCII is one quoted string, as lettre
/// writes it (or a bare word), folded before its gaps. Anything else is atoms and encoded-words
/// with one space between them: readers disagree on an encoded-word beside a quoted string
/// (mail-parser drops the space after it) and on a phrase's runs of spaces, so a word that
/// would need quotes is encoded, and so is any gap of more than one space.
fn phrase(w: &mut Writer, display: &str) {
    let words_fit = display
        .split(' ')
        .all(|word| escaped(word).len() <= QUOTED_WORD);
    let gaps_fit = !display.contains(&" ".repeat(MAX_GAP + 1));
    if display.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) && words_fit && gaps_fit {
        return quoted(w, display);
    }
    let tokens = tokens(display, |word, _| {
        word.len() <= QUOTED_WORD
            && !word.contains("=?")
            && word
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || ATEXT.contains(&b))
    });
    w.tokens(&tokens);
}

/// The characters of an atom (RFC 5322 3.2.3) besides letters and digits. Not `.`: a phrase
/// with one is obsolete syntax, which Python's parser flags as a defect.
const ATEXT: &[u8] = b"!#$%&'*+-/=?^_`{|}~";

/// Printable ASCII in quotes (bare when it is one word of letters, digits, `-` and `_`),
/// folded before a gap: unfolding gives back every space.
fn quoted(w: &mut Writer, text: &str) {
    if text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
    {
        return w.word(text);
    }
    let mut gap = 0;
    for (i, piece) in format!("\"{}\"", escaped(text)).split(' ').enumerate() {
        gap += usize::from(i > 0);
        if !piece.is_empty() {
            w.spaces += std::mem::take(&mut gap);
            w.word(piece);
        }
    }
}

fn escaped(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Text that can stand in a header as it is: printable ASCII, nothing a reader would take for
/// the start of an encoded-word.
fn printable(word: &str) -> bool {
    word.bytes().all(|b| b.is_ascii_graphic()) && !word.contains("=?")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    /// A word without spaces, and whether it is written as it is.
    Word(&'a str, bool),
    /// So many spaces.
    Gap(usize),
}

/// `value` as words and gaps. `plain(word, gap)` says whether a word may be written as it is,
/// with the gap before it (0 for the first); a word beside a gap that must be encoded (at either end of the value, or too long) is
/// encoded too, so that such a gap always sits inside an encoded run.
fn tokens<'a>(value: &'a str, plain: impl Fn(&str, usize) -> bool) -> Vec<Token<'a>> {
    // A space is a gap only as a cluster of its own: one followed by a combining mark is part
    // of the word it begins.
    let mut tokens = Vec::new();
    let mut start = None;
    for (at, cluster) in value.grapheme_indices(true) {
        if cluster != " " {
            start.get_or_insert(at);
            continue;
        }
        if let Some(from) = start.take() {
            tokens.push(Token::Word(&value[from..at], false));
        }
        match tokens.last_mut() {
            Some(Token::Gap(n)) => *n += 1,
            _ => tokens.push(Token::Gap(1)),
        }
    }
    if let Some(from) = start {
        tokens.push(Token::Word(&value[from..], false));
    }
    for i in 0..tokens.len() {
        if let Token::Word(text, _) = tokens[i] {
            let before = match i.checked_sub(1).map(|j| tokens[j]) {
                Some(Token::Gap(n)) => n,
                _ => 0,
            };
            tokens[i] = Token::Word(text, plain(text, before));
        }
    }
    let last = tokens.len().saturating_sub(1);
    let encoded_gap = |i: usize| match tokens.get(i) {
        Some(Token::Gap(n)) => i == 0 || i == last || *n > 1,
        _ => false,
    };
    let forced: Vec<bool> = (0..tokens.len())
        .map(|i| encoded_gap(i.wrapping_sub(1)) || encoded_gap(i + 1))
        .collect();
    for (token, forced) in tokens.iter_mut().zip(forced) {
        if let Token::Word(_, plain) = token {
            *plain &= !forced;
        }
    }
    tokens
}

/// Whether the gap at `i` lies inside an encoded run: no word written as it is on either side.
fn inside(tokens: &[Token], i: usize) -> bool {
    let encoded = |t: Option<&Token>| !matches!(t, Some(Token::Word(_, true)));
    encoded(i.checked_sub(1).and_then(|j| tokens.get(j))) && encoded(tokens.get(i + 1))
}

/// Writes a header value line by line, as lettre's `EmailWriter` does.
struct Writer {
    out: String,
    /// Octets on the line being written (the first starts with `Name: `).
    line: usize,
    /// Spaces owed before the next word: written then, or a fold goes before them.
    spaces: usize,
    /// Whether a word is on this line yet: a fold needs one before it.
    worded: bool,
    cut_cluster: bool,
}

impl Writer {
    fn new(name: &str) -> Writer {
        Writer {
            out: String::new(),
            line: name.len() + 2,
            spaces: 0,
            worded: false,
            cut_cluster: false,
        }
    }

    /// Writes words as they are and runs of other words, with the spaces between them, as
    /// encoded-words.
    fn tokens(&mut self, tokens: &[Token]) {
        let mut run = String::new();
        for (i, token) in tokens.iter().enumerate() {
            match token {
                Token::Word(text, true) => {
                    self.encoded(&std::mem::take(&mut run));
                    self.word(text);
                }
                Token::Word(text, false) => run.push_str(text),
                Token::Gap(n) if inside(tokens, i) => run.extend(std::iter::repeat_n(' ', *n)),
                Token::Gap(n) => {
                    self.encoded(&std::mem::take(&mut run));
                    self.spaces += n;
                }
            }
        }
        self.encoded(&run);
    }

    /// Writes `text`, which cannot be cut, on a new line when it would pass [`FOLD`] here.
    fn word(&mut self, text: &str) {
        if self.worded && self.spaces > 0 && self.line + self.spaces + text.len() > FOLD {
            self.fold();
        }
        self.put(text);
    }

    /// Writes the owed spaces and `text` on this line.
    fn put(&mut self, text: &str) {
        self.out.extend(std::iter::repeat_n(' ', self.spaces));
        self.out.push_str(text);
        self.line += self.spaces + text.len();
        self.spaces = 0;
        self.worded = true;
    }

    /// Ends the line; the owed spaces begin the next (at least one: a fold is CRLF before a
    /// space, and between two encoded-words a reader ignores it).
    fn fold(&mut self) {
        self.out.push_str("\r\n");
        self.line = 0;
        self.spaces = self.spaces.max(1);
        self.worded = false;
    }

    /// Writes `text` as encoded-words, as many whole grapheme clusters in each as the line
    /// has room for, a new line for each when this one is full.
    fn encoded(&mut self, text: &str) {
        let mut rest = text;
        while !rest.is_empty() {
            // lettre's measure, which leaves room for one owed space.
            let room = (FOLD.saturating_sub(self.line + OPEN.len() + CLOSE.len() + 2) / 4 * 3)
                .min(WORD_TEXT);
            let mut take = whole_clusters(rest, room);
            if take == 0 {
                let first = rest.graphemes(true).next().map_or(0, str::len);
                // A new line has room for any cluster an encoded-word can hold.
                if first <= WORD_TEXT && self.line > 0 {
                    self.fold();
                    continue;
                }
                // One cluster longer than any encoded-word: cut between its characters.
                take = whole_chars(rest, room.max(4));
                self.cut_cluster = true;
            }
            let mut word = String::with_capacity(OPEN.len() + take / 3 * 4 + 6);
            word.push_str(OPEN);
            base64::engine::general_purpose::STANDARD.encode_string(&rest[..take], &mut word);
            word.push_str(CLOSE);
            self.put(&word);
            rest = &rest[take..];
        }
    }

    /// The value; trailing spaces are owed to nothing and dropped (none are left: a gap at
    /// the end of a value is encoded).
    fn finish(self) -> Encoded {
        Encoded {
            value: self.out,
            cut_cluster: self.cut_cluster,
        }
    }
}

/// The length of the longest run of whole grapheme clusters at the start of `text` within
/// `room` octets.
fn whole_clusters(text: &str, room: usize) -> usize {
    let mut end = 0;
    for (at, cluster) in text.grapheme_indices(true) {
        if at + cluster.len() > room {
            break;
        }
        end = at + cluster.len();
    }
    end
}

/// The length of the longest run of whole characters at the start of `text` within `room`
/// octets, and at least one.
fn whole_chars(text: &str, room: usize) -> usize {
    let mut end = text.chars().next().map_or(0, char::len_utf8);
    for (at, c) in text.char_indices() {
        if at + c.len_utf8() > room {
            break;
        }
        end = at + c.len_utf8();
    }
    end
}

#[cfg(test)]
mod tests {
    use lettre::message::header::{self, Headers};
    use lettre::message::Mailboxes;
    use mail_parser::MessageParser;
    use proptest::prelude::*;

    use super::*;
    use crate::campaign::recipient::header_safe;

    const FAMILY: &str = "👨\u{200d}👩\u{200d}👧\u{200d}👦";
    const FLAG: &str = "🇰🇷";
    /// "Peace be upon you", with its vowel marks: letters and marks are one cluster each.
    const ARABIC: &str = "السَّلَامُ عَلَيْكُمْ";
    const KOREAN: &str = "중화인민공화국의 탈북민 강제송환에 관하여";
    const CHINESE: &str = "关于中华人民共和国强制遣返朝鲜难民的问题";

    fn subject_line(value: &str) -> String {
        format!("Subject: {}\r\n", unstructured("Subject", value).value)
    }

    fn lettre_subject_line(value: &str) -> String {
        let mut headers = Headers::new();
        headers.set(header::Subject::from(value.to_string()));
        headers.to_string()
    }

    /// The subject a reader gets back from `Subject: …`.
    fn decoded_subject(value: &str) -> String {
        let message = format!("{}\r\nhi\r\n", subject_line(value));
        let parsed = MessageParser::default()
            .parse(message.as_bytes())
            .expect("a message");
        parsed.subject().unwrap_or_default().to_string()
    }

    fn to_line(list: &[Mailbox]) -> String {
        format!("To: {}\r\n", mailboxes("To", list).value)
    }

    /// The display names and addresses a reader gets back from `To: …`.
    fn decoded_to(list: &[Mailbox]) -> Vec<(Option<String>, String)> {
        let message = format!("{}\r\nhi\r\n", to_line(list));
        let parsed = MessageParser::default()
            .parse(message.as_bytes())
            .expect("a message");
        let to = parsed.to().expect("a To header");
        to.iter()
            .map(|a| {
                (
                    a.name().map(str::to_string),
                    a.address().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    fn mailbox(name: &str, addr: &str) -> Mailbox {
        Mailbox::new(Some(name.to_string()), addr.parse().expect("an address"))
    }

    /// Every line of a header block: ASCII, within `limit` octets, continued with a space.
    fn assert_lines(header: &str, limit: usize) {
        assert!(header.is_ascii(), "{header}");
        for (i, line) in header.trim_end_matches("\r\n").split("\r\n").enumerate() {
            assert!(
                line.len() <= limit,
                "{} octets: {line}\n{header}",
                line.len()
            );
            assert!(i == 0 || line.starts_with(' '), "{header}");
            assert!(!line.trim().is_empty(), "a line of only spaces\n{header}");
        }
    }

    /// The text of each encoded-word in `header`.
    fn encoded_words(header: &str) -> Vec<String> {
        header
            .split(OPEN)
            .skip(1)
            .map(|rest| {
                let b64 = rest.split(CLOSE).next().unwrap_or_default();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .expect("base64");
                String::from_utf8(bytes).expect("whole characters")
            })
            .collect()
    }

    /// Whether `part` of `whole` begins and ends between grapheme clusters of `whole`.
    fn whole_clusters_of(whole: &str, parts: &[String]) -> bool {
        let bounds: Vec<usize> = whole
            .grapheme_indices(true)
            .map(|(at, _)| at)
            .chain([whole.len()])
            .collect();
        let mut at = 0;
        for part in parts {
            let Some(found) = whole[at..].find(part.as_str()) else {
                return false;
            };
            let (start, end) = (at + found, at + found + part.len());
            if !bounds.contains(&start) || !bounds.contains(&end) {
                return false;
            }
            at = end;
        }
        true
    }

    #[test]
    fn short_subjects_come_out_as_lettre_writes_them() {
        for subject in [
            "Free the prisoners",
            "The forced repatriation of North Korean refugees by the People's Republic of China",
            "Le rapatriement forcé de réfugiés nord-coréens par la République populaire de Chine",
            "Joint letter to the Speaker of the House of Representatives of Japan: China's forced return of North Korean refugees, in breach of international human rights law",
            "세계 인권의 날 공개서한: 탈북민 강제북송을 중단해 주십시오",
            "国际人权日公开信：请停止强制遣返朝鲜难民",
            "Grüße aus Köln",
        ] {
            assert_eq!(subject_line(subject), lettre_subject_line(subject));
        }
    }

    #[test]
    fn a_long_unbroken_ascii_subject_is_folded_in_encoded_words() {
        let subject = "A".repeat(1100);
        assert!(lettre_subject_line(&subject).len() > LIMIT, "lettre's line");
        let line = subject_line(&subject);
        assert_lines(&line, 78);
        assert_eq!(decoded_subject(&subject), subject);
    }

    #[test]
    fn a_long_word_among_short_ones_is_encoded_and_the_rest_stays_plain() {
        let url = format!("https://example.org/{}", "x".repeat(200));
        let subject = format!("Read {url} today");
        let line = subject_line(&subject);
        assert_lines(&line, 78);
        assert!(line.starts_with("Subject: Read =?utf-8?b?"), "{line}");
        assert!(line.ends_with("?= today\r\n"), "{line}");
        assert_eq!(decoded_subject(&subject), subject);
    }

    #[test]
    fn encoded_words_never_split_a_grapheme_cluster() {
        for subject in [
            FAMILY.repeat(40),
            FLAG.repeat(60),
            ARABIC.repeat(12),
            format!("{ARABIC} {KOREAN} {CHINESE} {FAMILY} {FLAG}").repeat(4),
            KOREAN.repeat(6),
            CHINESE.repeat(6),
            "e\u{301}".repeat(100),
        ] {
            let line = subject_line(&subject);
            assert_lines(&line, 78);
            let words = encoded_words(&line);
            assert!(words.len() > 1, "{line}");
            assert!(whole_clusters_of(&subject, &words), "{words:?}");
            assert_eq!(decoded_subject(&subject), subject);
            assert!(!unstructured("Subject", &subject).cut_cluster);
        }
        let lettre = lettre_subject_line(&FAMILY.repeat(40));
        assert!(
            !whole_clusters_of(&FAMILY.repeat(40), &encoded_words(&lettre)),
            "lettre splits the family: {lettre}"
        );
    }

    #[test]
    fn a_cluster_longer_than_an_encoded_word_is_cut_between_characters_and_said_so() {
        let zalgo = format!("Z{}", "\u{0336}".repeat(40));
        let subject = format!("{zalgo} is long");
        let encoded = unstructured("Subject", &subject);
        assert!(encoded.cut_cluster);
        assert_lines(&subject_line(&subject), 78);
        assert_eq!(decoded_subject(&subject), subject);
    }

    #[test]
    fn long_runs_of_spaces_are_kept_without_lines_of_spaces() {
        for subject in [
            format!("a{}b", " ".repeat(300)),
            format!("{}{}", "word ".repeat(40), " ".repeat(9))
                .trim()
                .to_string(),
            format!("é{}b", " ".repeat(20)),
            "a  b   c".to_string(),
            "é  a".to_string(),
        ] {
            let line = subject_line(&subject);
            assert_lines(&line, 78);
            assert_eq!(decoded_subject(&subject), subject);
        }
    }

    #[test]
    fn a_value_that_looks_like_an_encoded_word_is_encoded() {
        let subject = "=?utf-8?b?SGk=?= means Hi";
        assert!(subject_line(subject).starts_with("Subject: =?utf-8?b?PT91"));
        assert_eq!(decoded_subject(subject), subject);
    }

    #[test]
    fn short_display_names_come_out_as_lettre_writes_them() {
        for list in [
            vec![mailbox("Ada Advocate", "ada@example.org")],
            vec![mailbox("Solveig", "appeals@example.org")],
            vec![mailbox("中华人民共和国主席", "embassy@example.org")],
            vec![mailbox("Kim \"the\" Lee", "kim@example.org")],
            vec![
                Mailbox::new(None, "a@example.org".parse().expect("address")),
                Mailbox::new(None, "b@example.org".parse().expect("address")),
            ],
        ] {
            let mut headers = Headers::new();
            headers.set(header::To::from(Mailboxes::from_iter(list.clone())));
            assert_eq!(to_line(&list), headers.to_string());
        }
    }

    #[test]
    fn long_display_names_fold_and_decode_back() {
        let names = [
            "B".repeat(1120),
            "H.E. the Ambassador of the People's Republic of China to the Federal Republic of Germany, Berlin".to_string(),
            "Le Consul général de la République populaire de Chine à Montréal, Québec, Canada".to_string(),
            FAMILY.repeat(30),
            format!("{ARABIC} {KOREAN} {CHINESE} {FLAG}"),
            format!("Kim  \"Jong\"   \\ {}", "x".repeat(70)),
        ];
        for name in names {
            let list = [mailbox(&name, "embassy@example.org")];
            let line = to_line(&list);
            assert_lines(&line, 78);
            assert_eq!(
                decoded_to(&list),
                [(Some(name.clone()), "embassy@example.org".to_string())],
                "{line}"
            );
            let words = encoded_words(&line);
            assert!(whole_clusters_of(&name, &words), "{words:?}");
        }
    }

    #[test]
    fn ascii_names_with_specials_are_quoted_not_encoded() {
        let list = [mailbox(
            "H.E. the Ambassador of the People's Republic of China",
            "embassy@example.org",
        )];
        assert_eq!(
            to_line(&list),
            "To: \"H.E. the Ambassador of the People's Republic of China\"\r\n <embassy@example.org>\r\n"
        );
    }

    #[test]
    fn a_long_list_folds_between_mailboxes() {
        let list: Vec<Mailbox> = (0..80)
            .map(|i| match i % 3 {
                0 => Mailbox::new(None, format!("cc{i}@example.org").parse().expect("address")),
                1 => mailbox(&format!("Office {i}"), &format!("cc{i}@example.org")),
                _ => mailbox(&format!("공관 {i}"), &format!("cc{i}@example.org")),
            })
            .collect();
        let line = to_line(&list);
        assert_lines(&line, 78);
        let decoded = decoded_to(&list);
        assert_eq!(decoded.len(), 80);
        for (mailbox, (name, addr)) in list.iter().zip(decoded) {
            assert_eq!(name, mailbox.name);
            assert_eq!(addr, mailbox.email.to_string());
        }
    }

    #[test]
    fn an_address_longer_than_a_line_goes_on_a_line_of_its_own() {
        let addr = format!("{}@{}.example.org", "a".repeat(64), "b".repeat(60));
        let list = [mailbox("Ada Advocate", &addr)];
        let line = to_line(&list);
        assert_lines(&line, LIMIT);
        assert!(line.contains(&format!("\r\n <{addr}>")), "{line}");
        assert_eq!(mailboxes("To", &list).longest_line("To"), addr.len() + 3);
    }

    /// Text as a letter's subject or name reaches the encoder.
    fn header_text() -> impl Strategy<Value = String> {
        let pieces = prop_oneof![
            Just(FAMILY.to_string()),
            Just(FLAG.to_string()),
            Just(ARABIC.to_string()),
            Just(KOREAN.to_string()),
            Just(" ".to_string()),
            "[a-zA-Z]{1,90}",
            "[ -~]{1,20}",
            any::<String>(),
            "\\PC{1,30}",
        ];
        prop::collection::vec(pieces, 1..12).prop_map(|p| header_safe(&p.concat()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn any_subject_folds_within_the_limits_and_decodes_back(subject in header_text()) {
            let encoded = unstructured("Subject", &subject);
            let line = subject_line(&subject);
            let limit = if encoded.cut_cluster { LIMIT } else { 78 };
            for l in line.trim_end().split("\r\n") {
                prop_assert!(l.len() <= limit, "{} octets: {line}", l.len());
                prop_assert!(!l.trim().is_empty(), "{line}");
            }
            prop_assert!(line.is_ascii());
            prop_assert_eq!(decoded_subject(&subject), subject.clone());
            if !encoded.cut_cluster {
                prop_assert!(whole_clusters_of(&subject, &encoded_words(&line)));
            }
        }

        #[test]
        fn any_display_name_folds_within_the_limits_and_decodes_back(name in header_text()) {
            prop_assume!(!name.is_empty());
            let list = [mailbox(&name, "embassy@example.org")];
            let line = to_line(&list);
            for l in line.trim_end().split("\r\n") {
                prop_assert!(l.len() <= 78, "{} octets: {line}", l.len());
            }
            prop_assert_eq!(
                decoded_to(&list),
                vec![(Some(name.clone()), "embassy@example.org".to_string())]
            );
        }
    }
}
