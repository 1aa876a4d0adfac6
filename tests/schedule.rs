//! Campaign-day scheduling: `send` with `[schedule]` or `--at`, `--due`, `--send-late`, and the
//! due times `status` and `--dry-run` show, against a real SMTP server on 127.0.0.1.
//!
//! The four recipients are in Auckland, Seoul, Oslo and Toronto. At 09:00 on 10 December 2026
//! their clocks read 09:00 at these instants (UTC):
//!
//! | recipient | zone             | 09:00 local is         |
//! |-----------|------------------|------------------------|
//! | nz        | Pacific/Auckland | 2026-12-09T20:00:00Z   |
//! | kr        | Asia/Seoul       | 2026-12-10T00:00:00Z   |
//! | no        | Europe/Oslo      | 2026-12-10T08:00:00Z   |
//! | ca        | America/Toronto  | 2026-12-10T14:00:00Z   |

mod common;
#[path = "common/smtp.rs"]
mod smtp;

use common::{record, Ran, Running, Test};
use serde_json::Value;
use smtp::{Script, SmtpServer};

const RECIPIENTS: &str = r#"[[recipient]]
id = "nz"
name = "Embassy in Wellington"
email = "nz@example.org"
timezone = "Pacific/Auckland"

[[recipient]]
id = "kr"
name = "Embassy in Seoul"
email = "kr@example.org"
timezone = "Asia/Seoul"

[[recipient]]
id = "no"
name = "Embassy in Oslo"
email = "no@example.org"
timezone = "Europe/Oslo"

[[recipient]]
id = "ca"
name = "Embassy in Ottawa"
email = "ca@example.org"
timezone = "America/Toronto"

[[recipient]]
id = "print"
name = "Ministry by post"
"#;

const ALL: [&str; 4] = ["nz", "kr", "no", "ca"];

fn addr(id: &str) -> String {
    format!("{id}@example.org")
}

/// The campaign, scheduled for 09:00 on 10 December in each recipient's zone, sending through
/// `server`.
fn campaign(server: &SmtpServer) -> Test {
    Test::campaign()
        .recipients(RECIPIENTS)
        .setting("smtp", "host = \"127.0.0.1\"")
        .setting("smtp", &format!("port = {}", server.port()))
        .setting("smtp", "security = \"none\"")
        .setting("smtp", "backoff_ms = 50")
        .setting("schedule", "at = \"2026-12-10T09:00\"")
        .setting("schedule", "zone = \"recipient\"")
        .env("TZ", "Europe/Oslo")
}

/// `send --due --yes` at `now`, in the folder of `ran`.
fn due_at(ran: Ran, now: &str) -> Test {
    ran.again()
        .args(["send", "--due", "--yes"])
        .env("LETTERMERGE_NOW", now)
        .env("TZ", "Europe/Oslo")
}

/// How many messages each recipient got, in the order of [`ALL`].
fn received(server: &SmtpServer) -> Vec<usize> {
    ALL.iter()
        .map(|id| server.messages_to(&addr(id)).len())
        .collect()
}

/// `status --json` in the folder of `ran`, at `now`.
fn status(ran: Ran, now: &str) -> (Ran, Vec<Value>) {
    ran.status_json(Some(now))
}

