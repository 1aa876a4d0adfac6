//! Careless and hostile campaign files: what a folder shared by many hands, and a spreadsheet
//! from strangers, may hold. Each test is one class of trouble, tried in every file it can reach.

mod common;
#[path = "common/smtp.rs"]
mod smtp;

use std::path::Path;
use std::time::Duration;

use common::{part, Ran, Test};
use smtp::{Script, SmtpServer};

/// Long enough for a debug build on a busy machine; a run that blocks on a pipe never ends.
const PATIENCE: Duration = Duration::from_secs(30);

/// Runs `args` and gives up on it after [`PATIENCE`]: a run that hangs fails the test.
fn run_within(test: Test, args: &[&str]) -> Ran {
    let ran = test
        .args(args.iter().copied())
        .spawn()
        .finish_within(PATIENCE);
    assert!(
        ran.status.is_some(),
        "still running after {PATIENCE:?}\n{}",
        ran.report()
    );
    assert!(!ran.stderr.contains("panicked"), "{}", ran.report());
    ran
}

// ---------------------------------------------------------------------------------------------
// Files that are not regular files, or far too large (issue 22, item 11)
// ---------------------------------------------------------------------------------------------

/// What a campaign file can be made into instead of a regular file.
#[derive(Debug, Clone, Copy)]
enum Odd {
    Fifo,
    /// A link to `/dev/zero`, which never ends.
    DevZero,
    Folder,
    /// A regular file over the limit (sparse: it takes no room on the disk).
    Huge(u64),
}

impl Odd {
    fn make(self, path: &Path) {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        let _ = std::fs::remove_file(path);
        match self {
            Odd::Fifo => {
                rustix::fs::mkfifoat(rustix::fs::CWD, path, rustix::fs::Mode::RUSR).unwrap()
            }
            Odd::DevZero => std::os::unix::fs::symlink("/dev/zero", path).unwrap(),
            Odd::Folder => std::fs::create_dir(path).unwrap(),
            Odd::Huge(size) => std::fs::File::create(path).unwrap().set_len(size).unwrap(),
        }
    }

    /// What the error says about it.
    fn says(self) -> &'static str {
        match self {
            Odd::Fifo => "it is a named pipe (FIFO), not a regular file",
            Odd::DevZero => "it is a device, not a regular file",
            Odd::Folder => "it is a folder, not a regular file",
            Odd::Huge(_) => "larger than",
        }
    }
}

/// Every file the campaign reads, with the size over its limit.
const FILES: &[(&str, u64)] = &[
    ("lettermerge.toml", 5 << 20),
    ("recipients.toml", 65 << 20),
    ("recipients.csv", 65 << 20),
    ("templates/letter.md", 5 << 20),
    ("templates/letter.fr.md", 5 << 20),
    ("templates/partials/address.md", 5 << 20),
];

#[test]
fn no_campaign_file_is_read_unless_it_is_a_regular_file_within_its_limit() {
    for &(file, huge) in FILES {
        for odd in [Odd::Fifo, Odd::DevZero, Odd::Folder, Odd::Huge(huge)] {
            if file.contains("partials/") && matches!(odd, Odd::Folder) {
                // A folder among the partials is not a partial, and is passed over.
                continue;
            }
            // The settings are written when the first command runs: an odd one is made by hand.
            let test = match file {
                "lettermerge.toml" => Test::campaign().toml(""),
                "recipients.csv" => {
                    Test::campaign().setting("campaign", "recipients = \"recipients.csv\"")
                }
                _ => Test::campaign(),
            };
            odd.make(&test.path().join(file));
            let mut test = test;
            // A link to /dev/zero leads outside the folder too: render is told that is meant.
            for args in [&["check"][..], &["render", "--allow-outside"]] {
                let ran = run_within(test, args);
                let what = format!("{file} as {odd:?}, {args:?}");
                assert_eq!(ran.status, Some(1), "{what}\n{}", ran.report());
                assert!(
                    ran.stderr.contains(file),
                    "{what}: names the file\n{}",
                    ran.report()
                );
                assert!(ran.stderr.contains(odd.says()), "{what}\n{}", ran.report());
                assert!(ran.stderr.contains("hint:"), "{what}\n{}", ran.report());
                test = ran.again();
            }
        }
    }
}

