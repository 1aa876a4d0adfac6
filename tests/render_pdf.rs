//! `render --format pdf` without any system package: Typst's own fonts set the English letters
//! of the minimal campaign. (The words of every campaign's PDFs, CJK included, are checked with
//! poppler in the second suite: tests/pdf.rs.)
#![cfg(feature = "pdf")]

mod common;

use common::Test;

fn is_pdf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"%PDF-") && bytes.windows(5).any(|w| w == b"%%EOF")
}

#[test]
fn every_recipient_gets_a_pdf_letter_print_only_too() {
    let ran = Test::campaign()
        .args(["render", "--format", "pdf"])
        .stderr_has("wrote 2 files for 2 letters")
        .run();
    ran.assert_out_files(&["alice.pdf", "bob.pdf"]);
    assert!(is_pdf(&ran.out_bytes("alice.pdf")));
    assert!(is_pdf(&ran.out_bytes("bob.pdf")));
}

#[test]
fn hostile_data_is_typeset_as_text_never_run_as_typst() {
    let recipients = r##"[[recipient]]
id = "eve"
name = "#import \"/etc/passwd\" *bold* _x_ $x^2$ <script> ] [ @ref // not a comment \\"
email = "eve@example.org"
"##;
    let ran = Test::campaign()
        .recipients(recipients)
        .args(["render", "--format", "pdf"])
        .run();
    assert!(is_pdf(&ran.out_bytes("eve.pdf")));
}

#[test]
fn combined_writes_one_file_with_every_letter() {
    let ran = Test::campaign()
        .setting("pdf", "duplex = true")
        .args(["render", "--format", "pdf", "--combined"])
        .stderr_has("wrote 3 files for 2 letters")
        .run();
    ran.assert_out_files(&["alice.pdf", "bob.pdf", "letters.pdf"]);
    let combined = ran.out_bytes("letters.pdf");
    assert!(is_pdf(&combined));
    assert!(combined.len() > ran.out_bytes("alice.pdf").len());
}

#[test]
fn combined_needs_pdf_among_the_formats() {
    Test::campaign()
        .args(["render", "--format", "txt", "--combined"])
        .status(1)
        .stderr_has("--combined makes one PDF of every letter, so it needs pdf among the formats")
        .run();
}

#[test]
fn an_unknown_paper_size_is_reported_where_it_is_written() {
    Test::campaign()
        .setting("pdf", "paper = \"a5\"")
        .args(["check"])
        .status(1)
        .stderr_has("\"a5\" is not a paper size")
        .stderr_has("lettermerge.toml:")
        .stderr_has("paper = \"us-letter\"")
        .run();
}

#[test]
fn a_recipient_may_have_its_own_paper() {
    let recipients = r#"[[recipient]]
id = "us"
name = "Office in Washington"
paper = "us-letter"
"#;
    let ran = Test::campaign()
        .recipients(recipients)
        .args(["render", "--format", "pdf"])
        .run();
    let pdf = String::from_utf8_lossy(&ran.out_bytes("us.pdf")).into_owned();
    // US Letter is 612 x 792 points; A4 would be 595.28 x 841.89.
    assert!(pdf.contains("612 792"), "no US Letter MediaBox");
}

#[test]
fn attach_pdf_attaches_the_letter_to_its_email() {
    let ran = Test::campaign()
        .setting("email", "attach_pdf = true")
        .args(["render", "--format", "eml"])
        .run();
    let eml = ran.out("alice.eml");
    assert!(eml.contains("Content-Type: multipart/mixed"), "{eml}");
    assert!(eml.contains("Content-Type: application/pdf"), "{eml}");
    assert!(eml.contains("filename=\"alice.pdf\""), "{eml}");
    let again = ran.again().args(["render", "--format", "eml"]).run();
    assert_eq!(again.out("alice.eml"), eml, "the email stays byte-stable");
}

#[test]
fn an_address_too_tall_for_the_window_is_an_error_not_a_hidden_line() {
    let lines: Vec<String> = (1..=14).map(|i| format!("\"Line {i}\"")).collect();
    let recipients = format!(
        "[[recipient]]\nid = \"tall\"\nname = \"Tall Address\"\naddress = [{}]\n",
        lines.join(", ")
    );
    let template = "{{> address}}\n\nDear {{recipient.name}},\n";
    Test::campaign()
        .recipients(&recipients)
        .template(template)
        .file(
            "templates/partials/address.md",
            "{{recipient.name}}\\\n{{lines recipient.address}}\n",
        )
        .args(["render", "--format", "pdf"])
        .status(1)
        .stderr_has("cannot typeset the PDF for `tall`")
        .stderr_has("the address block is too tall for the envelope window")
        .run();
}

