//! The second suite: lettermerge against programs from outside the Rust world, which `.ci/run`
//! installs. Built only with `--features system-tests`; in that build a missing program is a
//! failure, never a skip.
//!
//! - an independent SMTP server, Python's aiosmtpd, with STARTTLS (a certificate from our own
//!   CA, trusted through `ca_file`) and AUTH.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::Test;

const USER: &str = "advocate";
const PASSWORD: &str = "correct horse battery staple";

/// aiosmtpd with STARTTLS and AUTH, killed when dropped.
struct Aiosmtpd {
    child: Child,
    port: u16,
    outdir: tempfile::TempDir,
    certs: tempfile::TempDir,
}

impl Aiosmtpd {
    fn start() -> Aiosmtpd {
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

    fn smtp_settings(&self) -> String {
        format!(
            "host = \"localhost\"\nport = {}\nsecurity = \"starttls\"\nusername = \"{USER}\"\nca_file = \"{}\"\nbackoff_ms = 50\nretries = 1\n",
            self.port,
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

/// A private CA (`ca.pem`) and a certificate for localhost it signed (`cert.pem`, `key.pem`).
fn make_certificate(dir: &Path) {
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let steps: [&[&str]; 3] = [
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=lettermerge test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "key.pem",
            "-out",
            "leaf.csr",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
            "-out",
            "cert.pem",
        ],
    ];
    for args in steps {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stderr(Stdio::null())
            .status()
            .expect("openssl runs (the system suite needs it: .ci/run installs it)");
        assert!(status.success(), "openssl {args:?} failed");
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
        .args(["send", "--yes"])
        .stderr_has("sent 1")
        .run();
    let envelopes = server.envelopes();
    assert_eq!(envelopes.len(), 1, "{envelopes:?}");
    assert!(envelopes[0].contains("\"tls\": true"), "{envelopes:?}");
    assert!(envelopes[0].contains("\"login\": true"), "{envelopes:?}");
    ran.again()
        .env("LETTERMERGE_SMTP_PASSWORD", PASSWORD)
        .args(["send", "--yes"])
        .stderr_has("already sent")
        .run();
    assert_eq!(server.envelopes().len(), 1, "a second run sends nothing");
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
        .args(["send", "--due", "--yes"])
        .stderr_has("sent 1, 0 not sent")
        .run();
    let envelopes = server.envelopes();
    assert_eq!(envelopes.len(), 1, "{envelopes:?}");
    assert!(envelopes[0].contains("kr@example.org"), "{envelopes:?}");
    ran.again()
        .env("LETTERMERGE_SMTP_PASSWORD", PASSWORD)
        .env("LETTERMERGE_NOW", "2026-12-10T14:05:00Z")
        .args(["send", "--due", "--yes"])
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

#[test]
fn a_wrong_password_sends_nothing_and_is_never_printed() {
    let server = Aiosmtpd::start();
    campaign(&server)
        .env("LETTERMERGE_SMTP_PASSWORD", "wrong-secret-words")
        .args(["send", "--yes"])
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
        .args(["send", "--yes"])
        .stderr_has("sent 1")
        .run();
    assert_eq!(server.envelopes().len(), 1, "{:?}", server.envelopes());
    ran.again()
        .env("HOME", &home.path().display().to_string())
        .args(["send", "--yes"])
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