#[test]
fn links_to_regular_files_are_read_as_those_files() {
    let test = Test::campaign()
        .file("shared/people.toml", common::RECIPIENTS)
        .file("shared/letter.md", common::TEMPLATE)
        .remove("recipients.toml")
        .remove("templates/letter.md");
    let dir = test.path();
    std::os::unix::fs::symlink("shared/people.toml", dir.join("recipients.toml")).unwrap();
    std::os::unix::fs::symlink("../shared/letter.md", dir.join("templates/letter.md")).unwrap();
    let ran = test
        .args(["render", "--format", "md"])
        .run()
        .again()
        .args(["check"])
        .stderr_has("checked 2 recipients")
        .stderr_has("0 errors")
        .run();
    assert!(ran.out("alice.md").contains("Dear Alice Ambassador,"));
}

#[test]
fn the_preview_reads_no_pipe_either() {
    let test = Test::campaign().file("lettermerge.toml", "");
    Odd::Fifo.make(&test.path().join("recipients.toml"));
    let dir = test.path();
    let (done, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let now = chrono::DateTime::parse_from_rfc3339(common::NOW).unwrap();
        let clock = lettermerge::clock::Clock::fixed(now);
        let _ = done.send(lettermerge::preview::Snapshot::load(&dir, &clock, 1));
    });
    assert!(
        wait.recv_timeout(PATIENCE).is_ok(),
        "the preview's reading of the campaign still blocks after {PATIENCE:?}"
    );
    drop(test);
}

// ---------------------------------------------------------------------------------------------
// Fields named twice (issue 22, item 10)
// ---------------------------------------------------------------------------------------------

fn csv_campaign(csv: &str) -> Test {
    Test::campaign()
        .setting("campaign", "recipients = \"recipients.csv\"")
        .file("recipients.csv", csv)
}

#[test]
fn a_column_named_twice_is_an_error_naming_its_columns() {
    for (header, says) in [
        (
            "id,name,cc,email,email",
            vec!["column `email` appears twice (columns 4 and 5)"],
        ),
        (
            "id,name,id,email,cc",
            vec!["column `id` appears twice (columns 1 and 3)"],
        ),
        (
            "id,name,note,email,note,cc,note",
            vec!["column `note` appears 3 times (columns 3, 5 and 7)"],
        ),
        // Spaces around a name are not part of it.
        (
            "id,name,cc,email, email ",
            vec!["column `email` appears twice (columns 4 and 5)"],
        ),
        (
            "id,name,cc,Email,email",
            vec!["columns `Email` (4) and `email` (5) differ only in case"],
        ),
        (
            "id,letter.subject,name,email,letter.subject",
            vec!["column `letter.subject` appears twice (columns 2 and 5)"],
        ),
        (
            "id,name,name,email,EMAIL",
            vec![
                "column `name` appears twice (columns 2 and 3)",
                "columns `email` (4) and `EMAIL` (5) differ only in case",
            ],
        ),
    ] {
        // No row is read once the header is wrong: what the cells hold does not matter.
        let row = vec!["alice"; header.split(',').count()].join(",");
        let csv = format!("{header}\r\n{row}\r\n");
        for command in ["check", "render"] {
            let mut test = csv_campaign(&csv).args([command]).status(1);
            for says in &says {
                test = test.stderr_has(says);
            }
            let ran = test
                .stderr_has("recipients.csv:1:1")
                .stderr_has("delete or rename the others")
                .run();
            ran.assert_out_files(&[]);
        }
    }
}

#[test]
fn columns_without_a_name_or_with_distinct_names_are_fine() {
    csv_campaign("id,name,email,,\nalice,Alice,a@example.org,,\n")
        .args(["check"])
        .stderr_has("checked 1 recipient")
        .stderr_has("0 errors")
        .run();
}

