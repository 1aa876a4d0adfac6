//! `send` and `status` against a real SMTP server on 127.0.0.1 ([`smtp::SmtpServer`]).

mod common;
#[path = "common/smtp.rs"]
mod smtp;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use common::{record, Ran, Test};
use serde_json::Value;
use smtp::{Script, SmtpServer};

/// Three recipients with email (alice with a cc) and one print-only.
const RECIPIENTS: &str = r#"[[recipient]]
id = "alice"
name = "Alice Ambassador"
email = "alice@example.org"
cc = ["office@example.org"]

[[recipient]]
id = "bob"
name = "Bob Minister"
email = "bob@example.org"

[[recipient]]
id = "carol"
name = "Carol Consul"
email = "carol@example.net"

[[recipient]]
id = "dan"
name = "Dan Deputy"
"#;

/// The recipients with email: id and address.
const EMAILED: [(&str, &str); 3] = [
    ("alice", "alice@example.org"),
    ("bob", "bob@example.org"),
    ("carol", "carol@example.net"),
];

/// The campaign, sending through `server`.
fn campaign(server: &SmtpServer) -> Test {
    Test::campaign()
        .recipients(RECIPIENTS)
        .setting("smtp", "host = \"127.0.0.1\"")
        .setting("smtp", &format!("port = {}", server.port()))
        .setting("smtp", "security = \"none\"")
        .setting("smtp", "connections = 2")
        .setting("smtp", "retries = 3")
        .setting("smtp", "backoff_ms = 50")
}

/// `send --yes` on the campaign.
fn send(server: &SmtpServer) -> Test {
    campaign(server).args(["send", "--yes"])
}

/// `status --json` in the folder of `ran`: the run, and its records.
fn status(ran: Ran) -> (Ran, Vec<Value>) {
    ran.status_json(None)
}

