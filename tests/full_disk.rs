//! Second suite: `send` with its journal on a disk that fills up mid-run (a small tmpfs, mounted
//! by the test: it needs root, which CI has; without it the test fails, never skips).
//!
//! What must hold: the run stops at once instead of retrying the journal as if it were the
//! network, it never hangs, its summary counts exactly the letters the server took, and after
//! space is freed no letter the server took is sent again.

mod common;
#[path = "common/smtp.rs"]
mod smtp;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{record, Test};
use smtp::{Script, SmtpServer};

/// How many recipients: enough that the journal outgrows the disk long before the end.
const RECIPIENTS: usize = 300;

/// A tmpfs mounted on a folder for as long as this lives.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "cannot mount a tmpfs on {} (the full-disk tests need root)",
            dir.display()
        );
        Tmpfs(dir.to_path_buf())
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .expect("run mount");
        assert!(status.success(), "cannot resize the tmpfs");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn settings(server: &SmtpServer) -> String {
    format!(
        r#"[campaign]
id = "full-disk"
date = 2026-12-10

[sender]
name = "Ada Advocate"
email = "ada@example.org"

[letter]
subject = "Free the prisoners"

[smtp]
host = "127.0.0.1"
port = {}
security = "none"
connections = 4
retries = 3
backoff_ms = 2000
"#,
        server.port()
    )
}

fn recipients() -> String {
    (0..RECIPIENTS)
        .map(|i| {
            format!(
                "[[recipient]]\nid = \"r{i:03}\"\nname = \"Recipient {i}\"\nemail = \"r{i:03}@example.org\"\n\n"
            )
        })
        .collect()
}

#[test]
fn a_full_disk_under_the_journal_stops_the_run_at_once_and_its_summary_tells_the_truth() {
    let server = SmtpServer::start(Script::new());
    let test = Test::new();
    let disk = Tmpfs::mount(&test.path(), "300k");
    let test = test
        .file("lettermerge.toml", &settings(&server))
        .file("recipients.toml", &recipients())
        .file("templates/letter.md", common::TEMPLATE)
        .args(["send", "--yes"])
        .status(1);

    let started = Instant::now();
    let running = test.spawn();
    let pid = running.pid().to_string();
    // A watchdog: a run that hangs is killed, and the assertion below says so.
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        let _ = Command::new("kill").args(["-9", &pid]).status();
    });
    let ran = running.finish();
    let took = started.elapsed();
    drop(watchdog);
    assert!(
        took < Duration::from_secs(30),
        "the run took {took:?}: it must stop at once\n{}",
        ran.report()
    );
    assert_eq!(ran.status, Some(1), "{}", ran.report());
    assert!(!ran.stderr.contains("panicked"), "{}", ran.report());
    assert!(
        ran.stderr.contains("disk is full"),
        "the error says the disk is full\n{}",
        ran.report()
    );
    assert!(
        !ran.stderr.contains("nothing was sent"),
        "letters were sent\n{}",
        ran.report()
    );
    let delivered = server.messages().len();
    assert!(
        delivered > 0 && delivered < RECIPIENTS,
        "the disk should fill mid-run: {delivered} delivered\n{}",
        ran.report()
    );
    assert!(
        ran.stderr.contains(&format!(
            "sent {delivered}, {} not sent",
            RECIPIENTS - delivered
        )),
        "the summary counts exactly the {delivered} letters the server took\n{}",
        ran.report()
    );

    // With room again, `status` shows every delivered letter as sent or uncertain (never as
    // pending), and the next run sends only the others.
    disk.resize("20m");
    let (ran, records) = ran.status_json(None);
    for message in server.messages() {
        let id = message.to[0].trim_end_matches("@example.org").to_string();
        let state = record(&records, &id)["state"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            state == "sent" || state == "uncertain",
            "{id} was delivered, the journal says {state}\n{}",
            ran.report()
        );
    }
    let ran = ran.again().args(["send", "--yes"]).run_any_status();
    for i in 0..RECIPIENTS {
        let id = format!("r{i:03}");
        let got = server.messages_to(&format!("{id}@example.org")).len();
        let uncertain = record(&records, &id)["state"] == "uncertain";
        let expected = if uncertain { got.min(1) } else { 1 };
        assert_eq!(got, expected, "{id}: {got} letters\n{}", ran.report());
    }
    drop(disk);
}