#[test]
fn a_key_set_twice_in_toml_is_an_error_at_its_line() {
    let recipient = "[[recipient]]\nid = \"alice\"\nname = \"Alice\"\n";
    for (recipients, line) in [
        (
            format!("{recipient}name = \"Bob\"\n"),
            "recipients.toml:4:1",
        ),
        (
            format!("{recipient}[recipient.letter]\nsubject = \"a\"\nsubject = \"b\"\n"),
            "recipients.toml:6:1",
        ),
        (
            format!("{recipient}[recipient.letter]\nsubject = \"a\"\n[recipient.letter]\n"),
            "recipients.toml:6:12",
        ),
    ] {
        Test::campaign()
            .recipients(&recipients)
            .args(["check"])
            .status(1)
            .stderr_has("duplicate key")
            .stderr_has(line)
            .stderr_has("a key is set once in each table")
            .run();
    }
    for (settings, line) in [
        (
            "[letter]\nsubject = \"a\"\nsubject = \"b\"\n",
            "lettermerge.toml:3:1",
        ),
        (
            "[sender]\nname = \"A\"\n[letter]\nsubject = \"a\"\n[sender]\nname = \"B\"\n",
            "lettermerge.toml:5:2",
        ),
    ] {
        Test::campaign()
            .toml(settings)
            .args(["check"])
            .status(1)
            .stderr_has("duplicate key")
            .stderr_has(line)
            .run();
    }
}

// ---------------------------------------------------------------------------------------------
// Control characters in what becomes a mail header (issue 22, item 2)
// ---------------------------------------------------------------------------------------------

/// Between letters, every kind of control character a value can hold (as TOML escapes): CR, LF,
/// CRLF, NUL, other C0, ESC, DEL, C1 (NEL, CSI), the Unicode line and paragraph separators, tab.
const BREAKS: &str = r"A\rB\nC\r\nD\u0000E\u0001F\u001bG\u007fH\u0085I\u009bJ\u2028K\u2029L\tM";

/// The same value as every output shows it: each line break or tab is one space, every other
/// control character U+FFFD, as in the letter's text.
const SHOWN: &str = "A B C D\u{FFFD}E\u{FFFD}F\u{FFFD}G\u{FFFD}H I\u{FFFD}J K L M";

/// Whether `text` holds a control character other than the line ends of its format.
fn has_controls(text: &str) -> bool {
    text.chars()
        .any(|c| (c.is_control() && c != '\n' && c != '\r') || matches!(c, '\u{2028}' | '\u{2029}'))
}

/// A campaign whose sender, subject and recipient hold [`BREAKS`] in every text that the email's
/// headers or the letter show.
fn broken_campaign() -> Test {
    let value = format!("\"{BREAKS}\"");
    Test::campaign()
        .setting("sender", &format!("name = {value}"))
        .setting("sender", &format!("organization = {value}"))
        .setting("letter", &format!("subject = {value}"))
        .template("{{sender.organization}}\n\nDear {{recipient.name}}, {{recipient.title}}\n\n{{letter.subject}}\n\n{{sender.name}}\n")
        .recipients(&format!(
            "[[recipient]]\nid = \"alice\"\nname = {value}\ntitle = {value}\nemail = \"alice@example.org\"\ncc = [\"office@example.org\"]\n"
        ))
}

fn assert_headers_are_one_line(eml: &str, what: &str) {
    let message = mail_parser::MessageParser::default()
        .parse(eml.as_bytes())
        .unwrap_or_else(|| panic!("{what}: the message parses\n{eml}"));
    assert_eq!(message.subject(), Some(SHOWN), "{what}:\n{eml}");
    for (name, mailboxes) in [("From", message.from()), ("To", message.to())] {
        let shown = mailboxes
            .and_then(|a| a.first())
            .and_then(|a| a.name())
            .unwrap_or_default();
        assert_eq!(shown, SHOWN, "{what}, {name}:\n{eml}");
    }
    let head = eml.split("\r\n\r\n").next().unwrap_or_default();
    assert!(!has_controls(head), "{what}: {head:?}");
    assert!(
        head.split("\r\n")
            .all(|line| !line.contains('\r') && !line.contains('\n')),
        "{what}: a bare line break in {head:?}"
    );
}