/// The state of recipient `id`'s letter.
fn state(records: &[Value], id: &str) -> String {
    record(records, id)["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Asserts that each recipient with email got exactly one message.
fn assert_each_delivered_once(server: &SmtpServer) {
    for (id, addr) in EMAILED {
        assert_eq!(server.messages_to(addr).len(), 1, "messages to {id}");
    }
    assert_eq!(server.messages().len(), EMAILED.len());
}

#[test]
fn send_delivers_each_letter_exactly_once() {
    let server = SmtpServer::start(Script::new());
    send(&server).stderr_has("sent 3").run();
    assert_each_delivered_once(&server);
    for (id, addr) in EMAILED {
        let message = &server.messages_to(addr)[0];
        assert_eq!(message.from, "ada@example.org");
        assert!(message.header("To").unwrap_or_default().contains(addr));
        assert_eq!(
            message.header("Message-ID").as_deref(),
            Some(format!("<test-campaign.{id}@example.org>").as_str())
        );
    }
    let alice = &server.messages_to("alice@example.org")[0];
    assert!(alice.is_to("office@example.org"), "cc in the envelope");
    assert!(alice
        .header("Cc")
        .unwrap_or_default()
        .contains("office@example.org"));
}

#[test]
fn send_again_sends_nothing() {
    let server = SmtpServer::start(Script::new());
    let ran = send(&server).run();
    ran.again()
        .args(["send", "--yes"])
        .stderr_has("already sent")
        .run();
    assert_each_delivered_once(&server);
}

#[test]
fn send_without_yes_and_without_a_terminal_refuses() {
    let server = SmtpServer::start(Script::new());
    campaign(&server)
        .args(["send"])
        .status(1)
        .stderr_has("--yes")
        .run();
    assert_eq!(server.messages().len(), 0);
}

#[test]
fn dry_run_connects_to_nothing_and_shows_what_goes_where() {
    let server = SmtpServer::start(Script::new());
    let ran = campaign(&server).args(["send", "--dry-run"]).run();
    let shown = format!("{}{}", ran.stdout, ran.stderr);
    for (id, addr) in EMAILED {
        assert!(
            shown.contains(id) && shown.contains(addr),
            "{id} <{addr}> not shown\n{}",
            ran.report()
        );
    }
    assert_eq!(server.sessions(), 0, "no connection");
    assert_eq!(server.messages().len(), 0);
}

#[test]
fn temporary_refusal_is_retried_then_delivered() {
    let server = SmtpServer::start(Script::new().temporary_at_data("bob@example.org", 2));
    send(&server).stderr_has("sent 3").run();
    assert_each_delivered_once(&server);
}

#[test]
fn temporary_refusal_of_a_recipient_is_retried_then_delivered() {
    let server = SmtpServer::start(Script::new().temporary_at_rcpt("bob@example.org", 2));
    send(&server).stderr_has("sent 3").run();
    assert_each_delivered_once(&server);
    assert_eq!(server.rcpts_to("bob@example.org"), 3);
}

#[test]
fn permanent_refusal_fails_that_letter_only() {
    let server = SmtpServer::start(Script::new().permanent_at_rcpt("bob@example.org"));
    let ran = send(&server)
        .status(1)
        .stderr_has("bob")
        .stderr_has("550")
        .run();
    assert_eq!(server.messages().len(), 2);
    assert_eq!(server.messages_to("alice@example.org").len(), 1);
    assert_eq!(server.messages_to("carol@example.net").len(), 1);
    assert_eq!(
        server.rcpts_to("bob@example.org"),
        1,
        "a 5xx is not retried"
    );
    let (_, records) = status(ran);
    assert_eq!(state(&records, "bob"), "failed");
    assert!(record(&records, "bob")["reply"]
        .as_str()
        .unwrap_or_default()
        .contains("550"));
    assert_eq!(state(&records, "alice"), "sent");
}

#[test]
fn status_json_lists_every_recipient() {
    let server = SmtpServer::start(Script::new());
    let (_, records) = status(send(&server).run());
    for record in &records {
        for key in ["recipient", "state", "message_id", "reply"] {
            assert!(record.get(key).is_some(), "no {key:?} in {record}");
        }
    }
    for (id, _) in EMAILED {
        assert_eq!(state(&records, id), "sent");
        assert_eq!(
            record(&records, id)["message_id"],
            format!("<test-campaign.{id}@example.org>")
        );
    }
}

#[test]
fn test_to_sends_every_letter_to_one_address_and_records_nothing() {
    let server = SmtpServer::start(Script::new());
    let ran = send(&server)
        .args(["--test-to", "tester@example.org"])
        .run();
    let messages = server.messages();
    assert_eq!(messages.len(), EMAILED.len());
    for message in &messages {
        assert_eq!(message.to, ["tester@example.org"]);
    }
    let (ran, records) = status(ran);
    assert!(
        records
            .iter()
            .all(|r| r["state"] == "pending" || r["recipient"] == "dan" && r["state"] == "to-post"),
        "nothing recorded as sent: {records:#?}"
    );
    ran.again()
        .args(["send", "--yes"])
        .stderr_has("sent 3")
        .run();
    for (_, addr) in EMAILED {
        assert_eq!(server.messages_to(addr).len(), 1);
    }
}

#[test]
fn only_sends_that_recipient() {
    let server = SmtpServer::start(Script::new());
    send(&server).args(["--only", "bob"]).run();
    assert_eq!(server.messages().len(), 1);
    assert_eq!(server.messages_to("bob@example.org").len(), 1);
}

#[test]
fn limit_sends_at_most_n() {
    let server = SmtpServer::start(Script::new());
    let ran = send(&server)
        .args(["--limit", "2"])
        .stderr_has("sent 2")
        .run();
    assert_eq!(server.messages().len(), 2);
    ran.again()
        .args(["send", "--yes"])
        .stderr_has("sent 1")
        .run();
    assert_each_delivered_once(&server);
}

#[test]
fn no_tls_to_a_remote_host_is_refused() {
    let server = SmtpServer::start(Script::new());
    send(&server)
        .setting("smtp", "host = \"smtp.example.org\"")
        .status(1)
        .stderr_has("unencrypted")
        .run();
    assert_eq!(server.sessions(), 0);
}

#[test]
fn password_in_campaign_file_is_refused() {
    let server = SmtpServer::start(Script::new());
    send(&server)
        .setting("smtp", "username = \"ada\"")
        .setting("smtp", "password = \"hunter2-in-the-file\"")
        .status(1)
        .stderr_has("password")
        .stderr_lacks("hunter2-in-the-file")
        .stdout_lacks("hunter2-in-the-file")
        .run();
    assert_eq!(server.sessions(), 0);
}

#[test]
fn dropped_connection_after_data_is_uncertain_and_not_resent() {
    let server = SmtpServer::start(Script::new().drop_after_data("bob@example.org", 1));
    // Exit status of a run that leaves a letter uncertain: not fixed by the contract.
    let ran = send(&server).run_any_status();
    assert_eq!(server.dropped_to("bob@example.org"), 1);
    assert_eq!(server.messages().len(), 2, "the others are delivered");
    let (ran, records) = status(ran);
    assert_eq!(state(&records, "bob"), "uncertain");

    let ran = ran.again().args(["send", "--yes"]).run_any_status();
    assert_eq!(server.dropped_to("bob@example.org"), 1, "not sent again");
    assert_eq!(server.messages().len(), 2);

    let ran = ran
        .again()
        .args(["send", "--yes", "--retry-uncertain"])
        .run();
    assert_each_delivered_once(&server);
    let (_, records) = status(ran);
    assert_eq!(state(&records, "bob"), "sent");
}

#[test]
fn second_send_on_the_same_campaign_refuses() {
    let server = SmtpServer::start(Script::new().hold_at_data("alice@example.org"));
    let first = send(&server).spawn();
    server.wait_until_held();
    let second = first.beside(["send", "--yes"]);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("another `lettermerge send`"), "{stderr}");
    server.release();
    first.wait();
    assert_each_delivered_once(&server);
}

#[test]
fn ctrl_c_lets_the_letter_on_the_wire_finish_and_starts_no_other() {
    let recipients: String = (1..=12)
        .map(|i| format!("[[recipient]]\nid = \"r{i:02}\"\nname = \"R {i}\"\nemail = \"r{i:02}@example.org\"\n\n"))
        .collect();
    let server = SmtpServer::start(Script::new().hold_at_data("r01@example.org"));
    let running = campaign(&server)
        .recipients(&recipients)
        .setting("smtp", "connections = 1")
        .args(["send", "--yes"])
        .spawn();
    server.wait_until_held();
    running.ctrl_c();
    // Give the signal time to land before the held letter is answered.
    std::thread::sleep(std::time::Duration::from_millis(300));
    server.release();
    let ran = running.finish();
    assert_eq!(ran.status, Some(1), "{}", ran.report());
    assert!(
        ran.stderr.contains("11 letters not sent, still pending (run send again): the run was stopped (Ctrl-C) before it (r02, r03, r04, r05, r06, …)"),
        "{}",
        ran.report()
    );
    assert_eq!(
        server.messages().len(),
        1,
        "only the letter on the wire went"
    );
    let (ran, records) = status(ran);
    assert_eq!(state(&records, "r01"), "sent");
    assert_eq!(state(&records, "r02"), "pending");
    let ran = ran
        .again()
        .args(["send", "--yes"])
        .stderr_has("1 letter already sent: not sent again")
        .stderr_has("sent 11, 0 not sent")
        .run();
    drop(ran);
    assert_eq!(server.messages_to("r01@example.org").len(), 1);
    assert_eq!(server.messages().len(), 12);
}

#[cfg(feature = "pdf")]
#[test]
fn attach_pdf_sends_each_letter_with_its_pdf() {
    let server = SmtpServer::start(Script::new());
    send(&server)
        .setting("email", "attach_pdf = true")
        .stderr_has("sent 3, 0 not sent")
        .run();
    let alice = server.messages_to("alice@example.org")[0].text();
    assert!(alice.contains("Content-Type: application/pdf"), "{alice}");
    assert!(alice.contains("filename=\"alice.pdf\""), "{alice}");
}

// The harness itself, spoken to by hand.

/// A hand-driven SMTP client: each line sent, and the reply code read back.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .expect("a read timeout");
        let mut client = Client {
            reader: BufReader::new(stream.try_clone().expect("clone the stream")),
            writer: stream,
        };
        assert_eq!(client.reply(), Some(220));
        assert_eq!(client.say("EHLO client.test"), Some(250));
        client
    }

    /// The code of the next reply (its last line), or `None` when the connection ended.
    fn reply(&mut self) -> Option<u16> {
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            eprint!("S: {line}");
            if line.as_bytes().get(3) != Some(&b'-') {
                return line.get(..3)?.parse().ok();
            }
        }
    }

    fn say(&mut self, line: &str) -> Option<u16> {
        eprintln!("C: {line:?}");
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .ok()?;
        self.reply()
    }

    /// One message from ada to `to`: the reply to each RCPT, and to the end of DATA if it got
    /// that far.
    fn send(&mut self, to: &[&str], body: &str) -> (Vec<Option<u16>>, Option<u16>) {
        assert_eq!(self.say("MAIL FROM:<ada@example.org>"), Some(250));
        let rcpts: Vec<Option<u16>> = to
            .iter()
            .map(|t| self.say(&format!("RCPT TO:<{t}>")))
            .collect();
        if !rcpts.contains(&Some(250)) {
            self.say("RSET");
            return (rcpts, None);
        }
        assert_eq!(self.say("DATA"), Some(354));
        let end = self.say(&format!("Subject: test\r\n\r\n{body}\r\n."));
        (rcpts, end)
    }
}

