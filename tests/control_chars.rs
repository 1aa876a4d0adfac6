//! Control characters from campaign files (issue 22, item 8): C0 controls (ESC sequences that
//! retitle or clear a terminal, BEL, NUL, a lone CR), DEL, C1 controls (U+009B, the one-byte
//! CSI) and the bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069).
//!
//! Every letter output (md, txt, html, eml bodies and headers, `render --stdout`) shows U+FFFD in
//! their place; every line lettermerge prints about a file (problems, snippets, hints, dry-run
//! lines, servers' replies in `send` and `status`) shows them escaped as `\u{1b}`.

mod common;
#[path = "common/preview.rs"]
mod preview;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use common::{header, part, Ran, Test};
use preview::Served;

/// What a terminal title change, a screen clear, a bell, a NUL, a lone CR, DEL, CSI (C1) and
/// every bidirectional override and isolate look like in a file.
const NASTY: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\0\r\u{7f}\u{9b}31m\
                     \u{202a}\u{202b}\u{202c}\u{202d}\u{202e}\u{2066}\u{2067}\u{2068}\u{2069}";

/// [`NASTY`] as messages show it.
const NASTY_ESCAPED: &str = "\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\0\\r\\u{7f}\\u{9b}31m\
                             \\u{202a}\\u{202b}\\u{202c}\\u{202d}\\u{202e}\\u{2066}\\u{2067}\\u{2068}\\u{2069}";

/// [`NASTY`] in a TOML basic string: TOML admits no raw control there, so they are escapes.
const NASTY_TOML: &str = "\\u001B]0;pwned\\u0007\\u001B[2J\\u0000\\r\\u007F\\u009B31m\
                          \u{202a}\u{202b}\u{202c}\u{202d}\u{202e}\u{2066}\u{2067}\u{2068}\u{2069}";