#[test]
fn due_sends_exactly_the_letters_whose_nine_oclock_has_passed() {
    let server = SmtpServer::start(Script::new());
    // 01:00 UTC: past 09:00 in Auckland and Seoul, not yet in Oslo or Toronto.
    let ran = campaign(&server)
        .args(["send", "--due", "--yes"])
        .env("LETTERMERGE_NOW", "2026-12-10T01:00:00Z")
        .stderr_has("sent 2, 0 not sent")
        .stderr_has("2 letters scheduled for later, the next at 2026-12-10 09:00 CET")
        .run();
    assert_eq!(received(&server), [1, 1, 0, 0]);

    let (ran, records) = status(ran, "2026-12-10T01:00:00Z");
    assert_eq!(record(&records, "nz")["state"], "sent");
    assert_eq!(record(&records, "no")["state"], "scheduled");
    assert_eq!(
        record(&records, "no")["due_at"],
        "2026-12-10T08:00:00+00:00"
    );
    assert_eq!(
        record(&records, "no")["due_local"],
        "2026-12-10T09:00:00+01:00"
    );
    assert_eq!(
        record(&records, "ca")["due_local"],
        "2026-12-10T09:00:00-05:00"
    );
    assert_eq!(record(&records, "ca")["zone"], "America/Toronto");

    // Later the same morning in Oslo: only Oslo's letter is due.
    let ran = due_at(ran, "2026-12-10T08:30:00Z")
        .stderr_has("sent 1, 0 not sent")
        .run();
    assert_eq!(received(&server), [1, 1, 1, 0]);

    // After 09:00 in Toronto: the rest, and nothing twice.
    let ran = due_at(ran, "2026-12-10T14:00:01Z")
        .stderr_has("3 letters already sent: not sent again")
        .stderr_has("sent 1, 0 not sent")
        .run();
    assert_eq!(received(&server), [1, 1, 1, 1]);

    // Once more: nothing left.
    due_at(ran, "2026-12-10T15:00:00Z")
        .stderr_has("nothing to send")
        .run();
    assert_eq!(received(&server), [1, 1, 1, 1]);
}

/// Starts a waiting `send --yes` at `now`, and returns once `id`'s letter has come.
fn waiting_after(test: Test, now: &str, server: &SmtpServer, id: &str) -> Running {
    let running = test
        .args(["send", "--yes"])
        .env("LETTERMERGE_NOW", now)
        .spawn();
    assert!(server.wait_for(&addr(id)), "{id}'s letter never came");
    running
}

/// The same, then kills the run (SIGKILL: no chance to clean up).
fn killed_after(test: Test, now: &str, server: &SmtpServer, id: &str) -> Ran {
    waiting_after(test, now, server, id).kill()
}

#[test]
fn a_waiting_run_sends_each_letter_when_due_and_a_restart_sends_nothing_twice() {
    let server = SmtpServer::start(Script::new());
    // One second before 09:00 in Auckland: the run waits, then sends nz, then waits for Seoul.
    let killed = killed_after(campaign(&server), "2026-12-09T19:59:59Z", &server, "nz");
    assert_eq!(received(&server), [1, 0, 0, 0], "{}", killed.report());

    let (killed, records) = status(killed, "2026-12-09T20:00:05Z");
    let sent_at = record(&records, "nz")["sent_at"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        sent_at.as_str() >= "2026-12-09T20:00:00+00:00",
        "nz's letter went early, at {sent_at}"
    );
    assert_eq!(record(&records, "kr")["state"], "scheduled");
    let date = server.messages_to(&addr("nz"))[0].header("Date").unwrap();
    assert!(
        date.contains("9 Dec 2026 20:00:0"),
        "the Date is when it went: {date}"
    );

    // Restarted two seconds before 09:00 in Oslo: Seoul's letter (8 hours late, within the
    // grace) goes at once, Oslo's when due, Auckland's never again.
    let again = killed.again().env("TZ", "Europe/Oslo");
    let killed = killed_after(again, "2026-12-10T07:59:58Z", &server, "no");
    assert_eq!(received(&server), [1, 1, 1, 0], "{}", killed.report());

    due_at(killed, "2026-12-10T14:00:00Z")
        .stderr_has("sent 1, 0 not sent")
        .run();
    assert_eq!(received(&server), [1, 1, 1, 1]);
}

