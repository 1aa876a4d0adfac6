//! The header lines of every email lettermerge writes (`render --format eml`, `send`): within
//! RFC 5322's 998 octets (and its 78 wherever there is a space or a character to break at),
//! and decoded back whole by a real parser (mail-parser), in every script.

mod common;
#[path = "common/smtp.rs"]
mod smtp;

use common::Test;
use mail_parser::{Address, MessageParser};
use smtp::{Script, SmtpServer};
use unicode_segmentation::UnicodeSegmentation;

const FAMILY: &str = "👨\u{200d}👩\u{200d}👧\u{200d}👦";
const FLAG: &str = "🇰🇷";
/// "Peace be upon you", with its vowel marks.
const ARABIC: &str = "السَّلَامُ عَلَيْكُمْ";
const KOREAN: &str = "중화인민공화국의 탈북민 강제송환에 관하여";
const CHINESE: &str = "关于中华人民共和国强制遣返朝鲜难民的问题";

/// A TOML string.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// One recipient, `id`, named `name`, whose letter has `subject`, with `cc`.
fn recipient(id: &str, name: &str, subject: &str, cc: &[String]) -> String {
    let cc: Vec<String> = cc.iter().map(|c| quoted(c)).collect();
    format!(
        "[[recipient]]\nid = \"{id}\"\nname = {}\nemail = \"{id}@example.org\"\ncc = [{}]\n\n[recipient.letter]\nsubject = {}\n\n",
        quoted(name),
        cc.join(", "),
        quoted(subject)
    )
}

/// The header block of a message, its lines without CRLF.
fn header_lines(eml: &str) -> Vec<&str> {
    let head = eml.split("\r\n\r\n").next().unwrap_or_default();
    head.split("\r\n").collect()
}

/// Asserts that every header line is ASCII and at most `limit` octets; a Message-ID, which
/// nothing can fold, at most 998.
fn assert_lines_within(eml: &str, limit: usize) {
    for line in header_lines(eml) {
        assert!(line.is_ascii(), "not ASCII: {line}");
        let limit = match line.starts_with("Message-ID: ") {
            true => 998,
            false => limit,
        };
        assert!(
            line.len() <= limit,
            "{} octets: {line}\n{}",
            line.len(),
            header_lines(eml).join("\n")
        );
    }
}

/// The text of each encoded-word in the header block.
fn encoded_words(eml: &str) -> Vec<String> {
    let head = eml.split("\r\n\r\n").next().unwrap_or_default();
    head.split("=?utf-8?b?")
        .skip(1)
        .map(|rest| {
            let b64 = rest.split("?=").next().unwrap_or_default();
            let message = format!("Subject: =?utf-8?b?{b64}?=\r\n\r\n");
            let parsed = MessageParser::default()
                .parse(message.as_bytes())
                .expect("a message");
            parsed.subject().unwrap_or_default().to_string()
        })
        .collect()
}

/// Whether each of `words` is made of whole grapheme clusters of one of `texts`.
fn whole_clusters(texts: &[&str], words: &[String]) -> bool {
    words.iter().all(|word| {
        texts.iter().any(|text| {
            let bounds: Vec<usize> = text
                .grapheme_indices(true)
                .map(|(at, _)| at)
                .chain([text.len()])
                .collect();
            text.match_indices(word.as_str())
                .any(|(at, _)| bounds.contains(&at) && bounds.contains(&(at + word.len())))
        })
    })
}