#[test]
fn control_characters_in_header_fields_are_spaces_or_replaced_everywhere() {
    let ran = broken_campaign()
        .args(["check"])
        .stderr_has("0 errors")
        .run()
        .again()
        .args(["render", "--format", "md,txt,html,eml,pdf"])
        .run();
    ran.assert_out_files(&[
        "alice.eml",
        "alice.html",
        "alice.md",
        "alice.pdf",
        "alice.txt",
    ]);
    let eml = ran.out("alice.eml");
    assert_headers_are_one_line(&eml, "render");
    for (name, text) in [
        ("md", ran.out("alice.md")),
        ("txt", ran.out("alice.txt")),
        ("html", ran.out("alice.html")),
        ("text part", part(&eml, "text/plain")),
        ("html part", part(&eml, "text/html")),
    ] {
        assert!(!has_controls(&text), "{name}: {text:?}");
        assert!(text.contains(SHOWN), "{name}: {text}");
    }
    let stdout = ran
        .again()
        .args(["render", "--format", "txt", "--stdout"])
        .run()
        .stdout;
    assert!(
        !has_controls(&stdout),
        "nothing for the terminal: {stdout:?}"
    );
}

#[test]
fn control_characters_in_header_fields_are_sent_as_spaces_or_replaced() {
    let server = SmtpServer::start(Script::new());
    broken_campaign()
        .setting("smtp", "host = \"127.0.0.1\"")
        .setting("smtp", &format!("port = {}", server.port()))
        .setting("smtp", "security = \"none\"")
        .args(["send", "--yes"])
        .stderr_has("sent 1")
        .run();
    let sent = server.messages_to("alice@example.org");
    assert_eq!(sent.len(), 1);
    assert_headers_are_one_line(&sent[0].text(), "send");
}

#[test]
fn control_characters_in_header_fields_are_spaces_or_replaced_in_the_preview() {
    let test = broken_campaign();
    let ran = test.args(["check"]).run();
    let now = chrono::DateTime::parse_from_rfc3339(common::NOW).unwrap();
    let clock = lettermerge::clock::Clock::fixed(now);
    let snapshot = lettermerge::preview::Snapshot::load(ran.path(), &clock, 1);
    let eml = match snapshot.eml("alice", &clock) {
        lettermerge::preview::Fetched::Found(bytes) => String::from_utf8(bytes).unwrap(),
        lettermerge::preview::Fetched::Unavailable(why) => panic!("no email: {why}"),
        lettermerge::preview::Fetched::Unknown => panic!("no alice"),
    };
    assert_headers_are_one_line(&eml, "preview");
}

#[test]
fn control_characters_in_an_address_are_an_error_at_its_line() {
    let breaks = [
        "\\r", "\\n", "\\u0000", "\\u001b", "\\u0085", "\\u2028", "\\t", " ",
    ];
    let mut recipients = String::new();
    for (i, b) in breaks.iter().enumerate() {
        recipients.push_str(&format!(
            "[[recipient]]\nid = \"r{i}\"\nname = \"R\"\nemail = \"r{i}{b}x@example.org\"\ncc = [\"c{i}@exa{b}mple.org\"]\nbcc = \"ok@example.org; b{i}@example.org{b}x\"\n\n"
        ));
    }
    let mut test = Test::campaign()
        .recipients(&recipients)
        .args(["check"])
        .status(1)
        .stderr_has(&format!("{} errors", breaks.len() * 3));
    for i in 0..breaks.len() {
        // Each recipient takes 7 lines; email, cc and bcc are its 4th, 5th and 6th.
        for line in [4, 5, 6] {
            test = test.stderr_has(&format!("recipients.toml:{}:", i * 7 + line));
        }
    }
    test.run();
    for b in breaks {
        Test::campaign()
            .setting("sender", &format!("email = \"ada{b}@example.org\""))
            .args(["check"])
            .status(1)
            .stderr_has("`sender.email` is not a valid email address")
            .stderr_has("lettermerge.toml:7:")
            .run();
    }
}

// ---------------------------------------------------------------------------------------------
// A table, a list or true/false printed where a letter needs text (issue 22, item 9)
// ---------------------------------------------------------------------------------------------

/// Settings with `line` as the last line of `[campaign]` (line 4), `[sender]` (line 8) or
/// `[letter]` (line 12); `[letter]` has `list = [1]` on line 11.
fn settings_with(table: &str, line: &str) -> String {
    let extra = |t: &str| if t == table { line } else { "other = \"x\"" };
    format!(
        "[campaign]\nid = \"test-campaign\"\ndate = 2026-12-10\n{}\n[sender]\nname = \"Ada\"\nemail = \"ada@example.org\"\n{}\n[letter]\nsubject = \"Free them\"\nlist = [1]\n{}\n",
        extra("campaign"),
        extra("sender"),
        extra("letter"),
    )
}