/// The one character that is neither tab nor line break, nor text: a control, DEL, or a bidi
/// override or isolate, and the CR that is not part of a CR LF.
fn controls_in(text: &str) -> Vec<(usize, char)> {
    text.char_indices()
        .filter(|&(i, c)| match c {
            '\t' | '\n' => false,
            '\r' => !text[i + 1..].starts_with('\n'),
            c => matches!(c, '\0'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'),
        })
        .collect()
}

fn assert_no_controls(what: &str, text: &str, ran: &Ran) {
    let found = controls_in(text);
    assert!(
        found.is_empty(),
        "{what} carries {found:?}\n--- {what}:\n{text:?}\n{}",
        ran.report()
    );
}

/// Messages have no CR at all: their lines end with LF.
fn assert_printable(what: &str, text: &str, ran: &Ran) {
    assert_no_controls(what, text, ran);
    assert!(!text.contains('\r'), "{what} has a CR\n{}", ran.report());
}

/// The start of [`NASTY`] as the text of a letter shows it.
const REPLACED: &str = "\u{FFFD}]0;pwned\u{FFFD}\u{FFFD}[2J\u{FFFD}";

/// [`REPLACED`] in the Markdown, where data's brackets are escaped.
const REPLACED_MD: &str = "\u{FFFD}\\]0;pwned\u{FFFD}\u{FFFD}\\[2J\u{FFFD}";

/// A template that reads every slot the fixtures fill, and carries controls of its own: raw,
/// and as numeric character references, which Markdown would turn into the characters.
const TEMPLATE: &str = "\
Dear {{recipient.name}},

{{lines recipient.address}}

About: {{letter.subject}}. Note: {{recipient.note}}.

bell\u{7} rlo\u{202e} esc\u{1b}[2J nul\0 del\u{7f} csi\u{9b} lone\rcr

entities &#27;&#x1B;&#x202E;&#8238; kept &#233;

tab\tend.\r\n\
\r\n\
{{sender.name}}
";

const CSV: &str = "id,name,address,email,note,letter.subject\n";

/// The CSV campaign: names, addresses, notes and subjects with [`NASTY`].
fn csv_campaign() -> Test {
    let row = format!(
        "alice,\"Alice{NASTY}\",\"1 Rue{NASTY}\r\n75002 Paris\",alice@example.org,\"n{NASTY}\",\"S{NASTY}\"\n"
    );
    Test::campaign()
        .template(TEMPLATE)
        .file("recipients.csv", &format!("{CSV}{row}"))
        .setting("campaign", "recipients = \"recipients.csv\"")
}

/// The TOML campaign: the same in recipients.toml, and in [letter] and [sender] of the settings.
fn toml_campaign() -> Test {
    let recipients = format!(
        "[[recipient]]\nid = \"alice\"\nname = \"Alice{NASTY_TOML}\"\n\
         address = [\"1 Rue{NASTY_TOML}\", \"75002 Paris\"]\nemail = \"alice@example.org\"\n\
         note = \"n{NASTY_TOML}\"\n\n\
         [[recipient]]\nid = \"bob\"\nname = \"Bob\"\naddress = [\"x\"]\nemail = \"bob@example.org\"\n\
         note = \"n\"\n\n[recipient.letter]\nsubject = \"B{NASTY_TOML}\"\n"
    );
    Test::campaign()
        .template(TEMPLATE)
        .recipients(&recipients)
        .setting("letter", &format!("subject = \"S{NASTY_TOML}\""))
        .setting("sender", &format!("name = \"Ada{NASTY_TOML}\""))
}

/// Renders every text format and checks the bytes of each: no control, and U+FFFD where
/// the name's [`NASTY`] was.
fn assert_letters_clean(test: Test, ids: &[&str]) {
    let ran = test.args(["render", "--format", "md,txt,html,eml"]).run();
    assert_printable("render's stderr", &ran.stderr, &ran);
    for id in ids {
        for ext in ["md", "txt", "html", "eml"] {
            let name = format!("{id}.{ext}");
            let bytes = ran.out_bytes(&name);
            let text = String::from_utf8(bytes).expect("letters are UTF-8");
            assert_no_controls(&name, &text, &ran);
            if ext != "eml" {
                assert!(text.contains('\u{FFFD}'), "{name} shows no U+FFFD:\n{text}");
            }
        }
        let md = ran.out(&format!("{id}.md"));
        // The template's own controls, and its references to them, are replaced too.
        assert!(
            md.contains("bell\u{FFFD} rlo\u{FFFD} esc\u{FFFD}[2J nul\u{FFFD} del\u{FFFD} csi\u{FFFD} lone\u{FFFD}cr"),
            "{md}"
        );
        assert!(
            md.contains("entities &#xFFFD;&#xFFFD;&#xFFFD;&#xFFFD; kept &#233;"),
            "{md}"
        );
        assert!(md.contains("tab\tend.\r\n"), "{md}");
        let txt = ran.out(&format!("{id}.txt"));
        assert!(
            txt.contains("entities \u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD} kept é"),
            "{txt}"
        );
        let html = ran.out(&format!("{id}.html"));
        assert!(
            html.contains("entities \u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD} kept é"),
            "{html}"
        );
        let eml = ran.out(&format!("{id}.eml"));
        for kind in ["text/plain", "text/html"] {
            let body = part(&eml, kind);
            assert_no_controls(kind, &body, &ran);
            assert!(body.contains("bell\u{FFFD} rlo\u{FFFD}"), "{kind}:\n{body}");
        }
        for name in ["Subject", "To", "From"] {
            let value = decoded_header(&eml, name);
            assert_no_controls(name, &value, &ran);
        }
    }
    let md = ran.out("alice.md");
    assert!(md.contains(&format!("Dear Alice{REPLACED_MD}")), "{md}");
    assert!(md.contains(&format!("1 Rue{REPLACED_MD}")), "{md}");
    let txt = ran.out("alice.txt");
    assert!(txt.contains(&format!("Dear Alice{REPLACED}")), "{txt}");
    let html = ran.out("alice.html");
    assert!(html.contains(&format!("Dear Alice{REPLACED}")), "{html}");
    let eml = ran.out("alice.eml");
    assert!(
        decoded_header(&eml, "To").starts_with(&format!("Alice{REPLACED}")),
        "{}",
        decoded_header(&eml, "To")
    );
    assert!(
        decoded_header(&eml, "Subject").starts_with(&format!("S{REPLACED}")),
        "{}",
        decoded_header(&eml, "Subject")
    );
}

#[test]
fn no_letter_format_carries_a_control_from_csv_data_or_the_template() {
    assert_letters_clean(csv_campaign(), &["alice"]);
}

#[test]
fn no_letter_format_carries_a_control_from_toml_data_settings_or_the_template() {
    assert_letters_clean(toml_campaign(), &["alice", "bob"]);
}

#[test]
fn the_page_title_and_the_subject_have_no_control() {
    let ran = toml_campaign()
        .args(["render", "--format", "html,eml"])
        .run();
    let html = ran.out("bob.html");
    assert!(html.contains(&format!("<title>B{REPLACED}")), "{html}");
    let eml = ran.out("bob.eml");
    let subject = decoded_header(&eml, "Subject");
    assert!(subject.starts_with(&format!("B{REPLACED}")), "{subject}");
    let from = decoded_header(&eml, "From");
    assert!(from.starts_with(&format!("Ada{REPLACED}")), "{from}");
}

/// Before, Typst found no glyph for the controls and the letter had no PDF at all; U+FFFD has one.
#[cfg(feature = "pdf")]
#[test]
fn pdf_letters_and_attachments_are_typeset_despite_controls() {
    for test in [csv_campaign(), toml_campaign()] {
        let ran = test
            .setting("email", "attach_pdf = true")
            .args(["render", "--format", "pdf,eml"])
            .run();
        assert_printable("render's stderr", &ran.stderr, &ran);
        let pdf = ran.out_bytes("alice.pdf");
        assert!(pdf.starts_with(b"%PDF-"), "{}", ran.report());
        let eml = ran.out("alice.eml");
        assert!(eml.contains("Content-Type: application/pdf"), "{eml}");
    }
}

/// Every text in a JSON value, with its path.
fn texts(value: &serde_json::Value, path: String, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::String(s) => out.push((path, s.clone())),
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                texts(v, format!("{path}[{i}]"), out);
            }
        }
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                texts(v, format!("{path}.{k}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_preview_shows_letters_without_controls_and_problems_escaped() {
    let bad = format!("bob,Bob,,\"bob{NASTY}@example.org\",n,S\n");
    let test = csv_campaign();
    let csv = std::fs::read_to_string(test.path().join("recipients.csv")).expect("the CSV");
    let served = Served::start(test.file("recipients.csv", &format!("{csv}{bad}")));
    let assert_clean = |what: &str, text: &str| {
        let found = controls_in(text);
        assert!(found.is_empty(), "{what} carries {found:?}: {text:?}");
    };
    for route in ["/api/campaign", "/api/letters/alice", "/api/letters/bob"] {
        let mut found = Vec::new();
        texts(&served.get(route).json(), String::new(), &mut found);
        for (path, text) in found {
            assert_clean(&format!("{route} {path}"), &text);
        }
    }
    for route in ["/letters/alice/page", "/letters/alice/eml", "/"] {
        assert_clean(route, &served.get(route).text());
    }
    let bob = served.get("/api/letters/bob").json();
    let message = bob["problems"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("bob{NASTY_ESCAPED}@")),
        "{message}"
    );
    let alice = served.get("/api/letters/alice").json();
    let subject = alice["letter"]["subject"].as_str().unwrap_or_default();
    assert!(subject.starts_with(&format!("S{REPLACED}")), "{subject}");
    served.stop();
}

#[test]
fn render_to_stdout_prints_no_control() {
    let ran = csv_campaign()
        .args(["render", "--stdout", "--format", "md,txt,html,eml"])
        .run();
    assert_no_controls("stdout", &ran.stdout, &ran);
    assert!(
        ran.stdout.contains(&format!("Dear Alice{REPLACED_MD}")),
        "{}",
        ran.stdout
    );
    assert_printable("stderr", &ran.stderr, &ran);
}

#[test]
fn check_quotes_a_csv_cell_and_header_with_controls_escaped() {
    let header = format!("id,name,email,\"no{NASTY}te\"\n");
    let rows = format!("alice,Alice,alice@example.org,x\nbob,Bob,\"bob{NASTY}@example.org\",y\n");
    let ran = Test::campaign()
        .file("recipients.csv", &format!("{header}{rows}"))
        .setting("campaign", "recipients = \"recipients.csv\"")
        .args(["check"])
        .status(1)
        .run();
    assert_printable("check's stderr", &ran.stderr, &ran);
    // The bad address: in the message, and in the snippet of its line.
    assert!(
        ran.stderr.contains(&format!(
            "\"bob{NASTY_ESCAPED}@example.org\" is not a valid email address"
        )),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains(&format!("bob,Bob,\"bob{NASTY_ESCAPED}@example.org\"")),
        "{}",
        ran.stderr
    );
    // The header no template reads, in the message and the hint.
    assert!(
        ran.stderr.contains(&format!("field `no{NASTY_ESCAPED}te`")),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains(&format!("{{{{recipient.no{NASTY_ESCAPED}te}}}}")),
        "{}",
        ran.stderr
    );
}

#[test]
fn check_quotes_toml_keys_values_and_template_lines_with_controls_escaped() {
    let recipients = format!(
        "[[recipient]]\nid = \"alice\"\nname = \"Alice\"\n\"k{NASTY_TOML}\" = \"x\"\n\
         language = \"e{NASTY_TOML}n\"\ntimezone = \"Europe/{NASTY_TOML}\"\n\n\
         [[recipient]]\nid = \"bob\"\nname = \"Bob\"\n"
    );
    let template = format!("Dear {{{{recipient.name}}}} {NASTY} {{{{recipient.missing}}}}\n");
    let ran = Test::campaign()
        .recipients(&recipients)
        .template(&template)
        .args(["check"])
        .status(1)
        .run();
    assert_printable("check's stderr", &ran.stderr, &ran);
    for expected in [
        // A key no template reads, a bad language tag and time zone: message and snippet.
        format!("field `k{NASTY_ESCAPED}`"),
        format!("\"e{NASTY_ESCAPED}n\" is not a language tag"),
        format!("\"Europe/{NASTY_ESCAPED}\" is not a time zone"),
        // The template's line under the missing slot.
        format!("Dear {{{{recipient.name}}}} {NASTY_ESCAPED} {{{{recipient.missing}}}}"),
    ] {
        assert!(
            ran.stderr.contains(&expected),
            "no {expected:?} in\n{}",
            ran.stderr
        );
    }
}

#[test]
fn check_warns_where_letters_will_show_the_replacement_character() {
    let ran = csv_campaign().args(["check"]).run();
    assert_printable("check's stderr", &ran.stderr, &ran);
    for key in ["name", "address", "note", "letter.subject"] {
        let expected = format!(
            "warning: `{key}` of 1 recipient has control characters (U+001B, U+0007, U+0000, U+007F): \
             letters show U+FFFD (\u{FFFD}) in their place"
        );
        assert!(
            ran.stderr.contains(&expected),
            "no {expected:?} in\n{}",
            ran.stderr
        );
    }
    assert!(
        ran.stderr.contains(
            "templates/letter.md has 7 control characters (U+0007, U+202E, U+001B, U+0000)"
        ),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("= recipient: alice"), "{}", ran.stderr);
    let ran = toml_campaign().args(["check"]).run();
    assert_printable("check's stderr", &ran.stderr, &ran);
    for place in [
        "[letter] `subject`",
        "[sender] `name`",
        "`letter.subject` of 1 recipient",
    ] {
        let expected = format!("warning: {place} has control characters");
        assert!(
            ran.stderr.contains(&expected),
            "no {expected:?} in\n{}",
            ran.stderr
        );
    }
    assert!(
        ran.stderr.contains("`name` of 1 recipient"),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_clean_campaign_has_no_such_warning() {
    Test::root_campaign()
        .args(["check"])
        .stderr_lacks("control character")
        .run();
}

#[test]
fn a_problem_in_the_settings_is_shown_escaped() {
    let ran = Test::campaign()
        .setting("campaign", &format!("recipients = \"r{NASTY_TOML}.csv\""))
        .args(["check"])
        .status(1)
        .run();
    assert_printable("check's stderr", &ran.stderr, &ran);
    assert!(
        ran.stderr.contains("\\u{1b}]0;pwned\\u{7}"),
        "{}",
        ran.stderr
    );
}

#[test]
fn dry_run_lines_show_no_control() {
    let ran = toml_campaign()
        .setting("smtp", "host = \"127.0.0.1\"")
        .setting("smtp", "port = 2525")
        .setting("smtp", "security = \"none\"")
        .args(["send", "--dry-run"])
        .run();
    assert_no_controls("dry run's stdout", &ran.stdout, &ran);
    assert_printable("dry run's stderr", &ran.stderr, &ran);
    assert!(ran.stdout.contains("alice"), "{}", ran.stdout);
}

/// What a hostile server's reply can carry on its line: [`NASTY`] but NUL and CR.
const NASTY_REPLY: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{7f}\u{9b}31m\u{202e}\u{2066}";

/// A server that answers every recipient with a permanent refusal carrying [`NASTY_REPLY`], on
/// a free port of 127.0.0.1; it answers any number of connections.
fn refusing_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("its address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
                let mut stream = stream;
                let _ = stream.write_all(b"220 refusing.test ESMTP\r\n");
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                    let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                    let reply = match verb.as_str() {
                        "EHLO" | "HELO" => "250 refusing.test".to_string(),
                        "RCPT" => format!("550 5.1.1 no such user{NASTY_REPLY}here"),
                        "QUIT" => "221 bye".to_string(),
                        _ => "250 ok".to_string(),
                    };
                    if stream.write_all(format!("{reply}\r\n").as_bytes()).is_err()
                        || verb == "QUIT"
                    {
                        break;
                    }
                    line.clear();
                }
            });
        }
    });
    port
}