#[test]
fn harness_answers_as_scripted_and_records_what_it_accepts() {
    let server = SmtpServer::start(
        Script::new()
            .temporary_at_rcpt("t@example.org", 1)
            .permanent_at_rcpt("p@example.org")
            .temporary_at_data("d@example.org", 2)
            .drop_after_data("x@example.org", 1),
    );
    let mut client = Client::connect(server.port());
    assert_eq!(
        client.send(&["t@example.org"], "a"),
        (vec![Some(451)], None)
    );
    assert_eq!(
        client.send(&["T@example.org"], "a"),
        (vec![Some(250)], Some(250))
    );
    assert_eq!(
        client.send(&["p@example.org", "ok@example.org"], "b"),
        (vec![Some(550), Some(250)], Some(250))
    );
    for reply in [451, 451, 250] {
        assert_eq!(
            client.send(&["d@example.org"], "c"),
            (vec![Some(250)], Some(reply))
        );
    }
    assert_eq!(
        client.send(&["x@example.org"], "..d"),
        (vec![Some(250)], None),
        "dropped"
    );
    let mut client = Client::connect(server.port());
    assert_eq!(
        client.send(&["x@example.org"], "..d"),
        (vec![Some(250)], Some(250))
    );
    assert_eq!(client.say("QUIT"), Some(221));

    assert_eq!(server.sessions(), 2);
    assert_eq!(server.messages().len(), 4);
    assert_eq!(server.messages_to("t@example.org").len(), 1);
    assert_eq!(server.rcpts_to("t@example.org"), 2);
    assert_eq!(server.messages_to("p@example.org").len(), 0);
    let ok = &server.messages_to("ok@example.org")[0];
    assert_eq!(ok.from, "ada@example.org");
    assert_eq!(ok.to, ["ok@example.org"]);
    assert_eq!(ok.text(), "Subject: test\r\n\r\nb\r\n");
    assert_eq!(ok.header("subject").as_deref(), Some("test"));
    assert_eq!(server.messages_to("d@example.org").len(), 1);
    assert_eq!(server.dropped_to("x@example.org"), 1);
    assert_eq!(
        server.messages_to("x@example.org")[0].text(),
        "Subject: test\r\n\r\n.d\r\n"
    );
}

