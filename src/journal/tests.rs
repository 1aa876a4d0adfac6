use std::path::Path;
use std::thread;

use chrono::DateTime;
use rusqlite::Connection;
use tempfile::TempDir;

use super::*;

fn id(s: &str) -> RecipientId {
    RecipientId::parse(s).expect("a valid id")
}

fn hash(content: &str) -> ContentHash {
    ContentHash::of(content.as_bytes())
}

fn clock() -> Clock {
    Clock::fixed(DateTime::parse_from_rfc3339("2026-12-10T09:00:00+09:00").unwrap())
}

fn open(dir: &Path) -> Journal {
    Journal::open(dir, "campaign-2026", &clock()).expect("the journal opens")
}

/// Letters sent to completion: `sending` then `sent`, one writer, finished.
fn send_all(journal: &Journal, letters: &[(&str, &str)]) {
    let writer = journal.writer().unwrap();
    for (recipient, content) in letters {
        let message_id = format!("<campaign-2026.{recipient}@example.org>");
        writer
            .mark_sending(&id(recipient), &hash(content), &message_id)
            .unwrap();
        writer
            .mark_sent(&id(recipient), "250 2.0.0 Ok: queued")
            .unwrap();
    }
    writer.finish().unwrap();
}

fn state_of(journal: &Journal, recipient: &str) -> Option<State> {
    let records = journal.status().unwrap();
    records
        .into_iter()
        .find(|r| r.recipient.as_str() == recipient)
        .map(|r| r.state)
}

fn decisions(plan: &Plan) -> Vec<(&str, State, Decision)> {
    plan.letters
        .iter()
        .map(|p| (p.recipient.as_str(), p.was, p.decision))
        .collect()
}

fn count(dir: &Path, sql: &str) -> i64 {
    let conn = Connection::open(dir.join(JOURNAL_FILE)).unwrap();
    conn.query_row(sql, [], |row| row.get(0)).unwrap()
}

#[test]
fn open_creates_the_journal_in_wal_mode() {
    let dir = TempDir::new().unwrap();
    let journal = open(dir.path());
    assert_eq!(journal.path(), dir.path().join(JOURNAL_FILE));
    assert!(journal.path().is_file());
    assert!(journal.status().unwrap().is_empty());
    assert!(journal.recovered().is_empty());
    drop(journal);
    let conn = Connection::open(dir.path().join(JOURNAL_FILE)).unwrap();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!((mode.as_str(), version), ("wal", SCHEMA_VERSION));
}

#[test]
fn second_send_on_a_campaign_refuses_until_the_first_ends() {
    let dir = TempDir::new().unwrap();
    let first = open(dir.path());
    let refusal = Journal::open(dir.path(), "campaign-2026", &clock())
        .expect_err("the second open is refused");
    assert!(
        refusal
            .message
            .starts_with("another `lettermerge send` is running on this campaign"),
        "{refusal}"
    );
    let process = format!("(process {})", std::process::id());
    assert!(refusal.message.contains(&process), "{refusal}");
    assert!(refusal.hint.as_deref().unwrap().starts_with("wait for it"));
    drop(first);
    open(dir.path());
}

#[test]
fn a_writer_keeps_the_campaign_locked_after_its_journal_is_gone() {
    let dir = TempDir::new().unwrap();
    let writer = open(dir.path()).writer().unwrap();
    assert!(Journal::open(dir.path(), "campaign-2026", &clock()).is_err());
    writer.finish().unwrap();
    open(dir.path());
}

