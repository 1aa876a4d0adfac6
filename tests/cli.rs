//! The command line as a user meets it: each test is one behaviour of the SPEC.

mod common;

use std::path::Path;

use common::{header, headers, part, Test, HOSTILE, HOSTILE_SHOWN, NOW};

// ---------------------------------------------------------------------------------------------
// Starting out
// ---------------------------------------------------------------------------------------------

/// `(id, has email)` of every recipient in a recipients.toml, in file order.
fn recipient_ids(toml: &str) -> Vec<(String, bool)> {
    let mut recipients: Vec<(Option<String>, bool)> = Vec::new();
    let mut in_recipient = false;
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            in_recipient = line == "[[recipient]]";
            if in_recipient {
                recipients.push((None, false));
            }
            continue;
        }
        let (Some(current), Some((key, value))) = (recipients.last_mut(), line.split_once('='))
        else {
            continue;
        };
        match key.trim() {
            "id" if in_recipient => current.0 = Some(value.trim().trim_matches('"').to_string()),
            "email" if in_recipient => current.1 = true,
            _ => {}
        }
    }
    recipients
        .into_iter()
        .map(|(id, email)| (id.expect("every recipient has an id"), email))
        .collect()
}

#[test]
fn fresh_root_campaign_renders_every_letter() {
    let ran = Test::root_campaign().args(["render"]).run();
    let recipients = recipient_ids(&ran.read("recipients.toml"));
    assert!(recipients.len() >= 2, "{recipients:?}");
    assert!(
        recipients.iter().any(|(_, email)| !email),
        "the root campaign has print-only recipients"
    );
    let mut expected = Vec::new();
    for (id, has_email) in &recipients {
        for ext in ["md", "txt", "html"] {
            expected.push(format!("{id}.{ext}"));
        }
        if *has_email {
            expected.push(format!("{id}.eml"));
        }
    }
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    ran.assert_out_files(&expected);
}

#[test]
fn fresh_root_campaign_checks_clean() {
    Test::root_campaign()
        .args(["check"])
        .stderr_has("0 errors, 0 warnings")
        .run();
}

#[test]
fn settings_file_is_optional_for_print_only_letters() {
    Test::new()
        .template("Dear {{recipient.name}},\n")
        .recipients("[[recipient]]\nid = \"alice\"\nname = \"Alice\"\n")
        .args(["render"])
        .run()
        .assert_out_files(&["alice.html", "alice.md", "alice.txt"]);
}

#[test]
fn init_writes_a_campaign_that_checks_and_renders() {
    let ran = Test::new()
        .args(["init", "my-campaign"])
        .run()
        .again()
        .in_dir("my-campaign")
        .args(["check"])
        .run()
        .again()
        .in_dir("my-campaign")
        .args(["render"])
        .run();
    assert!(!ran.out_files().is_empty(), "{}", ran.report());
}

/// An English recipient of the root campaign, its `init` starter and the joint letter, with
/// no `salutation`.
const WITHOUT_SALUTATION: &str = r#"[[recipient]]
id = "cn-embassy-ireland"
name = "H.E. the Ambassador of the People's Republic of China"
address = ["40 Ailesbury Road", "Dublin 4", "Ireland"]
email = "embassy-ireland@example.org"
language = "en"
"#;

/// Without a `salutation`, the English letters greet as a letter to an ambassador or minister
/// does, not with "Dear Sir or Madam" (which spam filters score: SpamAssassin's DEAR_SOMETHING).
#[test]
fn letter_without_salutation_opens_with_your_excellency() {
    let joint_letter = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/joint-letter");
    let starter = Test::new().args(["init", "."]).run().again();
    for (campaign, test) in [
        ("root", Test::root_campaign()),
        ("init", starter),
        ("joint-letter", Test::copy_of(&joint_letter)),
    ] {
        let ran = test
            .recipients(WITHOUT_SALUTATION)
            .args(["render", "--format", "txt,eml"])
            .run();
        let letter = ran.out("cn-embassy-ireland.txt");
        assert!(
            letter.contains("\n\nYour Excellency,\n\n"),
            "{campaign}: no \"Your Excellency,\" in\n{letter}"
        );
        let email = part(&ran.out("cn-embassy-ireland.eml"), "text/plain");
        assert!(
            !email.to_lowercase().contains("dear sir") && !email.to_lowercase().contains("madam"),
            "{campaign}: {email}"
        );
    }
}