#[test]
fn harness_holds_a_message_until_released() {
    let server = SmtpServer::start(Script::new().hold_at_data("h@example.org"));
    let sender = std::thread::spawn({
        let port = server.port();
        move || {
            let mut client = Client::connect(port);
            client.send(&["h@example.org"], "held")
        }
    });
    server.wait_until_held();
    assert_eq!(server.messages().len(), 0);
    server.release();
    assert_eq!(
        sender.join().expect("the client"),
        (vec![Some(250)], Some(250))
    );
    assert_eq!(server.messages_to("h@example.org").len(), 1);
}

#[test]
fn killed_mid_run_then_rerun_sends_each_letter_once_or_reports_it_uncertain() {
    killed_mid_run_then_rerun(Script::new());
}

/// The same with the next letter's envelope written behind each content: a letter whose
/// envelope alone went out when the process died is not uncertain.
#[test]
fn killed_mid_run_while_pipelining_then_rerun_sends_each_letter_once_or_reports_it_uncertain() {
    killed_mid_run_then_rerun(Script::new().pipelining());
}

fn killed_mid_run_then_rerun(script: Script) {
    let ids: Vec<String> = (0..300).map(|i| format!("r-{i:03}")).collect();
    let recipients: String = ids
        .iter()
        .map(|id| {
            format!(
                "[[recipient]]\nid = \"{id}\"\nname = \"N {id}\"\nemail = \"{id}@example.org\"\n\n"
            )
        })
        .collect();
    // Both connections stop at a letter in the middle, the server not answering; then the
    // process is killed as a power cut would. The two letters are apart: a connection that
    // pipelines has already taken the letter after the one it waits on, so two neighbours could
    // both fall to one connection while the other went on sending.
    let script = script
        .hold_at_data("r-120@example.org")
        .hold_at_data("r-150@example.org");
    let server = SmtpServer::start(script);
    let running = campaign(&server)
        .recipients(&recipients)
        .args(["send", "--yes"])
        .spawn();
    server.wait_until_held_n(2);
    let killed = running.kill();
    let before = server.messages().len();
    assert!(before < 300, "the kill came before the end ({before} sent)");
    let ran = killed.again().args(["send", "--yes"]).run_any_status();
    let (_, records) = status(ran);
    let uncertain: Vec<&String> = ids
        .iter()
        .filter(|id| state(&records, id) == "uncertain")
        .collect();
    // Each connection had one letter out, the held one; a letter taken ahead is not uncertain.
    assert_eq!(
        uncertain,
        ["r-120", "r-150"],
        "the held letters, one per connection, and no other"
    );
    for id in &ids {
        let received = server.messages_to(&format!("{id}@example.org")).len();
        let fine = received == 1 || (received == 0 && uncertain.contains(&id));
        assert!(
            fine,
            "{id} received {received} times (state {})",
            state(&records, id)
        );
    }
}