#[test]
fn a_letter_left_sending_becomes_uncertain() {
    let dir = TempDir::new().unwrap();
    let journal = open(dir.path());
    let writer = journal.writer().unwrap();
    writer
        .mark_sending(&id("ana"), &hash("Dear Ana"), "<m1>")
        .unwrap();
    // The process dies here: the server's answer is never recorded.
    writer.finish().unwrap();
    drop(journal);

    let journal = open(dir.path());
    assert_eq!(journal.recovered(), [id("ana")]);
    let record = &journal.status().unwrap()[0];
    assert_eq!(record.state, State::Uncertain);
    assert_eq!(record.reply.as_deref(), Some(DIED_MID_SEND));
    let letters = [(id("ana"), hash("Dear Ana"))];
    let plan = journal.plan(&letters, Retry::default()).unwrap();
    assert_eq!(plan.letters[0].decision, Decision::SkipUncertain);
    let retry = Retry {
        uncertain: true,
        ..Retry::default()
    };
    let plan = journal.plan(&letters, retry).unwrap();
    assert_eq!(plan.to_send().collect::<Vec<_>>(), [&id("ana")]);
    drop(journal);
    let events = "SELECT count(*) FROM attempts WHERE event = 'uncertain'";
    assert_eq!(count(dir.path(), events), 1);
    assert!(
        open(dir.path()).recovered().is_empty(),
        "recovered only once"
    );
}

#[test]
fn plan_skips_sent_letters_and_says_which_changed() {
    let dir = TempDir::new().unwrap();
    let journal = open(dir.path());
    send_all(&journal, &[("ana", "Dear Ana"), ("ben", "Dear Ben")]);
    let writer = journal.writer().unwrap();
    writer
        .mark_sending(&id("cleo"), &hash("Dear Cleo"), "<c>")
        .unwrap();
    writer
        .mark_failed(&id("cleo"), "550 5.1.1 no such user")
        .unwrap();
    writer
        .mark_sending(&id("dan"), &hash("Dear Dan"), "<d>")
        .unwrap();
    writer
        .mark_retry(&id("dan"), "421 4.7.0 try later")
        .unwrap();
    writer.finish().unwrap();

    let letters = [
        (id("ana"), hash("Dear Ana, revised")),
        (id("ben"), hash("Dear Ben")),
        (id("cleo"), hash("Dear Cleo")),
        (id("dan"), hash("Dear Dan")),
        (id("eve"), hash("Dear Eve")),
    ];
    let plan = journal.plan(&letters, Retry::default()).unwrap();
    assert_eq!(
        decisions(&plan),
        [
            ("ana", State::Sent, Decision::AlreadySent { changed: true }),
            ("ben", State::Sent, Decision::AlreadySent { changed: false }),
            ("cleo", State::Failed, Decision::SkipFailed),
            ("dan", State::Pending, Decision::Send),
            ("eve", State::Pending, Decision::Send),
        ]
    );
    assert_eq!(plan.changed_since_sent().collect::<Vec<_>>(), [&id("ana")]);
    assert_eq!(plan.count(Decision::Send), 2);

    let retry = Retry {
        failed: true,
        ..Retry::default()
    };
    let plan = journal.plan(&letters, retry).unwrap();
    let to_send: Vec<_> = plan.to_send().map(RecipientId::as_str).collect();
    assert_eq!(to_send, ["cleo", "dan", "eve"]);
}

#[test]
fn a_sent_letter_is_never_marked_sending_again() {
    let dir = TempDir::new().unwrap();
    let journal = open(dir.path());
    send_all(&journal, &[("ana", "Dear Ana")]);
    let writer = journal.writer().unwrap();
    let refusal = writer
        .mark_sending(&id("ana"), &hash("Dear Ana"), "<m>")
        .unwrap_err();
    assert!(refusal.message.contains("sent already"), "{refusal}");
    assert_eq!(refusal.recipient.as_deref(), Some("ana"));
    // The refusal spoils nothing for the others.
    writer
        .mark_sending(&id("ben"), &hash("Dear Ben"), "<b>")
        .unwrap();
    writer
        .mark_sending(&id("ben"), &hash("Dear Ben"), "<b>")
        .unwrap_err();
    writer.mark_sent(&id("ben"), "250 ok").unwrap();
    writer.finish().unwrap();
    assert_eq!(state_of(&journal, "ben"), Some(State::Sent));
}