#[test]
fn a_font_or_paper_that_is_not_there_is_named() {
    Test::campaign()
        .setting("pdf", "fonts = [\"No Such Serif\"]")
        .args(["render", "--format", "pdf"])
        .status(1)
        .stderr_has("the font \"No Such Serif\" named in [pdf] fonts is not on this computer")
        .run();
    Test::campaign()
        .setting("pdf", "font_dirs = [\"fonts\"]")
        .args(["render", "--format", "pdf"])
        .status(1)
        .stderr_has("fonts does not exist")
        .run();
    let recipients = "[[recipient]]\nid = \"ana\"\nname = \"Ana\"\npaper = \"a5\"\n";
    Test::campaign()
        .recipients(recipients)
        .args(["check"])
        .status(1)
        .stderr_has("\"a5\" is not a paper size")
        .stderr_has("recipient: ana")
        .run();
}

/// A recipient whose address is too tall for the envelope's window (its PDF cannot be made),
/// beside one whose letter is fine.
fn tall_and_short() -> Test {
    let lines: Vec<String> = (1..=14).map(|i| format!("\"Line {i}\"")).collect();
    let recipients = format!(
        "[[recipient]]\nid = \"tall\"\nname = \"Tall Address\"\nemail = \"tall@example.org\"\naddress = [{}]\n\n\
         [[recipient]]\nid = \"short\"\nname = \"Short Address\"\nemail = \"short@example.org\"\naddress = [\"Street 1\"]\n",
        lines.join(", ")
    );
    Test::campaign()
        .recipients(&recipients)
        .template("{{> address}}\n\nDear {{recipient.name}},\n")
        .file(
            "templates/partials/address.md",
            "{{recipient.name}}\\\n{{lines recipient.address}}\n",
        )
}

#[test]
fn a_pdf_that_cannot_be_made_costs_only_that_pdf() {
    let ran = tall_and_short()
        .args(["render", "--format", "md,txt,html,pdf,eml"])
        .status(1)
        .stderr_has("cannot typeset the PDF for `tall`")
        .stderr_has(
            "no .pdf was written for this recipient; its .md, .txt, .html and .eml were written",
        )
        .stderr_has("1 problem: fix it and run render again")
        .stderr_has("9 files were written to")
        .stderr_lacks("wrote ")
        .run();
    ran.assert_out_files(&[
        "short.eml",
        "short.html",
        "short.md",
        "short.pdf",
        "short.txt",
        "tall.eml",
        "tall.html",
        "tall.md",
        "tall.txt",
    ]);
    assert!(ran.out("tall.txt").contains("Dear Tall Address,"));
}

#[test]
fn an_email_that_attaches_a_pdf_that_cannot_be_made_is_not_written_and_the_rest_are() {
    let ran = tall_and_short()
        .setting("email", "attach_pdf = true")
        .args(["render", "--format", "md,eml"])
        .status(1)
        .stderr_has("cannot typeset the PDF for `tall`")
        .stderr_has("no .eml was written for this recipient (the email attaches the letter's PDF); its .md was written")
        .run();
    ran.assert_out_files(&["short.eml", "short.md", "tall.md"]);
    // Asked for the PDF too: one problem for both files.
    let ran = ran
        .again()
        .args(["render", "--format", "pdf,eml"])
        .status(1)
        .stderr_has("no .pdf or .eml was written for this recipient")
        .run();
    assert_eq!(
        ran.stderr.matches("cannot typeset").count(),
        1,
        "{}",
        ran.report()
    );
}

#[test]
fn check_lays_out_the_pdfs_when_the_emails_attach_them_or_when_asked() {
    // Without PDFs in use, check says nothing of them.
    tall_and_short()
        .args(["check"])
        .stderr_has("checked 2 recipients (2 with email, 0 print-only): 0 errors")
        .run();
    tall_and_short()
        .args(["check", "--pdf"])
        .status(1)
        .stderr_has("cannot typeset the PDF for `tall`")
        .stderr_has("the address block is too tall for the envelope window")
        .stderr_has("recipient: tall")
        .stderr_has("checked 2 recipients (2 with email, 0 print-only) and their PDFs: 1 error")
        .run();
    let ran = tall_and_short()
        .setting("email", "attach_pdf = true")
        .args(["check"])
        .status(1)
        .stderr_has("cannot typeset the PDF for `tall`")
        .stderr_has("and their PDFs: 1 error")
        .run();
    assert!(!ran.path().join("out").exists(), "check wrote files");
}

#[test]
fn a_word_longer_than_any_line_is_typeset_not_refused() {
    let long = format!("Flat12Building{}End", "X".repeat(200));
    let recipients = format!(
        "[[recipient]]\nid = \"long\"\nname = \"Long Line\"\naddress = [\"{long}\", \"0244 Oslo\"]\n\n\
         [recipient.letter]\nsubject = \"{long}\"\n"
    );
    let ran = Test::campaign()
        .recipients(&recipients)
        .template("{{> address}}\n\nDear {{recipient.name}}, about {{letter.subject}}.\n")
        .file(
            "templates/partials/address.md",
            "{{recipient.name}}\\\n{{lines recipient.address}}\n",
        )
        .args(["render", "--format", "pdf"])
        .stderr_has("wrote 1 file for 1 letter")
        .run();
    assert!(is_pdf(&ran.out_bytes("long.pdf")));
    ran.again()
        .args(["check", "--pdf"])
        .stderr_has("and their PDFs: 0 errors")
        .run();
}