#[test]
fn ctrl_c_stops_a_waiting_run_cleanly_and_the_next_run_goes_on() {
    let server = SmtpServer::start(Script::new());
    let running = waiting_after(campaign(&server), "2026-12-09T20:00:01Z", &server, "nz");
    let ran = running.interrupt();
    assert_eq!(ran.status, Some(1), "{}", ran.report());
    assert!(
        ran.stderr.contains("stopped: what was sent is recorded"),
        "{}",
        ran.report()
    );
    assert!(!ran.stderr.contains("panicked"), "{}", ran.report());

    let (ran, records) = status(ran, "2026-12-09T20:00:05Z");
    assert_eq!(record(&records, "nz")["state"], "sent");
    for id in ["kr", "no", "ca"] {
        assert_eq!(record(&records, id)["state"], "scheduled", "{id}");
    }
    // Seoul's 09:00 is 14 hours past by 09:00 in Toronto.
    due_at(ran, "2026-12-10T14:00:00Z")
        .args(["--send-late"])
        .stderr_has("sent 3, 0 not sent")
        .run();
    assert_eq!(received(&server), [1, 1, 1, 1]);
}

#[test]
fn a_waiting_run_reads_the_campaign_again_before_each_letter() {
    let server = SmtpServer::start(Script::new());
    // Auckland's letter is due (4 hours ago), Seoul's in eight seconds.
    let running = waiting_after(campaign(&server), "2026-12-09T23:59:52Z", &server, "nz");
    running.write(
        "recipients.toml",
        &RECIPIENTS.replace("Embassy in Seoul", "Embassy of the PRC in Seoul"),
    );
    assert!(server.wait_for(&addr("kr")), "kr's letter never came");
    let ran = running.kill();
    let kr = server.messages_to(&addr("kr"))[0].text();
    assert!(
        kr.contains("Embassy of the PRC in Seoul"),
        "{kr}\n{}",
        ran.report()
    );
}

#[test]
fn letters_past_the_grace_are_held_until_send_late() {
    let server = SmtpServer::start(Script::new());
    // Noon UTC on 11 December: 09:00 passed 22 to 40 hours ago everywhere.
    let ran = campaign(&server)
        .args(["send", "--due", "--yes"])
        .env("LETTERMERGE_NOW", "2026-12-11T12:00:00Z")
        .status(1)
        .stderr_has("nz: was due 2026-12-10 09:00 NZDT (Pacific/Auckland), 1 d 16 h ago")
        .stderr_has("4 letters past the 12 h 0 min grace, not sent: send them with --send-late")
        .run();
    assert_eq!(received(&server), [0, 0, 0, 0]);

    // A grace of a day lets Toronto's (22 hours late) go, not the others.
    let settings = ran.read("lettermerge.toml").replace(
        "zone = \"recipient\"",
        "zone = \"recipient\"\ngrace = \"1day\"",
    );
    let ran = ran
        .again()
        .file("lettermerge.toml", &settings)
        .args(["send", "--due", "--yes"])
        .env("LETTERMERGE_NOW", "2026-12-11T12:00:00Z")
        .status(1)
        .stderr_has("3 letters past the 1 d 0 h grace")
        .run();
    assert_eq!(received(&server), [0, 0, 0, 1]);

    due_at(ran, "2026-12-11T12:00:00Z")
        .args(["--send-late"])
        .stderr_has("sent 3, 0 not sent")
        .run();
    assert_eq!(received(&server), [1, 1, 1, 1]);
}

#[test]
fn dry_run_prints_the_timetable_in_their_time_and_ours() {
    let server = SmtpServer::start(Script::new());
    let ran = campaign(&server)
        .args(["send", "--dry-run"])
        .env("LETTERMERGE_NOW", "2026-12-10T01:00:00Z")
        .stdout_has("due (recipient's time)\tdue here (Europe/Oslo)\trecipient")
        .stdout_has("2026-12-10 09:00 NZDT (Pacific/Auckland)\t2026-12-09 21:00 CET\tnz\tnz@example.org\tFree the prisoners\tdue now")
        .stdout_has("2026-12-10 09:00 CET (Europe/Oslo)\t2026-12-10 09:00 CET\tno\tno@example.org\tFree the prisoners\tin 7 h 0 min")
        .stdout_has("2026-12-10 09:00 EST (America/Toronto)\t2026-12-10 15:00 CET\tca")
        .stderr_has("dry run: 4 letters at 2026-12-10 09:00 in each recipient's timezone")
        .stderr_has("2 due now, 2 later, 0 late")
        .run();
    let order: Vec<&str> = ran
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split('\t').nth(2).unwrap())
        .collect();
    assert_eq!(order, ALL);
    assert!(!ran.path().join("lettermerge-journal.sqlite").exists());
    assert_eq!(received(&server), [0, 0, 0, 0]);
}

