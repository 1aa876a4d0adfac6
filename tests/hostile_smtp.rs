//! Second suite: `send` against a hostile SMTP server (tests/system/hostile_smtp.py, Python,
//! loopback only, every flood bounded). Each way of misbehaving ends with a clear error in
//! bounded time, nothing is sent, and the password never shows. Peak memory against the endless
//! line is measured by bench/hostile_smtp.sh (a benchmark, not a timed test).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{record, Test};

const USER: &str = "advocate";
const PASSWORD: &str = "correct horse battery staple";

/// The hostile server in one of its modes, ended when dropped (its stdin closes).
struct Hostile {
    child: Child,
    port: u16,
    /// With TLS: the private CA that signed its certificate.
    certs: Option<tempfile::TempDir>,
}

impl Hostile {
    fn start(mode: &str) -> Hostile {
        Hostile::started(mode, None)
    }

    /// The server speaking implicit TLS with a certificate from a CA the campaign trusts.
    fn start_tls(mode: &str) -> Hostile {
        let certs = tempfile::tempdir().expect("a folder");
        common::make_certificate(certs.path());
        Hostile::started(mode, Some(certs))
    }

    fn started(mode: &str, certs: Option<tempfile::TempDir>) -> Hostile {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/system/hostile_smtp.py");
        let tls: Vec<_> = certs
            .iter()
            .flat_map(|c| [c.path().join("cert.pem"), c.path().join("key.pem")])
            .collect();
        let mut child = Command::new("python3")
            .arg(script)
            .arg(mode)
            .args(tls)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs (the second suite needs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the server says it is ready");
        let port = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the hostile server did not start: {line:?}"));
        Hostile { child, port, certs }
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `send --yes` to the hostile server: what it printed, and how long it took (killed at 90 s).
fn send_to(server: &Hostile, login: bool) -> (common::Ran, Duration) {
    let security = match &server.certs {
        Some(_) => "tls",
        None => "none",
    };
    let mut test = Test::campaign()
        .setting("smtp", "host = \"localhost\"")
        .setting("smtp", &format!("port = {}", server.port))
        .setting("smtp", &format!("security = \"{security}\""))
        .setting("smtp", "retries = 1")
        .setting("smtp", "backoff_ms = 10")
        .setting("smtp", "timeout = 3")
        .args(["send", "--allow-outside", "--yes"]);
    if let Some(certs) = &server.certs {
        let ca = certs.path().join("ca.pem");
        test = test.setting("smtp", &format!("ca_file = \"{}\"", ca.display()));
    }
    if login {
        test = test
            .setting("smtp", &format!("username = \"{USER}\""))
            .env("LETTERMERGE_SMTP_PASSWORD", PASSWORD);
    }
    let started = Instant::now();
    let running = test.spawn();
    let pid = running.pid().to_string();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(90));
        let _ = Command::new("kill").args(["-9", &pid]).status();
    });
    let ran = running.finish();
    (ran, started.elapsed())
}

/// The run failed cleanly and soon, naming `what`; the letter is still pending.
fn assert_ends_clearly(mode: &str, what: &str, login: bool) {
    assert_server_ends_clearly(Hostile::start(mode), mode, what, login);
}

fn assert_server_ends_clearly(server: Hostile, mode: &str, what: &str, login: bool) {
    let (ran, took) = send_to(&server, login);
    assert!(
        took < Duration::from_secs(30),
        "{mode}: took {took:?}\n{}",
        ran.report()
    );
    assert_eq!(ran.status, Some(1), "{mode}\n{}", ran.report());
    assert!(!ran.stderr.contains("panicked"), "{mode}\n{}", ran.report());
    assert!(
        ran.stderr.contains(what),
        "{mode}: says {what:?}\n{}",
        ran.report()
    );
    assert!(
        ran.stderr.contains("sent 0, 1 not sent"),
        "{mode}\n{}",
        ran.report()
    );
    let (_, records) = ran.status_json(None);
    assert_eq!(record(&records, "alice")["state"], "pending", "{mode}");
}

#[test]
fn a_greeting_without_a_line_end_ends_the_connection_at_once() {
    assert_ends_clearly("no-line-end", "the server's reply is too long", false);
}

#[test]
fn a_flood_over_implicit_tls_from_a_trusted_server_ends_the_connection_at_once() {
    let server = Hostile::start_tls("tls-no-line-end");
    assert_server_ends_clearly(
        server,
        "tls-no-line-end",
        "the server's reply is too long",
        false,
    );
}

#[test]
fn an_endless_multi_line_reply_ends_the_connection_at_once() {
    assert_ends_clearly("endless-reply", "the server's reply is too long", false);
}

#[test]
fn a_huge_ehlo_line_ends_the_connection_at_once() {
    assert_ends_clearly("huge-ehlo", "the server's reply is too long", false);
}

#[test]
fn a_reply_that_is_not_utf8_is_an_error_not_a_panic() {
    assert_ends_clearly("invalid-utf8", "valid UTF-8", false);
}

#[test]
fn a_server_that_drips_a_byte_a_second_is_given_up_on_at_the_timeout() {
    assert_ends_clearly("drip", "timed out", false);
}

#[test]
fn a_refusal_that_echoes_the_login_never_shows_the_password() {
    let server = Hostile::start("echo-535");
    let (ran, _) = send_to(&server, true);
    assert_eq!(ran.status, Some(1), "{}", ran.report());
    assert!(ran.stderr.contains("refused the login"), "{}", ran.report());
    assert!(ran.stderr.contains("[password hidden]"), "{}", ran.report());
    let plain = STANDARD.encode(format!("\0{USER}\0{PASSWORD}"));
    let journal = std::fs::read(ran.path().join("lettermerge-journal.sqlite")).unwrap_or_default();
    let journal = String::from_utf8_lossy(&journal);
    for secret in [PASSWORD, plain.as_str(), plain.trim_end_matches('=')] {
        for (name, text) in [
            ("stdout", ran.stdout.as_str()),
            ("stderr", ran.stderr.as_str()),
            ("journal", &journal),
        ] {
            assert!(
                !text.contains(secret),
                "{name} shows {secret:?}\n{}",
                ran.report()
            );
        }
    }
}