#[test]
fn init_refuses_a_folder_that_has_a_campaign() {
    let ran = Test::new().args(["init", "my-campaign"]).run();
    let edited = "# my own recipients\n";
    std::fs::write(ran.path().join("my-campaign/recipients.toml"), edited).unwrap();
    let ran = ran
        .again()
        .args(["init", "my-campaign"])
        .status(1)
        .stderr_has("lettermerge.toml")
        .stderr_has("recipients.toml")
        .stderr_has("templates/letter.md")
        .run();
    assert_eq!(
        ran.read("my-campaign/recipients.toml"),
        edited,
        "nothing is overwritten"
    );
}

// ---------------------------------------------------------------------------------------------
// Problems in the recipients, pointed at
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_toml_syntax_names_file_line_and_column() {
    Test::campaign()
        .recipients(
            r#"[[recipient]]
id = "alice"
name = "Alice"

[[recipient]]
id = "bob"
name = Bob Minister
"#,
        )
        .args(["check"])
        .status(1)
        .stderr_has("recipients.toml:7:8")
        .run();
}

#[test]
fn duplicate_id_names_both_lines() {
    Test::campaign()
        .recipients(
            r#"[[recipient]]
id = "alice"
name = "Alice"

[[recipient]]
id = "alice"
name = "Alice again"
"#,
        )
        .args(["check"])
        .status(1)
        .stderr_has("recipient id `alice` is used twice")
        .stderr_has("recipients.toml:5:")
        .stderr_has("the first is on line 1")
        .run();
}

const TITLE_TEMPLATE: &str = "Dear {{recipient.name}},\n\nAs {{recipient.title}}, you can help.\n";

const TWO_WITHOUT_TITLE: &str = r#"[[recipient]]
id = "alice"
name = "Alice Ambassador"

[[recipient]]
id = "bob"
name = "Bob Minister"

[[recipient]]
id = "carol"
name = "Carol Consul"
title = "Consul General"
"#;

#[test]
fn missing_field_is_reported_for_every_recipient_with_template_place() {
    let ran = Test::campaign()
        .template(TITLE_TEMPLATE)
        .recipients(TWO_WITHOUT_TITLE)
        .args(["check"])
        .status(1)
        .stderr_has("templates/letter.md:3:4")
        .stderr_has("`recipient.title` is missing for recipient `alice`")
        .stderr_has("`recipient.title` is missing for recipient `bob`")
        .stderr_has("recipient: alice")
        .stderr_has("recipient: bob")
        .run();
    assert!(!ran.stderr.contains("carol"), "{}", ran.report());
}

#[test]
fn render_writes_good_letters_and_no_blanks_for_missing_fields() {
    let ran = Test::campaign()
        .template(TITLE_TEMPLATE)
        .recipients(TWO_WITHOUT_TITLE)
        .args(["render"])
        .status(1)
        .stderr_has("recipient.title")
        .run();
    ran.assert_out_files(&["carol.html", "carol.md", "carol.txt"]);
    assert!(ran
        .out("carol.txt")
        .contains("As Consul General, you can help."));
}

#[test]
fn bad_email_names_recipient_line_and_fix() {
    Test::campaign()
        .recipients(
            r#"[[recipient]]
id = "alice"
name = "Alice"
email = "alice-at-example.org"
"#,
        )
        .args(["check"])
        .status(1)
        .stderr_has("is not a valid email address")
        .stderr_has("recipients.toml:4:")
        .stderr_has("recipient: alice")
        .stderr_has("hint:")
        .run();
}