/// One recipient, with `extra` lines after its email (from line 5 on).
fn recipient_with(extra: &str) -> String {
    format!(
        "[[recipient]]\nid = \"alice\"\nname = \"Alice\"\nemail = \"alice@example.org\"\n{extra}"
    )
}

/// The ways a template prints a value, with `P` for its path, and where each prints it.
const PRINTS: &[(&str, &str)] = &[
    ("{{P}}", "templates/letter.md:3:1"),
    ("{{{P}}}", "templates/letter.md:3:1"),
    (
        "x {{#if recipient.name}}\n  {{P}}\n{{/if}}",
        "templates/letter.md:4:3",
    ),
    (
        "{{#each letter.list}}{{@root.P}}{{/each}}",
        "templates/letter.md:3:22",
    ),
    ("{{> block}}", "templates/partials/block.md:2:4"),
    ("{{default recipient.nothing P}}", "templates/letter.md:3:1"),
    ("{{footnote P}}", "templates/letter.md:3:1"),
];

/// The campaign with a letter that prints `path` as `form`.
fn printing(form: &str, path: &str) -> Test {
    Test::campaign()
        .template(&format!(
            "Dear {{{{recipient.name}}}},\n\n{}\n",
            form.replace('P', path)
        ))
        .file(
            "templates/partials/block.md",
            &format!("A\nB: {{{{{path}}}}}\n"),
        )
}

#[test]
fn a_table_a_list_or_true_printed_is_an_error_where_it_is_set_and_printed() {
    for (value, found) in [
        ("{ a = 1 }", "a table"),
        ("[\"a\", \"b\"]", "a list"),
        ("true", "true/false"),
    ] {
        let set = format!("x = {value}");
        // The value's path, the settings and recipients that set it, and where it is set.
        let places = [
            (
                "letter.x",
                settings_with("letter", &set),
                recipient_with(""),
                "lettermerge.toml:12:5",
            ),
            (
                "sender.x",
                settings_with("sender", &set),
                recipient_with(""),
                "lettermerge.toml:8:5",
            ),
            (
                "campaign.x",
                settings_with("campaign", &set),
                recipient_with(""),
                "lettermerge.toml:4:5",
            ),
            (
                "recipient.x",
                settings_with("", ""),
                recipient_with(&format!("{set}\n")),
                "recipients.toml:5:5",
            ),
            (
                "letter.x",
                settings_with("letter", "x = \"text in the settings\""),
                recipient_with(&format!("[recipient.letter]\n{set}\n")),
                "recipients.toml:5:1",
            ),
        ];
        for (path, settings, recipients, set_at) in &places {
            for (form, printed_at) in PRINTS {
                let what = format!("{path} = {value} set at {set_at}, printed as {form}");
                for command in ["check", "render"] {
                    let ran = printing(form, path)
                        .toml(settings)
                        .recipients(recipients)
                        .args([command])
                        .run_any_status();
                    assert_eq!(ran.status, Some(1), "{what}\n{}", ran.report());
                    for says in [
                        format!("error: `{path}` must be text, found {found}"),
                        set_at.to_string(),
                        format!("{found}, not text"),
                        format!("hint: {printed_at} prints it"),
                        "recipient: alice".to_string(),
                    ] {
                        assert!(
                            ran.stderr.contains(&says),
                            "{what}: lacks {says:?}\n{}",
                            ran.report()
                        );
                    }
                    assert!(ran.out_files().is_empty(), "{what}: {:?}", ran.out_files());
                }
            }
        }
    }
}