#[test]
fn status_shows_when_each_letter_is_due_there_and_here() {
    let server = SmtpServer::start(Script::new());
    let ran = campaign(&server)
        .args(["status"])
        .env("LETTERMERGE_NOW", "2026-12-01T00:00:00Z")
        .stdout_has("due 2026-12-10 09:00 KST (Asia/Seoul), 2026-12-10 01:00 CET here")
        .stdout_has("due 2026-12-10 09:00 EST (America/Toronto), 2026-12-10 15:00 CET here")
        .run();
    // Since status lists every recipient, the print-only one is there: to post, not due.
    let print = ran
        .stdout
        .lines()
        .find(|l| l.starts_with("print "))
        .unwrap_or_default();
    assert!(
        print.contains("to-post") && !print.contains("due"),
        "print-only recipients have no email, so no due time: {print:?}\n{}",
        ran.stdout
    );
}

#[test]
fn one_named_zone_sends_every_letter_at_the_same_instant() {
    let server = SmtpServer::start(Script::new());
    campaign(&server)
        .setting("schedule", "zone = \"Europe/Oslo\"")
        .args(["send", "--dry-run"])
        .env("LETTERMERGE_NOW", "2026-12-01T00:00:00Z")
        .stdout_has("2026-12-10 21:00 NZDT (Pacific/Auckland)\t2026-12-10 09:00 CET\tnz")
        .stdout_has("2026-12-10 03:00 EST (America/Toronto)\t2026-12-10 09:00 CET\tca")
        .stderr_has("at 2026-12-10 09:00 Europe/Oslo")
        .run();
}

#[test]
fn send_at_overrides_the_schedule_and_an_offset_is_one_instant() {
    let server = SmtpServer::start(Script::new());
    campaign(&server)
        .args(["send", "--dry-run", "--at", "2026-12-24T09:00"])
        .env("LETTERMERGE_NOW", "2026-12-01T00:00:00Z")
        .stdout_has("2026-12-24 09:00 KST (Asia/Seoul)\t2026-12-24 01:00 CET\tkr")
        .run();
    campaign(&server)
        .args(["send", "--dry-run", "--at", "2026-12-10T09:00+09:00"])
        .env("LETTERMERGE_NOW", "2026-12-01T00:00:00Z")
        .stdout_has("2026-12-09 19:00 EST (America/Toronto)\t2026-12-10 01:00 CET\tca")
        .run();
}

#[test]
fn clocks_that_skip_or_repeat_an_hour_are_read_as_people_expect() {
    let server = SmtpServer::start(Script::new());
    // 02:30 on 8 March 2026 never happens in Toronto: the clocks jump from 02:00 to 03:00.
    campaign(&server)
        .args([
            "send",
            "--dry-run",
            "--only",
            "ca",
            "--at",
            "2026-03-08T02:30",
        ])
        .env("LETTERMERGE_NOW", "2026-03-01T00:00:00Z")
        .stdout_has("2026-03-08 03:30 EDT (America/Toronto)")
        .run();
    // 01:30 on 1 November 2026 happens twice there: the letter goes at the first.
    campaign(&server)
        .args([
            "send",
            "--dry-run",
            "--only",
            "ca",
            "--at",
            "2026-11-01T01:30",
        ])
        .env("LETTERMERGE_NOW", "2026-10-01T00:00:00Z")
        .stdout_has("2026-11-01 01:30 EDT (America/Toronto)")
        .run();
    campaign(&server)
        .setting("schedule", "at = \"2026-03-08T02:30\"")
        .args(["check"])
        .env("LETTERMERGE_NOW", "2026-03-01T00:00:00Z")
        .stderr_has("does not exist there (the clocks skip it)")
        .stderr_has("in America/Toronto, for 1 letter")
        .run();
}

