//! The second suite: lettermerge against programs from outside the Rust world, which `.ci/run`
//! installs. Built only with `--features system-tests`; in that build a missing program is a
//! failure, never a skip.
//!
//! - an independent SMTP server, Python's aiosmtpd, with STARTTLS (a certificate from our own
//!   CA, trusted through `ca_file`) and AUTH.
//! - Postfix's smtp-sink, which offers PIPELINING (aiosmtpd does not) and dumps every message it
//!   takes: from Debian's postfix package, unpacked into `target/postfix` by `.ci/run` (no daemon,
//!   nothing installed), or wherever `LETTERMERGE_POSTFIX` points.
//! - Python's email package, reading back the headers of the emails lettermerge writes.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{make_certificate, Test};

const USER: &str = "advocate";
const PASSWORD: &str = "correct horse battery staple";

/// aiosmtpd with STARTTLS (or implicit TLS) and AUTH, killed when dropped.
struct Aiosmtpd {
    child: Child,
    port: u16,
    outdir: tempfile::TempDir,
    certs: tempfile::TempDir,
    implicit: bool,
}

impl Aiosmtpd {
    fn start() -> Aiosmtpd {
        Aiosmtpd::started(false)
    }

    /// TLS from the first byte, as on port 465.
    fn start_implicit() -> Aiosmtpd {
        Aiosmtpd::started(true)
    }

    fn started(implicit: bool) -> Aiosmtpd {
        let certs = tempfile::tempdir().unwrap();
        make_certificate(certs.path());
        let outdir = tempfile::tempdir().unwrap();
        let port = free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/system/aiosmtpd_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(certs.path().join("cert.pem"))
            .arg(certs.path().join("key.pem"))
            .arg(outdir.path())
            .args([USER, PASSWORD])
            .args(implicit.then_some("implicit"))
            .stdout(Stdio::piped())
            .spawn()
            .expect(
                "python3 runs (the system suite needs python3 with aiosmtpd: .ci/run installs it)",
            );
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            "ready",
            "aiosmtpd did not start: is it installed? (pip install aiosmtpd)"
        );
        Aiosmtpd {
            child,
            port,
            outdir,
            certs,
            implicit,
        }
    }

    fn ca_file(&self) -> String {
        self.certs.path().join("ca.pem").display().to_string()
    }

    /// The envelopes (JSON) of the messages received.
    fn envelopes(&self) -> Vec<String> {
        let mut found: Vec<_> = std::fs::read_dir(self.outdir.path())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect();
        found.sort();
        found
    }

    /// `[smtp]` for this server. Its `ca_file` is outside the campaign folder, so `send` is run
    /// with `--allow-outside`.
    fn smtp_settings(&self) -> String {
        format!(
            "host = \"localhost\"\nport = {}\nsecurity = \"{}\"\nusername = \"{USER}\"\nca_file = \"{}\"\nbackoff_ms = 50\nretries = 1\n",
            self.port,
            if self.implicit { "tls" } else { "starttls" },
            self.ca_file()
        )
    }
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn campaign(server: &Aiosmtpd) -> Test {
    Test::campaign().toml(&format!(
            "[campaign]\nid = \"system-test\"\ndate = 2026-12-10\n\n[sender]\nname = \"Ada Advocate\"\nemail = \"ada@example.org\"\n\n[letter]\nsubject = \"An appeal\"\n\n[smtp]\n{}",
        server.smtp_settings()
    ))
}

#[test]
fn starttls_and_login_deliver_every_letter_once() {
    let server = Aiosmtpd::start();
    let ran = campaign(&server)
        .env("LETTERMERGE_SMTP_PASSWORD", PASSWORD)
        .args(["send", "--allow-outside", "--yes"])
        .stderr_has("sent 1")
        .run();
    let envelopes = server.envelopes();
    assert_eq!(envelopes.len(), 1, "{envelopes:?}");
    assert!(envelopes[0].contains("\"tls\": true"), "{envelopes:?}");
    assert!(envelopes[0].contains("\"login\": true"), "{envelopes:?}");
    ran.again()
        .env("LETTERMERGE_SMTP_PASSWORD", PASSWORD)
        .args(["send", "--allow-outside", "--yes"])
        .stderr_has("already sent")
        .run();
    assert_eq!(server.envelopes().len(), 1, "a second run sends nothing");
}