#[test]
fn an_item_that_is_not_text_in_a_printed_list_is_an_error_naming_it() {
    let settings = settings_with(
        "letter",
        "demands = [\"Free them\", [\"a\", \"b\"]]\nsigners = [{ name = \"A\" }, { name = { first = \"B\" } }]\nnote = { text = \"n\" }",
    );
    // Where the value starts: demands and signers at 12:11 and 13:11, note at 14:8.
    for (template, says, line) in [
        (
            "{{join letter.demands}}",
            "`letter.demands` item 2 must be text, found a list",
            "12:11",
        ),
        (
            "{{lines letter.demands}}",
            "`letter.demands` item 2 must be text, found a list",
            "12:11",
        ),
        (
            "{{enumerate letter.demands style=\"A\"}}",
            "`letter.demands` item 2 must be text, found a list",
            "12:11",
        ),
        (
            "{{#each letter.demands}}\n- {{this}}\n{{/each}}",
            "`letter.demands` item 2 must be text, found a list",
            "12:11",
        ),
        (
            "{{join letter.signers}}",
            "`letter.signers` item 1 must be text, found a table",
            "13:11",
        ),
        (
            "{{#each letter.signers}}{{name}}{{/each}}",
            "`name` of `letter.signers` item 2 must be text, found a table",
            "13:11",
        ),
        (
            "{{#each letter.signers as |s|}}{{s.name}}{{/each}}",
            "`name` of `letter.signers` item 2 must be text, found a table",
            "13:11",
        ),
        (
            "x{{footnote letter.note}}",
            "`letter.note` must be text, found a table",
            "14:8",
        ),
    ] {
        for command in ["check", "render"] {
            Test::campaign()
                .toml(&settings)
                .template(&format!("Dear {{{{recipient.name}}}},\n\n{template}\n"))
                .args([command])
                .status(1)
                .stderr_has(says)
                .stderr_has(&format!("lettermerge.toml:{line}"))
                .stderr_has("hint: templates/letter.md:")
                .run()
                .assert_out_files(&[]);
        }
    }
}

#[test]
fn a_subject_that_is_not_text_is_an_error_at_its_line() {
    for (value, found) in [
        ("{ en = \"Free them\" }", "a table"),
        ("[\"Free\", \"them\"]", "a list"),
    ] {
        Test::campaign()
            .setting("letter", &format!("subject = {value}"))
            .template("Dear {{recipient.name}},\n")
            .args(["check"])
            .status(1)
            .stderr_has(&format!("`letter.subject` must be text, found {found}"))
            .stderr_has("lettermerge.toml:10:11")
            .stderr_has("the email's Subject line")
            .run();
        Test::campaign()
            .setting("letter", &format!("subject = {value}"))
            .setting("email", "subject = \"Re: {{letter.subject}}\"")
            .template("Dear {{recipient.name}},\n")
            .args(["render", "--format", "eml"])
            .status(1)
            .stderr_has(&format!("`letter.subject` must be text, found {found}"))
            .stderr_has("hint: [email] subject prints it")
            .run()
            .assert_out_files(&[]);
    }
}

#[test]
fn a_multiline_csv_cell_printed_as_text_is_an_error_at_its_row() {
    csv_campaign("id,name,note\nalice,Alice,\"one\ntwo\"\n")
        .template("Dear {{recipient.name}},\n\n{{recipient.note}}\n")
        .args(["check"])
        .status(1)
        .stderr_has("`recipient.note` must be text, found a list")
        .stderr_has("recipients.csv:2:1")
        .stderr_has("{{lines …}}")
        .run();
    csv_campaign("id,name,note\nalice,Alice,\"one\ntwo\"\n")
        .template("Dear {{recipient.name}},\n\n{{lines recipient.note}}\n")
        .args(["render", "--format", "md"])
        .run();
}

#[test]
fn lists_and_tables_read_as_such_are_fine() {
    let ran = Test::campaign()
        .toml(&settings_with(
            "letter",
            "demands = [\"Free them\", \"Stop returns\"]\nsigners = [{ name = \"Ann\", title = \"Director\" }]\nmeta = { org = \"HRW\" }\nurgent = true\ncount = 3",
        ))
        .recipients(&recipient_with("address = [\"1 Road\", \"Oslo\"]\nseats = 12\n"))
        .template(concat!(
            "{{#each letter.demands}}({{@index}}) {{this}}\n{{/each}}\n",
            "{{join letter.demands}}\n\n{{enumerate letter.demands style=\"a\"}}\n\n",
            "{{lines recipient.address}}\n\n",
            "{{#each letter.signers}}{{name}}, {{title}}{{/each}}\n\n",
            "{{#with sender}}{{name}}{{/with}} {{letter.meta.org}} ",
            "{{#each letter.meta}}{{@key}}={{this}}{{/each}}\n\n",
            "{{#if letter.urgent}}URGENT{{/if}} {{letter.count}} {{recipient.seats}} ",
            "{{len letter.demands}} {{default letter.none \"fallback\"}} ",
            "{{#each (default letter.none letter.demands)}}[{{this}}]{{/each}}\n",
        ))
        .args(["check"])
        .stderr_has("0 errors")
        .run()
        .again()
        .args(["render", "--format", "md"])
        .run();
    let md = ran.out("alice.md");
    for shown in [
        "(0) Free them",
        "Free them and Stop returns",
        "(a) Free them",
        "1 Road\\\nOslo",
        "Ann, Director",
        "Ada HRW org=HRW",
        "URGENT 3 12 2 fallback [Free them][Stop returns]",
    ] {
        assert!(md.contains(shown), "lacks {shown:?}:\n{md}");
    }
}