#[test]
fn misspelt_timezone_suggests_the_right_one() {
    Test::campaign()
        .recipients(
            r#"[[recipient]]
id = "alice"
name = "Alice"
timezone = "Europe/Olso"
"#,
        )
        .args(["check"])
        .status(1)
        .stderr_has("recipients.toml:4:")
        .stderr_has("recipient: alice")
        .stderr_has("did you mean \"Europe/Oslo\"")
        .run();
}

#[test]
fn bad_language_tag_is_an_error() {
    Test::campaign()
        .recipients(
            r#"[[recipient]]
id = "alice"
name = "Alice"
language = "english please"
"#,
        )
        .args(["check"])
        .status(1)
        .stderr_has("is not a language tag")
        .stderr_has("recipients.toml:4:")
        .stderr_has("recipient: alice")
        .stderr_has("hint:")
        .run();
}

#[test]
fn check_lists_problems_of_every_recipient_at_once() {
    Test::campaign()
        .recipients(
            r#"[[recipient]]
id = "alice"
name = "Alice"
email = "nope"

[[recipient]]
id = "bob"
name = "Bob"
timezone = "Mars/Olympus"
"#,
        )
        .args(["check"])
        .status(1)
        .stderr_has("recipients.toml:4:")
        .stderr_has("recipients.toml:9:")
        .stderr_has("2 errors")
        .run();
}

// ---------------------------------------------------------------------------------------------
// Recipient data is text, never markup
// ---------------------------------------------------------------------------------------------

#[test]
fn hostile_name_is_text_in_txt() {
    let ran = Test::campaign().recipients(HOSTILE).args(["render"]).run();
    let txt = ran.out("alice.txt");
    assert!(txt.contains(&format!("Dear {HOSTILE_SHOWN},")), "{txt}");
}

#[test]
fn hostile_name_is_text_in_html() {
    let ran = Test::campaign().recipients(HOSTILE).args(["render"]).run();
    let html = ran.out("alice.html");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<em>"), "{html}");
    assert!(html.contains("*Kim* _Lee_"), "{html}");
    assert!(html.contains("{{recipient.id}}"), "{html}");
}

#[test]
fn hostile_name_is_not_evaluated_in_md() {
    let ran = Test::campaign().recipients(HOSTILE).args(["render"]).run();
    let md = ran.out("alice.md");
    assert!(md.contains("{{recipient.id}}"), "{md}");
    assert!(!md.contains("<script>"), "raw HTML in Markdown: {md}");
    assert!(!md.contains(" *Kim*"), "unescaped emphasis: {md}");
}