#[test]
fn status_lists_letters_not_yet_sent_as_pending() {
    let server = SmtpServer::start(Script::new());
    let ran = campaign(&server).args(["status", "--json"]).run();
    let records: Vec<Value> = serde_json::from_str(&ran.stdout).unwrap();
    // Every recipient since a9571b7: the print-only one too, to post.
    assert_eq!(records.len(), EMAILED.len() + 1, "{records:#?}");
    for (id, _) in EMAILED {
        assert_eq!(state(&records, id), "pending");
    }
    assert_eq!(state(&records, "dan"), "to-post");
}

#[test]
fn a_dry_run_needs_no_server_settings_and_writes_no_journal() {
    let ran = Test::campaign()
        .args(["send", "--dry-run"])
        .stderr_has("nothing was sent")
        .stdout_has("alice")
        .run();
    assert!(!ran.path().join("lettermerge-journal.sqlite").exists());
    ran.again()
        .args(["send", "--yes"])
        .status(1)
        .stderr_has("no [smtp] settings")
        .run();
}

#[test]
fn rate_spaces_letters_across_connections() {
    let server = SmtpServer::start(Script::new());
    let started = std::time::Instant::now();
    campaign(&server)
        .setting("smtp", "rate = \"10/second\"")
        .args(["send", "--yes"])
        .stderr_has("sent 3")
        .run();
    // Three letters at one per 100 ms: the third cannot leave before 200 ms.
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
    assert_each_delivered_once(&server);
}

/// A letter with lines that start with dots, which SMTP must carry doubled and the server undo.
const DOTTED: &str =
    "Dear {{recipient.name}},\n\n.A line that starts with a dot.\n\n..And one with two.\n\n.\n";

/// The campaign over one connection to a server that pipelines: every letter after the first has
/// its envelope written behind the previous letter's content.
fn pipelined(server: &SmtpServer) -> Test {
    campaign(server)
        .setting("smtp", "connections = 1")
        .template(DOTTED)
        .args(["send", "--yes"])
}