// ---------------------------------------------------------------------------------------------
// Paths that lead outside the campaign folder (issue 22, item 12)
// ---------------------------------------------------------------------------------------------

/// A folder beside the campaign's with a letter, recipients, fonts and a CA file in it.
fn elsewhere() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("letter.md"), "SECRET {{recipient.name}}\n").unwrap();
    std::fs::write(dir.path().join("people.toml"), common::RECIPIENTS).unwrap();
    std::fs::write(dir.path().join("ca.pem"), "not a certificate\n").unwrap();
    std::fs::create_dir(dir.path().join("fonts")).unwrap();
    dir
}

/// What a campaign's path leads to, and which commands must refuse it.
struct Outside {
    /// `[table]` and its line.
    table: &'static str,
    line: String,
    /// What `check` warns.
    says: String,
    render: bool,
    send: bool,
}

fn outside_cases(other: &Path) -> Vec<Outside> {
    let o = other.display();
    let name = other.file_name().unwrap().to_string_lossy().into_owned();
    let case = |table, line: String, says: &str, render, send| Outside {
        table,
        line,
        says: says.to_string(),
        render,
        send,
    };
    vec![
        case(
            "campaign",
            format!("template = \"{o}/letter.md\""),
            "`campaign.template` leads outside the campaign folder",
            true,
            true,
        ),
        case(
            "campaign",
            format!("template = \"../{name}/letter.md\""),
            "`campaign.template` leads outside the campaign folder, to",
            true,
            true,
        ),
        case(
            "campaign",
            format!("recipients = \"{o}/people.toml\""),
            "`campaign.recipients` leads outside the campaign folder",
            true,
            true,
        ),
        case(
            "campaign",
            "output = \"../x\"".into(),
            "`campaign.output` leads outside the campaign folder, to",
            true,
            false,
        ),
        case(
            "campaign",
            format!("output = \"{o}/out\""),
            "`campaign.output` leads outside the campaign folder",
            true,
            false,
        ),
        case(
            "pdf",
            format!("font_dirs = [\"fonts\", \"{o}/fonts\"]"),
            "`pdf.font_dirs` leads outside the campaign folder",
            true,
            true,
        ),
        case(
            "smtp",
            format!("ca_file = \"{o}/ca.pem\""),
            "`smtp.ca_file` leads outside the campaign folder",
            false,
            true,
        ),
        case(
            "smtp",
            "sendmail = \"/bin/true\"".into(),
            "`smtp.sendmail` runs /bin/true, a program the campaign names",
            false,
            true,
        ),
    ]
}

/// The test campaign with `[smtp]` settings (sendmail ones for the sendmail case).
fn with_smtp(test: Test, case: &Outside) -> Test {
    let test = test
        .file("fonts/.keep", "")
        .setting("smtp", "host = \"127.0.0.1\"")
        .setting("smtp", "security = \"none\"");
    match case.line.starts_with("sendmail") {
        true => test.setting("smtp", "transport = \"sendmail\""),
        false => test,
    }
    .setting(case.table, &case.line)
}