#[test]
fn hostile_name_is_text_in_eml() {
    let ran = Test::campaign().recipients(HOSTILE).args(["render"]).run();
    let eml = ran.out("alice.eml");
    let text = part(&eml, "text/plain");
    let html = part(&eml, "text/html");
    assert_eq!(
        text,
        ran.out("alice.txt"),
        "the email's text is the letter's text"
    );
    assert_eq!(
        html,
        ran.out("alice.html"),
        "the email's HTML is the letter's HTML"
    );
    assert!(
        text.contains("<script>alert(1)</script> {{recipient.id}}"),
        "{text}"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
}

#[test]
fn name_cannot_inject_mail_headers() {
    let ran = Test::campaign()
        .recipients(
            r#"[[recipient]]
id = "evil"
name = "Evil\r\nBcc: victim@example.org"
email = "evil@example.org"
"#,
        )
        .args(["render", "--format", "eml"])
        .run();
    let eml = ran.out("evil.eml");
    let names: Vec<String> = headers(&eml)
        .into_iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    assert!(!names.contains(&"bcc".to_string()), "{eml}");
    assert!(!names.contains(&"cc".to_string()), "{eml}");
    let to = header(&eml, "To").expect("a To header");
    assert_eq!(to.matches('<').count(), 1, "one recipient only: {to}");
    assert!(to.ends_with("<evil@example.org>"), "{to}");
}

#[test]
fn email_with_line_break_is_rejected() {
    Test::campaign()
        .recipients(
            r#"[[recipient]]
id = "evil"
name = "Evil"
email = "evil@example.org\r\nBcc: victim@example.org"
"#,
        )
        .args(["check"])
        .status(1)
        .stderr_has("is not a valid email address")
        .stderr_has("recipient: evil")
        .run();
}

#[test]
fn cc_with_line_break_is_rejected() {
    Test::campaign()
        .recipients(
            r#"[[recipient]]
id = "evil"
name = "Evil"
email = "evil@example.org"
cc = ["office@example.org\nBcc: victim@example.org"]
"#,
        )
        .args(["check"])
        .status(1)
        .stderr_has("recipient: evil")
        .run();
}

// ---------------------------------------------------------------------------------------------
// render's options
// ---------------------------------------------------------------------------------------------

#[test]
fn render_only_writes_that_recipient() {
    Test::campaign()
        .args(["render", "--only", "bob"])
        .run()
        .assert_out_files(&["bob.html", "bob.md", "bob.txt"]);
}

#[test]
fn render_only_unknown_id_fails() {
    Test::campaign()
        .args(["render", "--only", "nope"])
        .status(1)
        .stderr_has("no recipient with id `nope`")
        .run();
}

#[test]
fn render_stdout_prints_the_letter_and_writes_nothing() {
    let ran = Test::campaign()
        .args(["render", "--stdout", "--format", "txt", "--only", "alice"])
        .stdout_has("Dear Alice Ambassador,")
        .stdout_has("10 December 2026")
        .stdout_lacks("Bob")
        .run();
    assert!(ran.out_files().is_empty(), "{:?}", ran.out_files());
}

#[test]
fn unknown_format_is_a_command_line_error() {
    let ran = Test::campaign()
        .args(["render", "--format", "md,bogus"])
        .status(2)
        .stderr_has("bogus")
        .run();
    assert!(ran.out_files().is_empty(), "{:?}", ran.out_files());
}

// ---------------------------------------------------------------------------------------------
// Recipients from a spreadsheet
// ---------------------------------------------------------------------------------------------

const CSV_TEMPLATE: &str = "{{lines recipient.address}}\n\nDear {{recipient.name}},\n";

#[test]
fn csv_multiline_cell_is_an_address_and_cc_splits_on_semicolons() {
    let ran = Test::campaign()
        .setting("campaign", r#"recipients = "recipients.csv""#)
        .template(CSV_TEMPLATE)
        .file(
            "recipients.csv",
            "id,name,email,address,cc\n\
             alice,Alice Ambassador,alice@example.org,\"1 Embassy Road\n0244 Oslo\nNorway\",a@example.org;b@example.org\n\
             bob,Bob Minister,,\"2 Ministry Street\nParis\",\n",
        )
        .args(["render"])
        .run();
    assert!(
        ran.out("alice.txt")
            .starts_with("1 Embassy Road\n0244 Oslo\nNorway\n"),
        "{}",
        ran.out("alice.txt")
    );
    let cc = header(&ran.out("alice.eml"), "Cc").expect("a Cc header");
    assert!(
        cc.contains("a@example.org") && cc.contains("b@example.org"),
        "{cc}"
    );
    ran.assert_out_files(&[
        "alice.eml",
        "alice.html",
        "alice.md",
        "alice.txt",
        "bob.html",
        "bob.md",
        "bob.txt",
    ]);
}

#[test]
fn csv_row_with_too_few_cells_names_file_and_line() {
    Test::campaign()
        .setting("campaign", r#"recipients = "recipients.csv""#)
        .file(
            "recipients.csv",
            "id,name,email\nalice,Alice,alice@example.org\nbob,Bob\n",
        )
        .args(["check"])
        .status(1)
        .stderr_has("recipients.csv:3:")
        .run();
}

// ---------------------------------------------------------------------------------------------
// Languages
// ---------------------------------------------------------------------------------------------

const FOUR_LANGUAGES: &str = r#"[[recipient]]
id = "fr"
name = "Fleur"
language = "fr"

[[recipient]]
id = "de"
name = "Dieter"
language = "de"

[[recipient]]
id = "ko"
name = "Kim"
language = "ko"

[[recipient]]
id = "zh"
name = "Zhang"
language = "zh"
"#;

#[test]
fn language_variant_is_picked_with_fallback_to_the_plain_letter() {
    let ran = Test::campaign()
        .template("Dear {{recipient.name}},\n")
        .file(
            "templates/letter.fr.md",
            "Madame, Monsieur {{recipient.name}},\n",
        )
        .recipients(FOUR_LANGUAGES)
        .args(["render", "--format", "txt"])
        .run();
    assert_eq!(ran.out("fr.txt"), "Madame, Monsieur Fleur,\n");
    assert_eq!(ran.out("de.txt"), "Dear Dieter,\n");
}

#[test]
fn format_date_speaks_the_recipient_language() {
    let ran = Test::campaign()
        .setting("campaign", "date = 2026-12-10")
        .template("{{format_date date}}\n")
        .recipients(FOUR_LANGUAGES)
        .args(["render", "--format", "txt"])
        .run();
    assert_eq!(ran.out("fr.txt"), "10 décembre 2026\n");
    assert_eq!(ran.out("ko.txt"), "2026년 12월 10일\n");
    assert_eq!(ran.out("zh.txt"), "2026年12月10日\n");
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

#[test]
fn join_writes_a_list_in_prose() {
    let ran = Test::campaign()
        .template("cc: {{join recipient.cc}}\n")
        .recipients(
            r#"[[recipient]]
id = "alice"
name = "Alice"
cc = ["a@example.org", "b@example.org", "c@example.org"]
"#,
        )
        .args(["render", "--format", "txt"])
        .run();
    assert_eq!(
        ran.out("alice.txt"),
        "cc: a@example.org, b@example.org and c@example.org\n"
    );
}

#[test]
fn enumerate_marks_items_with_capital_letters() {
    let ran = Test::campaign()
        .setting(
            "letter",
            r#"demands = ["Release them.", "Stop the returns."]"#,
        )
        .template("We ask you to:\n\n{{enumerate letter.demands style=\"A\"}}\n\nThank you.\n")
        .args(["render", "--format", "txt", "--only", "alice"])
        .run();
    let txt = ran.out("alice.txt");
    assert!(txt.contains("(A) Release them.\n"), "{txt}");
    assert!(txt.contains("(B) Stop the returns.\n"), "{txt}");
}

#[test]
fn footnotes_are_numbered_and_collected_at_the_end() {
    let ran = Test::campaign()
        .template(
            "A first claim.{{footnote \"The first source.\"}}\n\nA second claim.{{footnote \"The second source.\"}}\n\nYours sincerely.\n",
        )
        .args(["render", "--format", "txt", "--only", "alice"])
        .run();
    let txt = ran.out("alice.txt");
    assert!(txt.contains("A first claim.[1]"), "{txt}");
    assert!(txt.contains("A second claim.[2]"), "{txt}");
    let notes = txt
        .find("[1] The first source.")
        .unwrap_or_else(|| panic!("{txt}"));
    let second = txt
        .find("[2] The second source.")
        .unwrap_or_else(|| panic!("{txt}"));
    let body_end = txt.find("Yours sincerely.").unwrap();
    assert!(
        body_end < notes && notes < second,
        "the notes close the letter: {txt}"
    );
}

// ---------------------------------------------------------------------------------------------
// Email
// ---------------------------------------------------------------------------------------------

#[test]
fn eml_is_multipart_text_and_html() {
    let ran = Test::campaign().args(["render"]).run();
    let eml = ran.out("alice.eml");
    let content_type = header(&eml, "Content-Type").expect("a Content-Type");
    assert!(
        content_type.starts_with("multipart/alternative"),
        "{content_type}"
    );
    let kinds: Vec<String> = common::parts(&eml).into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(kinds[0].starts_with("text/plain"), "{kinds:?}");
    assert!(kinds[1].starts_with("text/html"), "{kinds:?}");
    assert_eq!(part(&eml, "text/plain"), ran.out("alice.txt"));
    assert_eq!(part(&eml, "text/html"), ran.out("alice.html"));
}

#[test]
fn eml_headers_come_from_campaign_recipient_and_clock() {
    let eml = Test::campaign().args(["render"]).run().out("alice.eml");
    let h = |name| header(&eml, name).unwrap_or_else(|| panic!("no {name} header in {eml}"));
    assert_eq!(h("Message-ID"), "<test-campaign.alice@example.org>");
    let unquoted = |name| h(name).replace('"', "");
    assert_eq!(unquoted("To"), "Alice Ambassador <alice@example.org>");
    assert_eq!(h("Cc"), "office@example.org");
    assert_eq!(unquoted("From"), "Ada Advocate <ada@example.org>");
    assert_eq!(h("Subject"), "Free the prisoners");
    assert_eq!(
        h("Date"),
        "Tue, 01 Dec 2026 10:00:00 +0000",
        "LETTERMERGE_NOW is {NOW}"
    );
}

#[test]
fn eml_renders_byte_identical_twice() {
    let ran = Test::campaign().args(["render"]).run();
    let first = ran.out_bytes("alice.eml");
    let ran = ran.again().args(["render"]).run();
    assert_eq!(first, ran.out_bytes("alice.eml"));
}

#[test]
fn print_only_recipient_has_no_eml() {
    Test::campaign()
        .args(["render"])
        .stderr_has("bob")
        .run()
        .assert_out_files(&[
            "alice.eml",
            "alice.html",
            "alice.md",
            "alice.txt",
            "bob.html",
            "bob.md",
            "bob.txt",
        ]);
}

#[test]
fn many_print_only_recipients_are_counted_not_all_named() {
    let recipients: String = (1..=15)
        .map(|i| format!("[[recipient]]\nid = \"p{i:02}\"\nname = \"P {i}\"\naddress = [\"Street {i}\", \"Town\"]\n\n"))
        .collect();
    Test::campaign()
        .recipients(&recipients)
        .args(["render", "--format", "eml,md"])
        .stderr_has("no .eml for 15 recipients without email (print-only): p01, p02,")
        .stderr_has("p12 and 3 more")
        .stderr_lacks("p13")
        .run();
}

#[test]
fn a_recipients_own_letter_slots_stay_theirs() {
    // One thread merges every letter in turn, so each letter follows one that had other slots.
    let ran = Test::campaign()
        .recipients(
            r#"[[recipient]]
id = "a"
name = "A"
[recipient.letter]
subject = "their own subject"

[[recipient]]
id = "b"
name = "B"

[[recipient]]
id = "c"
name = "C"
[recipient.letter]
subject = "another subject"

[[recipient]]
id = "d"
name = "D"
"#,
        )
        .env("RAYON_NUM_THREADS", "1")
        .args(["render", "--format", "md"])
        .run();
    for (id, subject) in [
        ("a", "their own subject"),
        ("b", "Free the prisoners"),
        ("c", "another subject"),
        ("d", "Free the prisoners"),
    ] {
        let md = String::from_utf8(ran.out_bytes(&format!("{id}.md"))).unwrap();
        assert!(md.contains(&format!("about {subject}.")), "{id}: {md}");
    }
}

#[test]
fn email_subject_error_points_at_its_line() {
    Test::campaign()
        .setting("email", r#"subject = "About {{letter.topic}}""#)
        .args(["check"])
        .status(1)
        .stderr_has("letter.topic")
        .stderr_has("lettermerge.toml:13:")
        .run();
}

// ---------------------------------------------------------------------------------------------
// check's warnings
// ---------------------------------------------------------------------------------------------

#[test]
fn misspelt_field_is_a_warning_with_a_suggestion() {
    Test::campaign()
        .recipients(
            r#"[[recipient]]
id = "alice"
name = "Alice"
adress = ["1 Road", "Oslo"]
"#,
        )
        .args(["check"])
        .stderr_has("warning")
        .stderr_has("`adress`")
        .stderr_has("did you mean `address`")
        .stderr_has("recipients.toml:4:")
        .run();
}

#[test]
fn clean_campaign_checks_without_problems() {
    Test::campaign()
        .args(["check"])
        .stderr_has("0 errors, 0 warnings")
        .run();
}

// ---------------------------------------------------------------------------------------------
// Templates that cannot be used
// ---------------------------------------------------------------------------------------------

#[test]
fn missing_template_is_named() {
    Test::campaign()
        .remove("templates/letter.md")
        .args(["check"])
        .status(1)
        .stderr_has("templates/letter.md")
        .run();
}

#[test]
fn unclosed_block_in_template_is_named() {
    Test::campaign()
        .template("Dear {{recipient.name}},\n\n{{#if x}}\nSomething.\n")
        .args(["check"])
        .status(1)
        .stderr_has("templates/letter.md")
        .run();
}

#[test]
fn unclosed_block_stops_render_too() {
    let ran = Test::campaign()
        .template("Dear {{recipient.name}},\n\n{{#if x}}\nSomething.\n")
        .args(["render"])
        .status(1)
        .stderr_has("templates/letter.md")
        .run();
    assert!(ran.out_files().is_empty(), "{:?}", ran.out_files());
}

// ---------------------------------------------------------------------------------------------
// The campaign folder
// ---------------------------------------------------------------------------------------------

#[test]
fn missing_campaign_folder_is_an_error_not_a_panic() {
    for command in ["check", "render"] {
        Test::new()
            .in_dir("does-not-exist")
            .args([command])
            .status(1)
            .stderr_has("does-not-exist")
            .run();
    }
}

#[test]
fn a_fresh_render_leaves_no_partial_folder_and_a_second_replaces_files_whole() {
    let ran = Test::campaign().args(["render", "--format", "md"]).run();
    let hidden: Vec<_> = std::fs::read_dir(ran.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
    ran.assert_out_files(&["alice.md", "bob.md"]);
    let again = ran.again().args(["render", "--format", "md,txt"]).run();
    again.assert_out_files(&["alice.md", "alice.txt", "bob.md", "bob.txt"]);
}

#[test]
fn a_file_that_cannot_be_written_is_named_with_its_recipient_and_the_rest_are_written() {
    let test = Test::campaign();
    // A folder where alice's letter should go: renaming the letter over it fails.
    std::fs::create_dir_all(test.path().join("out/alice.md/inside")).unwrap();
    let ran = test
        .args(["render", "--format", "md,txt"])
        .status(1)
        .stderr_has("cannot write alice.md")
        .stderr_has("recipient: alice")
        .stderr_has("something is in the way of alice.md")
        .stderr_has("1 problem: fix it and run render again")
        .stderr_has("3 files were written to")
        .stderr_lacks("wrote ")
        .run();
    for name in ["alice.txt", "bob.md", "bob.txt"] {
        assert!(ran.path().join("out").join(name).is_file(), "{name}");
    }
    assert!(ran.path().join("out/alice.md/inside").is_dir());
}

#[test]
fn out_may_name_an_empty_folder_with_a_trailing_dot() {
    let test = Test::campaign();
    std::fs::create_dir_all(test.path().join("letters")).unwrap();
    let ran = test
        .args(["render", "--format", "md", "--out", "letters/."])
        .stderr_has("wrote 2 files for 2 letters")
        .run();
    assert!(ran.path().join("letters/alice.md").exists());
}

/// The hidden names in a folder: what a render may leave behind.
fn hidden_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn out_as_a_link_to_an_empty_folder_is_that_folder() {
    let test = Test::campaign();
    std::fs::create_dir_all(test.path().join("real")).unwrap();
    std::os::unix::fs::symlink("real", test.path().join("out")).unwrap();
    let ran = test
        .args(["render", "--format", "md"])
        .stderr_has("wrote 2 files for 2 letters")
        .run();
    assert!(ran
        .path()
        .join("out")
        .symlink_metadata()
        .unwrap()
        .is_symlink());
    ran.assert_out_files(&["alice.md", "bob.md"]);
    assert!(ran.path().join("real/alice.md").is_file());
    assert!(
        hidden_in(ran.path()).is_empty(),
        "{:?}",
        hidden_in(ran.path())
    );
    assert!(hidden_in(&ran.path().join("real")).is_empty());
    // And again, now that it is full.
    let ran = ran
        .again()
        .args(["render", "--format", "md,txt"])
        .stderr_has("wrote 4 files for 2 letters")
        .run();
    ran.assert_out_files(&["alice.md", "alice.txt", "bob.md", "bob.txt"]);
    assert!(
        hidden_in(ran.path()).is_empty(),
        "{:?}",
        hidden_in(ran.path())
    );
}

#[test]
fn out_as_a_link_to_a_full_folder_replaces_its_letters_and_keeps_the_rest() {
    let test = Test::campaign();
    std::fs::create_dir_all(test.path().join("real")).unwrap();
    std::fs::write(test.path().join("real/alice.md"), "an old letter\n").unwrap();
    std::fs::write(test.path().join("real/notes.txt"), "mine\n").unwrap();
    std::os::unix::fs::symlink("real", test.path().join("out")).unwrap();
    let ran = test
        .args(["render", "--format", "md"])
        .stderr_has("wrote 2 files for 2 letters")
        .run();
    assert!(ran
        .path()
        .join("out")
        .symlink_metadata()
        .unwrap()
        .is_symlink());
    assert!(ran.out("alice.md").contains("Dear Alice Ambassador"));
    assert_eq!(ran.read("real/notes.txt"), "mine\n");
    assert!(hidden_in(&ran.path().join("real")).is_empty());
}

#[test]
fn out_as_a_link_to_nothing_is_an_error_that_names_it() {
    let test = Test::campaign();
    std::os::unix::fs::symlink("missing", test.path().join("out")).unwrap();
    let ran = test
        .args(["render", "--format", "md"])
        .status(1)
        .stderr_has("is a link to missing, which does not exist")
        .stderr_has("create that folder, remove the link")
        .stderr_lacks("wrote ")
        .run();
    assert!(!ran.path().join("missing").exists());
    assert!(ran
        .path()
        .join("out")
        .symlink_metadata()
        .unwrap()
        .is_symlink());
    assert!(
        hidden_in(ran.path()).is_empty(),
        "{:?}",
        hidden_in(ran.path())
    );
}

#[test]
fn out_as_a_file_is_an_error_and_the_file_stays() {
    let test = Test::campaign().file("out", "my notes\n");
    let ran = test
        .args(["render", "--format", "md"])
        .status(1)
        .stderr_has("is a file, not a folder")
        .stderr_has("choose another folder with --out")
        .stderr_lacks("wrote ")
        .run();
    assert_eq!(ran.read("out"), "my notes\n");
    assert!(
        hidden_in(ran.path()).is_empty(),
        "{:?}",
        hidden_in(ran.path())
    );
}

#[test]
fn a_letter_with_a_problem_prints_no_success_line() {
    Test::campaign()
        .template("Dear {{recipient.honorific}},\n")
        .args(["render", "--format", "md"])
        .status(1)
        .stderr_has("2 problems: fix them and run render again")
        .stderr_has("nothing was written to")
        .stderr_lacks("wrote ")
        .run();
}