#[test]
fn status_shows_replies_attempts_and_times_from_the_clock() {
    let dir = TempDir::new().unwrap();
    let journal = open(dir.path());
    let writer = journal.writer().unwrap();
    writer
        .mark_sending(&id("ana"), &hash("Dear Ana"), "<m1>")
        .unwrap();
    writer.mark_retry(&id("ana"), "421 busy").unwrap();
    writer
        .mark_sending(&id("ana"), &hash("Dear Ana"), "<m1>")
        .unwrap();
    writer.mark_sent(&id("ana"), "250 queued as 42").unwrap();
    let due = clock().now() + chrono::Duration::hours(3);
    writer.mark_scheduled(&id("ben"), due).unwrap();
    writer.mark_scheduled(&id("ana"), due).unwrap();
    writer.finish().unwrap();

    let records = journal.status().unwrap();
    let [ana, ben] = records.as_slice() else {
        panic!("two records: {records:?}");
    };
    assert_eq!((ana.state, ana.attempts), (State::Sent, 2));
    assert_eq!(ana.reply.as_deref(), Some("250 queued as 42"));
    assert_eq!(ana.message_id.as_deref(), Some("<m1>"));
    assert_eq!(ana.content_hash, Some(hash("Dear Ana")));
    assert_eq!(ana.sent_at, Some(clock().now()));
    assert_eq!(ana.updated_at, clock().now());
    assert_eq!(ana.due_at, None, "a sent letter is not rescheduled");
    assert_eq!((ben.state, ben.due_at), (State::Scheduled, Some(due)));
    let plan = journal.plan(&[(id("ben"), hash("b"))], Retry::default());
    assert_eq!(plan.unwrap().letters[0].decision, Decision::Send);
    drop(journal);
    assert_eq!(count(dir.path(), "SELECT count(*) FROM attempts"), 5);
}

#[test]
fn scheduling_again_at_the_same_time_writes_nothing() {
    let dir = TempDir::new().unwrap();
    let journal = open(dir.path());
    let due = clock().now() + chrono::Duration::hours(3);
    for _ in 0..3 {
        let writer = journal.writer().unwrap();
        writer.mark_scheduled(&id("ben"), due).unwrap();
        writer.finish().unwrap();
    }
    let log = "SELECT count(*) FROM attempts WHERE event = 'scheduled'";
    assert_eq!(
        count(dir.path(), log),
        1,
        "cron's repeated runs leave one entry"
    );
    let writer = journal.writer().unwrap();
    writer
        .mark_scheduled(&id("ben"), due + chrono::Duration::hours(1))
        .unwrap();
    writer.finish().unwrap();
    assert_eq!(count(dir.path(), log), 2, "a new time is logged");
    let ben = &journal.status().unwrap()[0];
    assert_eq!(ben.due_at, Some(due + chrono::Duration::hours(1)));
}

#[test]
fn status_can_be_read_while_a_send_runs() {
    let dir = TempDir::new().unwrap();
    assert!(read_status(dir.path(), "campaign-2026").unwrap().is_empty());
    let journal = open(dir.path());
    send_all(&journal, &[("ana", "Dear Ana")]);
    let records = read_status(dir.path(), "campaign-2026").unwrap();
    assert_eq!(records.len(), 1);
    assert!(read_status(dir.path(), "another-campaign")
        .unwrap()
        .is_empty());
}