/// Port 465's way: TLS from the first byte, over lettermerge's bounded stream.
#[test]
fn implicit_tls_and_login_deliver_every_letter_once() {
    let server = Aiosmtpd::start_implicit();
    campaign(&server)
        .env("LETTERMERGE_SMTP_PASSWORD", PASSWORD)
        .args(["send", "--allow-outside", "--yes"])
        .stderr_has("sent 1")
        .run();
    let envelopes = server.envelopes();
    assert_eq!(envelopes.len(), 1, "{envelopes:?}");
    assert!(envelopes[0].contains("\"tls\": true"), "{envelopes:?}");
    assert!(envelopes[0].contains("\"login\": true"), "{envelopes:?}");
}

/// Implicit TLS to a server whose certificate nobody vouches for: the run stops, nothing goes.
#[test]
fn implicit_tls_to_an_untrusted_certificate_stops_the_run() {
    let server = Aiosmtpd::start_implicit();
    let settings = server
        .smtp_settings()
        .lines()
        .filter(|l| !l.starts_with("ca_file"))
        .collect::<Vec<_>>()
        .join("\n");
    Test::campaign()
        .toml(&format!(
            "[campaign]\nid = \"system-test\"\n\n[sender]\nname = \"Ada\"\nemail = \"ada@example.org\"\n\n[letter]\nsubject = \"An appeal\"\n\n[smtp]\n{settings}\n"
        ))
        .env("LETTERMERGE_SMTP_PASSWORD", PASSWORD)
        .args(["send", "--yes"])
        .status(1)
        .stderr_has("TLS")
        .stderr_has("sent 0")
        .run();
    assert!(server.envelopes().is_empty());
}

#[test]
fn campaign_day_through_an_independent_server_sends_each_letter_when_due_once() {
    let server = Aiosmtpd::start();
    let recipients = "[[recipient]]\nid = \"kr\"\nname = \"Seoul\"\nemail = \"kr@example.org\"\ntimezone = \"Asia/Seoul\"\n\n[[recipient]]\nid = \"ca\"\nname = \"Ottawa\"\nemail = \"ca@example.org\"\ntimezone = \"America/Toronto\"\n";
    let settings = format!(
        "[campaign]\nid = \"system-schedule\"\n\n[sender]\nname = \"Ada Advocate\"\nemail = \"ada@example.org\"\n\n[letter]\nsubject = \"An appeal\"\n\n[schedule]\nat = \"2026-12-10T09:00\"\n\n[smtp]\n{}",
        server.smtp_settings()
    );
    // 09:00 has passed in Seoul (00:00 UTC), not in Toronto (14:00 UTC).
    let ran = Test::campaign()
        .toml(&settings)
        .recipients(recipients)
        .env("LETTERMERGE_SMTP_PASSWORD", PASSWORD)
        .env("LETTERMERGE_NOW", "2026-12-10T06:00:00Z")
        .args(["send", "--allow-outside", "--due", "--yes"])
        .stderr_has("sent 1, 0 not sent")
        .run();
    let envelopes = server.envelopes();
    assert_eq!(envelopes.len(), 1, "{envelopes:?}");
    assert!(envelopes[0].contains("kr@example.org"), "{envelopes:?}");
    ran.again()
        .env("LETTERMERGE_SMTP_PASSWORD", PASSWORD)
        .env("LETTERMERGE_NOW", "2026-12-10T14:05:00Z")
        .args(["send", "--allow-outside", "--due", "--yes"])
        .stderr_has("1 letter already sent: not sent again")
        .stderr_has("sent 1, 0 not sent")
        .run();
    let envelopes = server.envelopes();
    assert_eq!(envelopes.len(), 2, "{envelopes:?}");
    for to in ["kr@example.org", "ca@example.org"] {
        let n = envelopes.iter().filter(|e| e.contains(to)).count();
        assert_eq!(n, 1, "one letter to {to}: {envelopes:?}");
    }
}

/// aiosmtpd's session keeps the name of the last EHLO (the one after STARTTLS).
#[test]
fn ehlo_to_an_independent_server_names_the_senders_domain() {
    let server = Aiosmtpd::start();
    campaign(&server)
        .env("LETTERMERGE_SMTP_PASSWORD", PASSWORD)
        .args(["send", "--allow-outside", "--yes"])
        .stderr_has("sent 1")
        .run();
    let envelopes = server.envelopes();
    assert_eq!(envelopes.len(), 1, "{envelopes:?}");
    assert!(
        envelopes[0].contains("\"helo\": \"example.org\""),
        "{envelopes:?}"
    );
}