/// A message's text without its Date, which says when it went.
fn undated(message: &smtp::Message) -> String {
    message
        .text()
        .lines()
        .filter(|l| !l.starts_with("Date:"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn pipelined_letters_arrive_once_each_and_byte_for_byte_as_one_by_one() {
    let plain = SmtpServer::start(Script::new());
    campaign(&plain)
        .setting("smtp", "connections = 1")
        .template(DOTTED)
        .args(["send", "--yes"])
        .stderr_has("sent 3, 0 not sent")
        .run();
    let server = SmtpServer::start(Script::new().pipelining());
    pipelined(&server).stderr_has("sent 3, 0 not sent").run();
    assert_each_delivered_once(&server);
    for (id, addr) in EMAILED {
        let (got, want) = (&server.messages_to(addr)[0], &plain.messages_to(addr)[0]);
        assert_eq!(undated(got), undated(want), "{id}'s message");
        assert_eq!(got.to, want.to, "{id}'s envelope");
    }
    let text = server.messages_to("bob@example.org")[0].text();
    assert!(
        text.contains("\r\n.A line that starts with a dot."),
        "{text}"
    );
    assert!(text.contains("\r\n..And one with two."), "{text}");
}

#[test]
fn pipelined_refusal_of_a_recipient_whose_envelope_went_ahead_fails_that_letter_only() {
    // bob's envelope goes out behind alice's content; its 550 is read when bob's turn comes.
    let server = SmtpServer::start(
        Script::new()
            .pipelining()
            .permanent_at_rcpt("bob@example.org"),
    );
    let ran = pipelined(&server).status(1).stderr_has("bob: failed").run();
    assert_eq!(server.messages_to("alice@example.org").len(), 1);
    assert_eq!(server.messages_to("carol@example.net").len(), 1);
    assert_eq!(server.messages().len(), 2);
    assert_eq!(
        server.rcpts_to("bob@example.org"),
        1,
        "a 5xx is not retried"
    );
    let (_, records) = status(ran);
    assert_eq!(state(&records, "bob"), "failed");
    assert_eq!(state(&records, "alice"), "sent");
    assert_eq!(state(&records, "carol"), "sent");
}

#[test]
fn pipelined_temporary_refusal_is_retried_then_delivered_once() {
    let server = SmtpServer::start(
        Script::new()
            .pipelining()
            .temporary_at_rcpt("bob@example.org", 2),
    );
    pipelined(&server).stderr_has("sent 3, 0 not sent").run();
    assert_each_delivered_once(&server);
    assert_eq!(server.rcpts_to("bob@example.org"), 3);
}

#[test]
fn pipelined_refusal_at_the_end_of_data_leaves_the_next_letter_to_a_new_connection() {
    // alice's content is refused; bob's envelope, written with it, is forgotten with that
    // connection and bob goes on a new one.
    let server = SmtpServer::start(
        Script::new()
            .pipelining()
            .permanent_at_data("alice@example.org"),
    );
    let ran = pipelined(&server)
        .status(1)
        .stderr_has("alice: failed")
        .run();
    assert_eq!(server.messages_to("alice@example.org").len(), 0);
    assert_eq!(server.messages_to("bob@example.org").len(), 1);
    assert_eq!(server.messages_to("carol@example.net").len(), 1);
    let (_, records) = status(ran);
    assert_eq!(state(&records, "alice"), "failed");
    assert_eq!(state(&records, "bob"), "sent");
}

#[test]
fn pipelined_connection_dropped_after_data_leaves_only_that_letter_uncertain() {
    let server = SmtpServer::start(
        Script::new()
            .pipelining()
            .drop_after_data("bob@example.org", 1),
    );
    let ran = pipelined(&server).run_any_status();
    assert_eq!(server.dropped_to("bob@example.org"), 1);
    let (ran, records) = status(ran);
    assert_eq!(state(&records, "bob"), "uncertain");
    assert_eq!(state(&records, "alice"), "sent");
    assert_eq!(
        state(&records, "carol"),
        "sent",
        "carol's envelope went out with bob's content, her content did not: she is not uncertain"
    );
    assert_eq!(server.messages().len(), 2);
    ran.again().args(["send", "--yes"]).run_any_status();
    assert_eq!(server.dropped_to("bob@example.org"), 1, "not sent again");
    assert_eq!(server.messages().len(), 2);
}