#[test]
fn group_commit_keeps_every_record_from_many_threads() {
    const THREADS: usize = 8;
    const LETTERS: usize = 2_000;
    let dir = TempDir::new().unwrap();
    let journal = open(dir.path());
    let writer = journal.writer().unwrap();
    thread::scope(|scope| {
        for t in 0..THREADS {
            let writer = writer.clone();
            scope.spawn(move || {
                for n in 0..LETTERS {
                    let recipient = id(&format!("r-{t}-{n}"));
                    let content = hash(recipient.as_str());
                    writer.mark_sending(&recipient, &content, "<m>").unwrap();
                    writer.mark_sent(&recipient, "250 ok").unwrap();
                }
            });
        }
    });
    writer.finish().unwrap();
    drop(journal);
    let sent = count(
        dir.path(),
        "SELECT count(*) FROM letters WHERE state = 'sent'",
    );
    assert_eq!(sent, (THREADS * LETTERS) as i64);
    let events = count(dir.path(), "SELECT count(*) FROM attempts");
    assert_eq!(events, (2 * THREADS * LETTERS) as i64);
}

#[test]
fn dropping_the_writer_commits_what_it_was_given() {
    let dir = TempDir::new().unwrap();
    let journal = open(dir.path());
    let writer = journal.writer().unwrap();
    let other = writer.clone();
    writer
        .mark_sending(&id("ana"), &hash("Dear Ana"), "<m>")
        .unwrap();
    writer.mark_sent(&id("ana"), "250 ok").unwrap();
    drop(writer);
    other
        .mark_sending(&id("ben"), &hash("Dear Ben"), "<b>")
        .unwrap();
    other.mark_failed(&id("ben"), "554 rejected").unwrap();
    drop(other);
    drop(journal);
    let journal = open(dir.path());
    assert_eq!(state_of(&journal, "ana"), Some(State::Sent));
    assert_eq!(state_of(&journal, "ben"), Some(State::Failed));
}

#[test]
fn nothing_is_recorded_after_finish() {
    let dir = TempDir::new().unwrap();
    let journal = open(dir.path());
    let writer = journal.writer().unwrap();
    let other = writer.clone();
    writer
        .mark_sending(&id("ana"), &hash("Dear Ana"), "<m>")
        .unwrap();
    other.mark_sent(&id("ana"), "250 ok").unwrap();
    writer.finish().unwrap();
    assert_eq!(state_of(&journal, "ana"), Some(State::Sent));
    let stopped = other
        .mark_sending(&id("ben"), &hash("Dear Ben"), "<b>")
        .unwrap_err();
    assert!(stopped.message.contains("writer has stopped"), "{stopped}");
    other.finish().unwrap();
}

#[test]
fn an_outcome_for_a_letter_not_being_sent_is_reported_by_finish() {
    let dir = TempDir::new().unwrap();
    let journal = open(dir.path());
    let writer = journal.writer().unwrap();
    writer.mark_sent(&id("ana"), "250 ok").unwrap();
    let problem = writer.finish().unwrap_err().problem;
    assert!(problem.message.contains("not being sent"), "{problem}");
    assert!(journal.status().unwrap().is_empty());
}

#[test]
fn a_garbage_journal_is_a_problem_and_left_untouched() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(JOURNAL_FILE);
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();
    let problem =
        Journal::open(dir.path(), "campaign-2026", &clock()).expect_err("garbage is refused");
    assert!(
        problem.message.contains("damaged or not a journal"),
        "{problem}"
    );
    assert!(problem.hint.as_deref().unwrap().contains("left as it is"));
    assert_eq!(problem.location.unwrap().file, path);
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
    assert!(read_status(dir.path(), "campaign-2026").is_err());
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
}

#[test]
fn another_sqlite_file_is_not_taken_for_a_journal() {
    let dir = TempDir::new().unwrap();
    let conn = Connection::open(dir.path().join(JOURNAL_FILE)).unwrap();
    conn.execute_batch("CREATE TABLE notes (text TEXT)")
        .unwrap();
    drop(conn);
    let problem = Journal::open(dir.path(), "campaign-2026", &clock())
        .expect_err("a foreign database is refused");
    assert!(problem.message.contains("not a lettermerge send journal"));
}