#[test]
fn a_recipient_without_a_zone_is_named_until_the_campaign_has_one() {
    let server = SmtpServer::start(Script::new());
    let recipients = RECIPIENTS.replace("timezone = \"Asia/Seoul\"\n", "");
    let ran = campaign(&server)
        .recipients(&recipients)
        .args(["check"])
        .status(1)
        .stderr_has("`kr` has no timezone, so its letter has no due time")
        .stderr_has("recipients.toml:7:1")
        .stderr_has("[campaign] timezone")
        .run();
    let ran = ran
        .again()
        .args(["send", "--dry-run"])
        .status(1)
        .stderr_has("`kr` has no timezone")
        .stderr_has("nothing was sent")
        .run();
    drop(ran);
    campaign(&server)
        .recipients(&recipients)
        .setting("campaign", "timezone = \"Europe/Oslo\"")
        .args(["send", "--dry-run"])
        .stdout_has("2026-12-10 09:00 CET (Europe/Oslo)\t2026-12-10 09:00 CET\tkr")
        .run();
}

#[test]
fn a_broken_schedule_is_reported_where_it_is_written() {
    let server = SmtpServer::start(Script::new());
    campaign(&server)
        .setting("schedule", "at = \"10 December at nine\"")
        .setting("schedule", "zone = \"Asia/Seul\"")
        .setting("schedule", "grace = \"a while\"")
        .args(["check"])
        .status(1)
        .stderr_has("`schedule.at` is not a time")
        .stderr_has("did you mean \"Asia/Seoul\"")
        .stderr_has("`schedule.grace` is not a length of time")
        .stderr_has("3 errors")
        .run();
}

#[test]
fn due_needs_a_schedule_and_limit_does_not_mix_with_one() {
    let server = SmtpServer::start(Script::new());
    campaign(&server)
        .unset("schedule", "at")
        .args(["send", "--due", "--yes"])
        .status(1)
        .stderr_has("send --due needs a schedule")
        .run();
    campaign(&server)
        .args(["send", "--yes", "--limit", "1"])
        .status(1)
        .stderr_has("--limit cannot be used with a schedule")
        .run();
    assert_eq!(received(&server), [0, 0, 0, 0]);
}

#[test]
fn a_test_letter_goes_now_whatever_the_schedule() {
    let server = SmtpServer::start(Script::new());
    campaign(&server)
        .args([
            "send",
            "--yes",
            "--only",
            "kr",
            "--test-to",
            "me@example.org",
        ])
        .stderr_has("test letters go now")
        .stderr_has("sent 1, 0 not sent")
        .run();
    assert_eq!(server.messages_to("me@example.org").len(), 1);
}

#[test]
fn scheduled_letters_are_dated_the_day_they_are_due() {
    let server = SmtpServer::start(Script::new());
    campaign(&server)
        .unset("campaign", "date")
        .args(["send", "--dry-run", "--at", "2026-12-24T09:00"])
        .stdout_has("2026-12-24 09:00")
        .run();
    let ran = campaign(&server)
        .unset("campaign", "date")
        .args(["render", "--only", "kr", "--format", "txt", "--stdout"])
        .stdout_has("10 December 2026")
        .run();
    due_at(ran, "2026-12-24T01:00:00Z")
        .args(["--at", "2026-12-24T09:00", "--only", "kr"])
        .stderr_has("sent 1, 0 not sent")
        .run();
    let kr = server.messages_to(&addr("kr"))[0].text();
    assert!(kr.contains("24 December 2026"), "{kr}");
}
