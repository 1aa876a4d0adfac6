//! `status` tells the truth by itself, for every letter however it travels, and `posted`
//! records postal letters; no command panics on a closed pipe.

mod common;
#[path = "common/smtp.rs"]
mod smtp;

use std::process::{Command, Stdio};

use common::{record, Ran, Test};
use serde_json::Value;
use smtp::{Script, SmtpServer};

/// Alice has email (and a cc); Bob and Carol are print-only.
const RECIPIENTS: &str = r#"[[recipient]]
id = "alice"
name = "Alice Ambassador"
email = "alice@example.org"

[[recipient]]
id = "bob"
name = "Bob Minister"

[[recipient]]
id = "carol"
name = "Carol Consul"
"#;

fn campaign() -> Test {
    Test::campaign().recipients(RECIPIENTS)
}

fn through(server: &SmtpServer) -> Test {
    campaign()
        .setting("smtp", "host = \"127.0.0.1\"")
        .setting("smtp", &format!("port = {}", server.port()))
        .setting("smtp", "security = \"none\"")
}

fn state(records: &[Value], id: &str) -> String {
    record(records, id)["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn status_of(test: Test) -> (Ran, Vec<Value>) {
    test.args(["check"]).run().status_json(None)
}

#[test]
fn status_lists_print_only_recipients_as_to_post() {
    let (ran, records) = status_of(campaign());
    assert_eq!(records.len(), 3, "every recipient has a row: {records:#?}");
    assert_eq!(state(&records, "alice"), "pending");
    assert_eq!(state(&records, "bob"), "to-post");
    assert_eq!(state(&records, "carol"), "to-post");
    ran.again()
        .args(["status"])
        .stdout_has("bob")
        .stdout_has("to-post")
        .stderr_has("1 pending, 2 to-post")
        .run();
}

#[test]
fn posted_records_the_day_and_keeps_the_first_one() {
    let ran = campaign()
        .args(["posted", "bob", "--on", "2026-12-09"])
        .stderr_has("bob: posted on 2026-12-09")
        .stderr_has("recorded 1 letter as posted")
        .run();
    let ran = ran
        .again()
        .args(["posted", "--all"])
        .stderr_has("bob: already recorded as posted on 2026-12-09")
        .stderr_has("carol: posted on 2026-12-01")
        .run();
    let (ran, records) = ran.status_json(None);
    assert_eq!(state(&records, "bob"), "posted");
    assert_eq!(record(&records, "bob")["posted_on"], "2026-12-09");
    assert_eq!(record(&records, "carol")["posted_on"], "2026-12-01");
    assert_eq!(state(&records, "alice"), "pending");
    ran.again()
        .args(["status"])
        .stdout_has("posted 2026-12-09")
        .stderr_has("1 pending, 2 posted")
        .run();
}

#[test]
fn posted_refuses_a_recipient_with_email_or_an_unknown_id_and_records_nothing() {
    let ran = campaign()
        .args(["posted", "bob", "alice", "dora"])
        .status(1)
        .stderr_has("`alice` has an email address")
        .stderr_has("there is no recipient with id `dora`")
        .stderr_has("nothing was recorded")
        .run();
    let (_, records) = ran.status_json(None);
    assert_eq!(state(&records, "bob"), "to-post", "all or nothing");
}

#[test]
fn posted_needs_ids_or_all() {
    campaign()
        .args(["posted"])
        .status(2)
        .stderr_has("<ID>")
        .run();
}

#[test]
fn a_posted_recipient_later_given_an_email_is_not_emailed_too() {
    let server = SmtpServer::start(Script::new());
    let ran = through(&server).args(["posted", "bob"]).run();
    let with_email = RECIPIENTS.replace(
        "name = \"Bob Minister\"",
        "name = \"Bob Minister\"\nemail = \"bob@example.org\"",
    );
    ran.again()
        .recipients(&with_email)
        .args(["send", "--yes"])
        .stderr_has("1 letter already sent")
        .run();
    assert_eq!(server.messages_to("bob@example.org").len(), 0);
    assert_eq!(server.messages_to("alice@example.org").len(), 1);
}

#[test]
fn status_shows_sending_while_a_send_runs_and_uncertain_once_it_was_killed() {
    let server = SmtpServer::start(Script::new().hold_at_data("alice@example.org"));
    let running = through(&server).args(["send", "--yes"]).spawn();
    server.wait_until_held();
    let during = running.beside(["status", "--json"]);
    let records: Vec<Value> = serde_json::from_slice(&during.stdout).expect("status --json");
    assert_eq!(state(&records, "alice"), "sending", "a live send holds it");
    let killed = running.kill();
    // No send runs now: the letter caught mid-send is uncertain, without another send first.
    let (ran, records) = killed.status_json(None);
    assert_eq!(state(&records, "alice"), "uncertain");
    assert!(
        record(&records, "alice")["reply"]
            .as_str()
            .unwrap_or_default()
            .contains("stopped before the server's answer"),
        "{records:#?}"
    );
    ran.again()
        .args(["status"])
        .stdout_lacks("sending")
        .stdout_has("uncertain")
        .run();
    server.release();
}

/// Many recipients, so that the output of every data command is larger than a pipe holds.
fn many() -> Test {
    let recipients: String = (0..2000)
        .map(|i| format!("[[recipient]]\nid = \"r{i:04}\"\nname = \"R {i}\"\nemail = \"r{i:04}@example.org\"\n\n"))
        .collect();
    Test::campaign()
        .recipients(&recipients)
        .setting("smtp", "host = \"127.0.0.1\"")
        .setting("smtp", "port = 2525")
        .setting("smtp", "security = \"none\"")
}

/// Runs lettermerge in `dir` with stdout a pipe that nobody reads (closed at once, like
/// `| head -1` once it has its line): it must end quietly, with success, and without a panic.
fn into_a_closed_pipe(dir: &std::path::Path, args: &[&str]) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lettermerge"))
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("LETTERMERGE_NOW", common::NOW)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start lettermerge");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait for lettermerge");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
}

#[test]
fn no_command_panics_when_its_reader_goes_away() {
    let ran = many().args(["check"]).run();
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["send", "--dry-run"],
        &["render", "--stdout", "--format", "md"],
        &["--help"],
    ] {
        into_a_closed_pipe(ran.path(), args);
    }
}