#[test]
fn a_journal_from_a_newer_lettermerge_is_refused() {
    let dir = TempDir::new().unwrap();
    drop(open(dir.path()));
    let conn = Connection::open(dir.path().join(JOURNAL_FILE)).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    let problem = Journal::open(dir.path(), "campaign-2026", &clock())
        .expect_err("a newer schema is refused");
    assert!(problem.message.contains("newer lettermerge"), "{problem}");
}

/// A journal as lettermerge wrote it before postal letters were recorded (schema 1), with one
/// letter sent.
fn journal_of_version_1(dir: &Path) {
    let conn = Connection::open(dir.join(JOURNAL_FILE)).unwrap();
    conn.execute_batch(&format!("{} PRAGMA user_version = 1;", store::SCHEMA))
        .unwrap();
    conn.execute(
        "INSERT INTO letters (campaign, recipient, state, content_hash, attempts, updated_at, sent_at)
         VALUES ('campaign-2026', 'ana', 'sent', ?1, 1, '2026-12-10T00:00:00.000Z', '2026-12-10T00:00:00.000Z')",
        [hash("letter").as_str()],
    )
    .unwrap();
}

#[test]
fn a_journal_of_version_1_is_read_as_it_is_and_upgraded_when_written() {
    let dir = TempDir::new().unwrap();
    journal_of_version_1(dir.path());
    let read = read_status(dir.path(), "campaign-2026").unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].state, State::Sent);
    assert_eq!(
        count(dir.path(), "PRAGMA user_version"),
        1,
        "reading changes nothing"
    );

    let journal = open(dir.path());
    assert_eq!(count(dir.path(), "PRAGMA user_version"), SCHEMA_VERSION);
    assert_eq!(state_of(&journal, "ana"), Some(State::Sent), "kept");
    let on = chrono::NaiveDate::from_ymd_opt(2026, 12, 9).unwrap();
    let done = journal.post(&[id("ben")], on).unwrap();
    assert_eq!(done, vec![(id("ben"), on, true)]);
    assert_eq!(state_of(&journal, "ben"), Some(State::Posted));
}

#[test]
fn posting_twice_keeps_the_first_day_and_a_posted_letter_is_never_sent() {
    let dir = TempDir::new().unwrap();
    let journal = open(dir.path());
    let first = chrono::NaiveDate::from_ymd_opt(2026, 12, 9).unwrap();
    let later = chrono::NaiveDate::from_ymd_opt(2026, 12, 11).unwrap();
    journal.post(&[id("ben")], first).unwrap();
    let again = journal.post(&[id("ben"), id("cy")], later).unwrap();
    assert_eq!(
        again,
        vec![(id("ben"), first, false), (id("cy"), later, true)]
    );
    let plan = journal
        .plan(&[(id("ben"), hash("letter"))], Retry::default())
        .unwrap();
    assert_eq!(
        decisions(&plan),
        vec![(
            "ben",
            State::Posted,
            Decision::AlreadySent { changed: false }
        )]
    );
}

#[test]
fn status_without_a_running_send_shows_a_letter_left_sending_as_uncertain() {
    let dir = TempDir::new().unwrap();
    let journal = open(dir.path());
    let writer = journal.writer().unwrap();
    writer
        .mark_sending(&id("ana"), &hash("letter"), "<m@example.org>")
        .unwrap();
    // The run holds the lock: its letter is being sent.
    let during = read_status(dir.path(), "campaign-2026").unwrap();
    assert_eq!(during[0].state, State::Sending);
    // The run ends with no outcome for it, as a killed run does, and lets go of the lock.
    drop(writer);
    drop(journal);
    let after = read_status(dir.path(), "campaign-2026").unwrap();
    assert_eq!(after[0].state, State::Uncertain);
    assert_eq!(after[0].reply.as_deref(), Some(DIED_MID_SEND));
    let conn = Connection::open(dir.path().join(JOURNAL_FILE)).unwrap();
    let stored: String = conn
        .query_row("SELECT state FROM letters", [], |row| row.get(0))
        .unwrap();
    assert_eq!(stored, "sending", "status changes nothing");
}