#[test]
fn a_wrong_password_sends_nothing_and_is_never_printed() {
    let server = Aiosmtpd::start();
    campaign(&server)
        .env("LETTERMERGE_SMTP_PASSWORD", "wrong-secret-words")
        .args(["send", "--allow-outside", "--yes"])
        .status(1)
        .stderr_lacks("wrong-secret-words")
        .run();
    assert!(server.envelopes().is_empty());
}

#[test]
fn an_untrusted_certificate_is_refused() {
    let server = Aiosmtpd::start();
    let settings = server
        .smtp_settings()
        .replace(&format!("ca_file = \"{}\"\n", server.ca_file()), "");
    Test::campaign()
        .toml(
            &format!("[campaign]\nid = \"system-test\"\n\n[sender]\nname = \"A\"\nemail = \"ada@example.org\"\n\n[letter]\nsubject = \"S\"\n\n[smtp]\n{settings}"),
        )
        .env("LETTERMERGE_SMTP_PASSWORD", PASSWORD)
        .args(["send", "--yes"])
        .status(1)
        .run();
    assert!(server.envelopes().is_empty());
}

/// msmtp, a real sendmail-compatible mail client, configured through its own ~/.msmtprc.
fn msmtp_home(server: &Aiosmtpd) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let rc = home.path().join(".msmtprc");
    std::fs::write(
        &rc,
        format!(
            "defaults\ntls on\ntls_starttls on\ntls_trust_file {}\n\naccount default\nhost localhost\nport {}\nauth on\nuser {USER}\npassword {PASSWORD}\nfrom ada@example.org\n",
            server.ca_file(),
            server.port
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
    home
}

#[test]
fn the_sendmail_transport_hands_each_letter_to_the_local_mail_system_once() {
    let msmtp = which("msmtp")
        .expect("msmtp is installed (the system suite needs it: .ci/run installs it)");
    let server = Aiosmtpd::start();
    let home = msmtp_home(&server);
    let ran = Test::campaign()
        .toml(&format!(
            "[campaign]\nid = \"system-test\"\n\n[sender]\nname = \"A\"\nemail = \"ada@example.org\"\n\n[letter]\nsubject = \"S\"\n\n[smtp]\ntransport = \"sendmail\"\nsendmail = \"{}\"\n",
            msmtp.display()
        ))
        .env("HOME", &home.path().display().to_string())
        .args(["send", "--allow-outside", "--yes"])
        .stderr_has("sent 1")
        .run();
    assert_eq!(server.envelopes().len(), 1, "{:?}", server.envelopes());
    ran.again()
        .env("HOME", &home.path().display().to_string())
        .args(["send", "--allow-outside", "--yes"])
        .stderr_has("already sent")
        .run();
    assert_eq!(
        server.envelopes().len(),
        1,
        "a second run hands nothing over"
    );
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}

/// Postfix's smtp-sink on 127.0.0.1, writing each message it accepts to a file of its own; killed
/// when dropped.
struct SmtpSink {
    child: Child,
    port: u16,
    dumps: tempfile::TempDir,
}

impl SmtpSink {
    fn start() -> SmtpSink {
        use std::os::unix::fs::PermissionsExt;
        let root = std::env::var_os("LETTERMERGE_POSTFIX")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/postfix"));
        let sink = root.join("usr/sbin/smtp-sink");
        assert!(
            sink.is_file(),
            "no smtp-sink at {}: the system suite needs Postfix's smtp-sink; .ci/run unpacks it \
             (apt-get download postfix && dpkg -x postfix_*.deb target/postfix)",
            sink.display()
        );
        let dumps = tempfile::tempdir().unwrap();
        // Run as root, smtp-sink must drop to another user, who then writes the dumps.
        std::fs::set_permissions(dumps.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let root_user = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        let port = free_port();
        let mut command = Command::new(&sink);
        command.env("LD_LIBRARY_PATH", root.join("usr/lib/postfix"));
        if root_user {
            command.args(["-u", "nobody"]);
        }
        let child = command
            .arg("-d")
            .arg(dumps.path().join("message."))
            .arg(format!("127.0.0.1:{port}"))
            .arg("64")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("smtp-sink starts");
        let sink = SmtpSink { child, port, dumps };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "smtp-sink does not listen"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        sink
    }

    /// Every message taken so far: its envelope recipients, and its text as the client sent it
    /// (lines ending in `\n`, the last empty lines left out).
    fn messages(&self) -> Vec<(Vec<String>, String)> {
        let mut messages = Vec::new();
        for entry in std::fs::read_dir(self.dumps.path()).unwrap() {
            let dump = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let mut lines = dump.lines();
            let mut rcpts = Vec::new();
            // smtp-sink's own header lines, which end with its three-line Received header.
            for line in lines.by_ref() {
                if let Some(rcpt) = line.strip_prefix("X-Rcpt-Args: ") {
                    rcpts.push(rcpt.trim_matches(['<', '>']).to_string());
                }
                if line.starts_with("Received: ") {
                    break;
                }
            }
            let text: Vec<&str> = lines.skip(2).collect();
            messages.push((rcpts, without_trailing_empty_lines(&text)));
        }
        messages
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn without_trailing_empty_lines(lines: &[&str]) -> String {
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(0, |i| i + 1);
    lines[..end].join("\n")
}

/// A message's text without its Date (which says when it went), lines ending in `\n`.
fn undated(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("Date: ")).collect();
    without_trailing_empty_lines(&lines)
}

#[test]
fn pipelining_to_postfix_smtp_sink_delivers_each_letter_once_as_rendered() {
    let sink = SmtpSink::start();
    let recipients: String = (0..60)
        .map(|i| {
            let cc = if i % 4 == 0 { format!("cc = [\"office-{i}@example.net\"]\n") } else { String::new() };
            format!("[[recipient]]\nid = \"r-{i:02}\"\nname = \"Name {i}\"\nemail = \"r-{i:02}@example.org\"\n{cc}\n")
        })
        .collect();
    // Lines that start with dots go doubled on the wire; smtp-sink undoes that.
    let template =
        "Dear {{recipient.name}},\n\n.A line that starts with a dot.\n\n..And one with two.\n";
    let ran = Test::campaign()
        .recipients(&recipients)
        .template(template)
        .setting("smtp", "host = \"127.0.0.1\"")
        .setting("smtp", &format!("port = {}", sink.port))
        .setting("smtp", "security = \"none\"")
        .setting("smtp", "connections = 3")
        .args(["send", "--yes"])
        .stderr_has("sent 60, 0 not sent")
        .run();
    let rendered = ran.again().args(["render", "--format", "eml"]).run();
    let messages = sink.messages();
    assert_eq!(messages.len(), 60, "one message per letter");
    for i in 0..60 {
        let to = format!("r-{i:02}@example.org");
        let mine: Vec<_> = messages
            .iter()
            .filter(|(rcpts, _)| rcpts[0] == to)
            .collect();
        assert_eq!(mine.len(), 1, "messages to {to}");
        let (rcpts, text) = mine[0];
        let mut want = vec![to.clone()];
        if i % 4 == 0 {
            want.push(format!("office-{i}@example.net"));
        }
        assert_eq!(rcpts, &want, "the envelope of r-{i:02}");
        let eml = rendered.out(&format!("r-{i:02}.eml"));
        assert_eq!(
            undated(text),
            undated(&eml),
            "r-{i:02}'s message as rendered"
        );
    }
    assert!(messages
        .iter()
        .any(|(_, t)| t.contains("\n.A line that starts with a dot.\n")));
    assert!(messages
        .iter()
        .any(|(_, t)| t.contains("\n..And one with two.\n")));
    rendered
        .again()
        .args(["send", "--yes"])
        .stderr_has("already sent")
        .run();
    assert_eq!(sink.messages().len(), 60, "a second run sends nothing");
}

/// A TOML string.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// The header block of `eml`, folded lines joined.
fn header_of(eml: &str, name: &str) -> String {
    let head = eml.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head
        .split("\r\n")
        .skip_while(|l| !l.starts_with(&format!("{name}: ")));
    let first = lines.next().unwrap_or_default().to_string();
    lines
        .take_while(|l| l.starts_with(' '))
        .fold(first, |all, l| all + l)
}

/// Subjects and display names of every kind, in emails rendered by lettermerge and read by
/// Python's email package with `policy.default`: each comes back exactly, without a defect.
/// Python 3.11 puts a space between two encoded-words of a display name (gh-128110, against
/// RFC 2047 6.2); for a name that needs more than one encoded-word in a row, and only there,
/// Python's RFC 2047 decoder (email.header) is the reader, unless this Python has the fix.
#[test]
fn python_reads_every_subject_and_display_name_back_exactly() {
    let family = "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}\u{200d}\u{1f466}";
    let arabic = "\u{627}\u{644}\u{633}\u{651}\u{64e}\u{644}\u{64e}\u{627}\u{645}\u{64f} \u{639}\u{64e}\u{644}\u{64e}\u{64a}\u{652}\u{643}\u{64f}\u{645}\u{652}";
    let korean = "중화인민공화국의 탈북민 강제송환에 관하여";
    let chinese = "关于中华人民共和国强制遣返朝鲜难民的问题";
    let cases: Vec<(String, String)> = vec![
        ("A".repeat(1100), "B".repeat(1120)),
        (
            "The forced repatriation of North Korean refugees by the People's Republic of China, and what the Convention requires".into(),
            "H.E. the Ambassador of the People's Republic of China to the Federal Republic of Germany".into(),
        ),
        (
            "Le rapatriement forcé de réfugiés nord-coréens par la République populaire de Chine".into(),
            "Le Consul général de la République populaire de Chine à Montréal".into(),
        ),
        (family.repeat(20), family.repeat(20)),
        ("\u{1f1f0}\u{1f1f7}".repeat(30), format!("{korean} {family}")),
        (arabic.repeat(6), arabic.to_string()),
        (format!("{korean} {chinese}").repeat(3), chinese.to_string()),
        (
            format!("Appeal: {arabic} {family} {korean} — 10 December"),
            "Kim \"the\" Lee \\ Office".into(),
        ),
    ];
    // Whether the name needs no two encoded-words in a row.
    let whole = [false, true, true, false, false, true, false, true];
    let recipients: String = cases
        .iter()
        .enumerate()
        .map(|(i, (subject, name))| {
            format!(
                "[[recipient]]\nid = \"r{i}\"\nname = {}\nemail = \"r{i}@example.org\"\ncc = [\"office@example.org\"]\n\n[recipient.letter]\nsubject = {}\n\n",
                toml_string(name),
                toml_string(subject)
            )
        })
        .collect();
    let sender = format!("{chinese} {}", "C".repeat(200));
    let ran = Test::campaign()
        .recipients(&recipients)
        .setting("sender", &format!("name = {}", toml_string(&sender)))
        .args(["render", "--format", "eml"])
        .run();
    let files: Vec<String> = (0..cases.len())
        .map(|i| {
            ran.path()
                .join(format!("out/r{i}.eml"))
                .display()
                .to_string()
        })
        .collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/system/decode_headers.py");
    let output = Command::new("python3")
        .arg(script)
        .args(&files)
        .output()
        .expect("python3 runs (the system suite needs it: .ci/run has it)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let read: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let joins = read["joins_adjacent_encoded_words"] == true;
    for (((subject, name), whole), file) in cases.iter().zip(whole).zip(&files) {
        let eml = std::fs::read_to_string(file).expect("the email");
        for line in eml
            .split("\r\n\r\n")
            .next()
            .unwrap_or_default()
            .split("\r\n")
        {
            let limit = if line.starts_with("Message-ID: ") {
                998
            } else {
                78
            };
            assert!(
                line.len() <= limit,
                "{} octets in {file}: {line}",
                line.len()
            );
        }
        let modern = &read["files"][file]["modern"];
        let legacy = &read["files"][file]["legacy"];
        // A name of printable ASCII words, or one whose other runs each fit an encoded-word,
        // is never cut between encoded-words: any Python reads it.
        assert!(
            !whole || !header_of(&eml, "To").contains("?= =?"),
            "{file}: {}",
            header_of(&eml, "To")
        );
        assert_eq!(modern["subject"], subject.as_str(), "{file}");
        assert_eq!(modern["defects"], serde_json::json!([]), "{file}");
        for (field, expected) in [
            (
                "To",
                (name.as_str(), format!("{}@example.org", file_id(file))),
            ),
            ("From", (sender.as_str(), "ada@example.org".to_string())),
        ] {
            let adjacent = header_of(&eml, field).contains("?= =?");
            let reader = match adjacent && !joins {
                true => legacy,
                false => modern,
            };
            assert_eq!(
                reader[field],
                serde_json::json!([[expected.0, expected.1]]),
                "{file} {field}: {}",
                header_of(&eml, field)
            );
        }
        assert_eq!(
            modern["Cc"],
            serde_json::json!([["", "office@example.org"]]),
            "{file}"
        );
    }
}

/// `…/out/r3.eml` → `r3`.
fn file_id(file: &str) -> &str {
    Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
}