#[test]
fn paths_outside_the_folder_are_warned_about_and_refused() {
    let other = elsewhere();
    for case in outside_cases(other.path()) {
        let what = &case.line;
        let mut ran = with_smtp(Test::campaign(), &case)
            .args(["check"])
            .stderr_has(&format!("warning: {}", case.says))
            .stderr_has("lettermerge.toml:")
            .stderr_has("only with --allow-outside")
            .stderr_has("0 errors")
            .run();
        for (command, refuses) in [
            (&["render"][..], case.render),
            (&["send", "--dry-run"], case.send),
        ] {
            let run = ran.again().args(command.iter().copied()).run_any_status();
            let report = format!("{what}, {command:?}\n{}", run.report());
            if refuses {
                assert_eq!(run.status, Some(1), "{report}");
                assert!(
                    run.stderr.contains(&format!("error: {}", case.says)),
                    "{report}"
                );
                assert!(
                    run.stderr.contains("run again with --allow-outside"),
                    "{report}"
                );
                assert!(
                    !run.stderr.contains("SECRET") && !run.stdout.contains("SECRET"),
                    "{report}"
                );
                if command[0] == "render" {
                    assert!(run.out_files().is_empty(), "{report}");
                }
            } else {
                assert_eq!(run.status, Some(0), "{report}");
                assert!(!run.stderr.contains(&case.says), "{report}");
            }
            ran = run;
        }
    }
    assert!(
        !other.path().join("out").exists(),
        "nothing was written there"
    );
}

#[test]
fn allow_outside_and_out_are_the_deliberate_ways_elsewhere() {
    let other = elsewhere();
    let o = other.path().display();
    let ran = Test::campaign()
        .setting("campaign", &format!("template = \"{o}/letter.md\""))
        .args(["render", "--format", "md", "--allow-outside"])
        .run();
    assert!(ran.out("alice.md").contains("SECRET Alice Ambassador"));
    let ran = Test::campaign()
        .setting("campaign", &format!("output = \"{o}/out\""))
        .args(["render", "--format", "md", "--out", "mine"])
        .stderr_lacks("outside")
        .run()
        .again()
        .args(["render", "--format", "md", "--stdout"])
        .stdout_has("Dear Alice Ambassador,")
        .stderr_lacks("outside")
        .run();
    assert!(ran.path().join("mine/alice.md").is_file());
    assert!(!other.path().join("out").exists());
    ran.again()
        .args(["render", "--format", "md", "--allow-outside"])
        .run();
    assert!(other.path().join("out/alice.md").is_file());
}

#[test]
fn links_that_lead_outside_are_paths_outside() {
    let other = elsewhere();
    for (link, to, says) in [
        (
            "templates/partials/sig.md",
            "letter.md",
            "`templates/partials/sig.md` leads outside the campaign folder",
        ),
        (
            "templates/letter.fr.md",
            "letter.md",
            "`templates/letter.fr.md` leads outside the campaign folder",
        ),
        (
            "recipients.toml",
            "people.toml",
            "`recipients.toml` leads outside the campaign folder",
        ),
        (
            "templates/letter.md",
            "letter.md",
            "`templates/letter.md` leads outside the campaign folder",
        ),
        ("out", "fonts", "`out` leads outside the campaign folder"),
    ] {
        let test = Test::campaign();
        let at = test.path().join(link);
        let _ = std::fs::remove_file(&at);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(other.path().join(to), &at).unwrap();
        let ran = test
            .args(["check"])
            .stderr_has(&format!("warning: {says}, to"))
            .run()
            .again()
            .args(["render", "--format", "md"])
            .status(1)
            .stderr_has(&format!("error: {says}"))
            .run();
        assert!(!ran.stdout.contains("SECRET") && !ran.stderr.contains("SECRET"));
        assert_eq!(
            std::fs::read_dir(other.path().join("fonts"))
                .unwrap()
                .count(),
            0
        );
    }
}

#[test]
fn paths_that_stay_inside_are_fine_and_absolute_ones_are_warned_about() {
    Test::campaign()
        .setting(
            "campaign",
            "template = \"templates/../templates/letter.md\"",
        )
        .setting("campaign", "output = \"./letters\"")
        .args(["check"])
        .stderr_has("0 errors, 0 warnings")
        .run()
        .again()
        .args(["render", "--format", "md"])
        .run();
    let test = Test::campaign();
    let inside = test.path().canonicalize().unwrap().join("recipients.toml");
    test.setting(
        "campaign",
        &format!("recipients = \"{}\"", inside.display()),
    )
    .args(["check"])
    .stderr_has("warning: `campaign.recipients` is an absolute path")
    .stderr_has("write it relative to the campaign folder")
    .stderr_has("0 errors, 1 warning")
    .run()
    .again()
    .args(["render", "--format", "md"])
    .stderr_lacks("absolute")
    .run();
}