fn first_name(address: Option<&Address>) -> String {
    address
        .and_then(|a| a.first())
        .and_then(|a| a.name())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_long_subject_name_and_cc_list_are_folded_within_the_limits() {
    let subject = "A".repeat(1100);
    let name = "B".repeat(1120);
    let cc: Vec<String> = (0..80).map(|i| format!("office{i}@example.org")).collect();
    let ran = Test::campaign()
        .recipients(&recipient("alice", &name, &subject, &cc))
        .setting("sender", &format!("name = {}", quoted(&"C".repeat(1000))))
        .args(["render", "--format", "eml"])
        .run();
    let eml = ran.out("alice.eml");
    assert_lines_within(&eml, 78);
    let message = MessageParser::default()
        .parse(eml.as_bytes())
        .expect("a message");
    assert_eq!(message.subject(), Some(subject.as_str()));
    assert_eq!(first_name(message.to()), name);
    assert_eq!(first_name(message.from()), "C".repeat(1000));
    let copied: Vec<String> = message
        .cc()
        .expect("a Cc header")
        .iter()
        .filter_map(|a| a.address().map(str::to_string))
        .collect();
    assert_eq!(copied, cc);
}

#[test]
fn every_script_comes_back_whole_and_no_character_cluster_is_split() {
    let texts = [
        FAMILY.repeat(20),
        FLAG.repeat(30),
        ARABIC.repeat(6),
        format!("{KOREAN} {CHINESE}"),
        format!("Appeal: {ARABIC} {FAMILY} {FLAG} {KOREAN} {CHINESE} — 10 December"),
    ];
    let recipients: String = texts
        .iter()
        .enumerate()
        .map(|(i, text)| recipient(&format!("r{i}"), text, text, &[]))
        .collect();
    let ran = Test::campaign()
        .recipients(&recipients)
        .args(["render", "--format", "eml"])
        .run();
    for (i, text) in texts.iter().enumerate() {
        let eml = ran.out(&format!("r{i}.eml"));
        assert_lines_within(&eml, 78);
        let message = MessageParser::default()
            .parse(eml.as_bytes())
            .expect("a message");
        assert_eq!(message.subject(), Some(text.as_str()));
        assert_eq!(first_name(message.to()), *text);
        let words = encoded_words(&eml);
        assert!(
            whole_clusters(&[text.as_str()], &words),
            "an encoded-word cuts a character: {words:?}"
        );
    }
}

#[test]
fn send_sends_the_headers_as_render_writes_them() {
    let server = SmtpServer::start(Script::new());
    let subject = format!("{} {FAMILY} {ARABIC}", "A".repeat(300));
    let name = format!("{KOREAN} {FAMILY}").repeat(4);
    let ran = Test::campaign()
        .recipients(&recipient("alice", &name, &subject, &[]))
        .setting("smtp", "host = \"127.0.0.1\"")
        .setting("smtp", &format!("port = {}", server.port()))
        .setting("smtp", "security = \"none\"")
        .args(["send", "--yes"])
        .stderr_has("sent 1")
        .run();
    let sent = server.messages_to("alice@example.org");
    assert_eq!(sent.len(), 1);
    let eml = sent[0].text();
    assert_lines_within(&eml, 78);
    let message = MessageParser::default()
        .parse(eml.as_bytes())
        .expect("a message");
    assert_eq!(message.subject(), Some(subject.as_str()));
    assert_eq!(first_name(message.to()), name);
    let rendered = ran.again().args(["render", "--format", "eml"]).run();
    let head = |eml: &str| header_lines(eml).join("\r\n");
    assert_eq!(head(&eml), head(&rendered.out("alice.eml")));
}

#[test]
fn a_test_copy_is_marked_in_a_folded_header() {
    let server = SmtpServer::start(Script::new());
    let name = format!("{KOREAN} {CHINESE} {FAMILY}");
    Test::campaign()
        .recipients(&recipient("alice", &name, "Free the prisoners", &[]))
        .setting("smtp", "host = \"127.0.0.1\"")
        .setting("smtp", &format!("port = {}", server.port()))
        .setting("smtp", "security = \"none\"")
        .args(["send", "--yes", "--test-to", "tester@example.org"])
        .run();
    let sent = server.messages_to("tester@example.org");
    assert_eq!(sent.len(), 1);
    let eml = sent[0].text();
    assert_lines_within(&eml, 78);
    // mail-parser decodes encoded-words in the fields it knows: read the mark as a Subject.
    let lines = header_lines(&eml);
    let start = lines
        .iter()
        .position(|l| l.starts_with("X-Lettermerge-Test: "))
        .expect("the test mark");
    let end = start
        + 1
        + lines[start + 1..]
            .iter()
            .take_while(|l| l.starts_with(' '))
            .count();
    let mark = lines[start..end]
        .join("\r\n")
        .replacen("X-Lettermerge-Test:", "Subject:", 1);
    let message = format!("{mark}\r\n\r\n");
    let parsed = MessageParser::default()
        .parse(message.as_bytes())
        .expect("a message");
    assert_eq!(
        parsed.subject().unwrap_or_default(),
        format!("copy of the letter to {name} <alice@example.org>")
    );
}

#[test]
fn check_warns_of_a_character_too_long_for_an_encoded_word() {
    let zalgo = format!("Z{}algo", "\u{0336}".repeat(40));
    Test::campaign()
        .recipients(&recipient("alice", "Alice", &zalgo, &[]))
        .args(["check"])
        .stderr_has("warning: the Subject of the email to `alice` has a character longer than one encoded-word can hold")
        .stderr_has("1 warning")
        .run();
}

#[test]
fn check_says_nothing_of_headers_that_fold_well() {
    let recipients = recipient("alice", &FAMILY.repeat(20), &"A".repeat(1100), &[]);
    Test::campaign()
        .recipients(&recipients)
        .args(["check"])
        .stderr_has("0 errors, 0 warnings")
        .run();
}