#[test]
fn a_servers_reply_with_controls_is_shown_escaped_by_send_and_status() {
    let port = refusing_server();
    let ran = Test::campaign()
        .recipients(
            "[[recipient]]\nid = \"alice\"\nname = \"Alice\"\nemail = \"alice@example.org\"\n",
        )
        .setting("smtp", "host = \"127.0.0.1\"")
        .setting("smtp", &format!("port = {port}"))
        .setting("smtp", "security = \"none\"")
        .setting("smtp", "retries = 0")
        .args(["send", "--yes"])
        .status(1)
        .run();
    assert_printable("send's stderr", &ran.stderr, &ran);
    assert_no_controls("send's stdout", &ran.stdout, &ran);
    assert!(
        ran.stderr.contains("no such user\\u{1b}]0;pwned"),
        "{}",
        ran.report()
    );
    let ran = ran.again().args(["status"]).run();
    assert_no_controls("status", &ran.stdout, &ran);
    assert!(
        ran.stdout.contains("no such user\\u{1b}]0;pwned"),
        "{}",
        ran.report()
    );
    let (ran, records) = ran.status_json(None);
    assert_no_controls("status --json", &ran.stdout, &ran);
    let reply = records[0]["reply"].as_str().unwrap_or_default().to_string();
    assert!(
        reply.contains("no such user\u{1b}]0;pwned\u{7}") && reply.contains('\u{202e}'),
        "status --json keeps the reply's characters as data: {reply:?}"
    );
}

/// A header's value with its RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`) decoded.
fn decoded_header(eml: &str, name: &str) -> String {
    let value = header(eml, name).unwrap_or_else(|| panic!("no {name} header in\n{eml}"));
    let mut out = String::new();
    let mut rest = value.as_str();
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let before = &rest[..start];
        // White space between two encoded words is not part of the text.
        if !(after_word && before.trim().is_empty()) {
            out.push_str(before);
        }
        let mut parts = rest[start + 2..].splitn(3, '?');
        let (Some(_charset), Some(encoding), Some(tail)) =
            (parts.next(), parts.next(), parts.next())
        else {
            break;
        };
        let Some(end) = tail.find("?=") else {
            break;
        };
        let bytes = match encoding.to_ascii_lowercase().as_str() {
            "b" => base64(&tail[..end]),
            _ => q(&tail[..end]),
        };
        out.push_str(&String::from_utf8_lossy(&bytes));
        after_word = true;
        rest = &tail[end + 2..];
    }
    out.push_str(rest);
    out
}

fn base64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut out, mut buffer, mut bits) = (Vec::new(), 0u32, 0);
    for value in text
        .bytes()
        .filter_map(|c| ALPHABET.iter().position(|&a| a == c))
    {
        buffer = (buffer << 6) | value as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

fn q(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < bytes.len() {
        match bytes[i] {
            b'_' => out.push(b' '),
            b'=' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}
