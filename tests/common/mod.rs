//! A small harness that drives the real `lettermerge` binary over a campaign folder in a temporary
//! directory, the way a user meets it.
//!
//! ```ignore
//! Test::campaign()
//!     .recipients(RECIPIENTS_WITH_A_TYPO)
//!     .args(["check"])
//!     .stderr_has("did you mean `address`")
//!     .run();
//! ```
//!
//! [`Test::campaign`] starts from a minimal valid campaign so each test states only what differs;
//! [`Test::new`] starts from an empty folder. `run` asserts the exit status (0 unless told), every
//! expected piece of stdout and stderr, and that nothing panicked; it returns a [`Ran`] to look at
//! the files in `out/` or to run another command in the same folder.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// The clock every test runs on (`LETTERMERGE_NOW`).
pub const NOW: &str = "2026-12-01T10:00:00+00:00";

/// The minimal campaign's settings, table by table: `.setting(table, line)` adds or replaces a line.
const SETTINGS: &[(&str, &[&str])] = &[
    ("campaign", &["id = \"test-campaign\"", "date = 2026-12-10"]),
    (
        "sender",
        &["name = \"Ada Advocate\"", "email = \"ada@example.org\""],
    ),
    ("letter", &["subject = \"Free the prisoners\""]),
];

/// A recipient whose name is made to look like markup of every kind the letters pass through.
pub const HOSTILE: &str = r#"[[recipient]]
id = "alice"
name = "*Kim* _Lee_\r\n<script>alert(1)</script> {{recipient.id}}"
email = "kim@example.org"
"#;

/// The hostile name as a reader must see it: the line break is a space.
pub const HOSTILE_SHOWN: &str = "*Kim* _Lee_ <script>alert(1)</script> {{recipient.id}}";

/// The minimal campaign's letter.
pub const TEMPLATE: &str = "\
{{format_date date}}

Dear {{recipient.name}},

We write to you about {{letter.subject}}.

Yours sincerely,

{{sender.name}}
";

/// The minimal campaign's recipients: one with email and cc, one print-only.
pub const RECIPIENTS: &str = r#"[[recipient]]
id = "alice"
name = "Alice Ambassador"
email = "alice@example.org"
cc = ["office@example.org"]

[[recipient]]
id = "bob"
name = "Bob Minister"
"#;

/// One run of the binary, built up step by step.
pub struct Test {
    tempdir: TempDir,
    /// The folder passed with `-C`, relative to the temporary directory.
    campaign_dir: PathBuf,
    /// `lettermerge.toml` as tables of lines; written at `run` when set.
    settings: Option<Vec<(String, Vec<String>)>>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    status: i32,
    stdout_has: Vec<String>,
    stdout_lacks: Vec<String>,
    stderr_has: Vec<String>,
    stderr_lacks: Vec<String>,
}

impl Test {
    /// An empty folder.
    pub fn new() -> Test {
        Test::in_tempdir(
            tempfile::Builder::new()
                .prefix("lettermerge-test")
                .tempdir()
                .expect("a temporary folder"),
        )
    }

    /// A minimal valid campaign: settings, `templates/letter.md` and two recipients.
    pub fn campaign() -> Test {
        let mut test = Test::new().template(TEMPLATE).recipients(RECIPIENTS);
        test.settings = Some(
            SETTINGS
                .iter()
                .map(|(table, lines)| {
                    (
                        table.to_string(),
                        lines.iter().map(|l| l.to_string()).collect(),
                    )
                })
                .collect(),
        );
        test
    }

    /// A copy of the campaign at the repository root (settings, recipients and templates).
    pub fn root_campaign() -> Test {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let test = Test::new();
        for name in ["lettermerge.toml", "recipients.toml", "templates"] {
            copy_all(&root.join(name), &test.tempdir.path().join(name));
        }
        test
    }

    /// A copy of the campaign folder `dir` (everything but its `out/`).
    pub fn copy_of(dir: &Path) -> Test {
        let test = Test::new();
        for entry in std::fs::read_dir(dir).expect("read the campaign folder") {
            let entry = entry.expect("folder entry");
            if entry.file_name() != "out" {
                copy_all(&entry.path(), &test.tempdir.path().join(entry.file_name()));
            }
        }
        test
    }

    fn in_tempdir(tempdir: TempDir) -> Test {
        Test {
            tempdir,
            campaign_dir: PathBuf::from("."),
            settings: None,
            args: Vec::new(),
            env: Vec::new(),
            status: 0,
            stdout_has: Vec::new(),
            stdout_lacks: Vec::new(),
            stderr_has: Vec::new(),
            stderr_lacks: Vec::new(),
        }
    }

    /// Writes a file of the campaign (folders are created as needed).
    pub fn file(self, path: &str, text: &str) -> Test {
        let path = self.tempdir.path().join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create folders");
        }
        std::fs::write(&path, text).expect("write a campaign file");
        self
    }

    /// Removes a file of the campaign.
    pub fn remove(self, path: &str) -> Test {
        std::fs::remove_file(self.tempdir.path().join(path)).expect("remove a campaign file");
        self
    }

    /// Replaces the whole of `lettermerge.toml`.
    pub fn toml(mut self, text: &str) -> Test {
        self.settings = None;
        self.file("lettermerge.toml", text)
    }

    /// Sets one line of `lettermerge.toml` in `[table]`, replacing the line with the same key.
    pub fn setting(mut self, table: &str, line: &str) -> Test {
        let settings = self
            .settings
            .as_mut()
            .expect(".setting works on Test::campaign()");
        let key = |l: &str| l.split('=').next().unwrap_or_default().trim().to_string();
        let lines = match settings.iter_mut().find(|(t, _)| t == table) {
            Some((_, lines)) => lines,
            None => {
                settings.push((table.to_string(), Vec::new()));
                &mut settings.last_mut().expect("just pushed").1
            }
        };
        lines.retain(|l| key(l) != key(line));
        lines.push(line.to_string());
        self
    }

    /// Removes the line with `key` from `[table]` of `lettermerge.toml`.
    pub fn unset(mut self, table: &str, key: &str) -> Test {
        let settings = self
            .settings
            .as_mut()
            .expect(".unset works on Test::campaign()");
        for (_, lines) in settings.iter_mut().filter(|(t, _)| t == table) {
            lines.retain(|l| l.split('=').next().unwrap_or_default().trim() != key);
        }
        self
    }

    /// Writes `recipients.toml`.
    pub fn recipients(self, text: &str) -> Test {
        self.file("recipients.toml", text)
    }

    /// Writes `templates/letter.md`.
    pub fn template(self, text: &str) -> Test {
        self.file("templates/letter.md", text)
    }

    /// Runs with `-C` pointing at this folder (relative to the test's folder).
    pub fn in_dir(mut self, dir: &str) -> Test {
        self.campaign_dir = PathBuf::from(dir);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Test
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Test {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The exit status expected (0 unless told).
    pub fn status(mut self, status: i32) -> Test {
        self.status = status;
        self
    }

    pub fn stdout_has(mut self, text: &str) -> Test {
        self.stdout_has.push(text.into());
        self
    }

    pub fn stdout_lacks(mut self, text: &str) -> Test {
        self.stdout_lacks.push(text.into());
        self
    }

    pub fn stderr_has(mut self, text: &str) -> Test {
        self.stderr_has.push(text.into());
        self
    }

    pub fn stderr_lacks(mut self, text: &str) -> Test {
        self.stderr_lacks.push(text.into());
        self
    }

    /// The campaign folder, for tests that look at files directly.
    pub fn path(&self) -> PathBuf {
        if self.campaign_dir == Path::new(".") {
            self.tempdir.path().to_path_buf()
        } else {
            self.tempdir.path().join(&self.campaign_dir)
        }
    }

    /// Writes `lettermerge.toml` from the tables set with [`Test::setting`], if any.
    fn write_settings(&self) {
        if let Some(settings) = &self.settings {
            let text: String = settings
                .iter()
                .map(|(table, lines)| format!("[{table}]\n{}\n\n", lines.join("\n")))
                .collect();
            std::fs::write(self.tempdir.path().join("lettermerge.toml"), text)
                .expect("write lettermerge.toml");
        }
    }

    /// Runs the binary and checks everything expected of it.
    pub fn run(self) -> Ran {
        self.write_settings();
        let dir = self.path();
        let output = Command::new(env!("CARGO_BIN_EXE_lettermerge"))
            .arg("-C")
            .arg(&dir)
            .args(&self.args)
            .current_dir(self.tempdir.path())
            .env("LETTERMERGE_NOW", NOW)
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("run lettermerge");
        let ran = Ran {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            status: output.status.code(),
            args: self.args.clone(),
            dir,
            tempdir: self.tempdir,
        };
        let mut failures = Vec::new();
        if ran.status != Some(self.status) {
            failures.push(format!(
                "exit status {:?}, expected {}",
                ran.status, self.status
            ));
        }
        if ran.stderr.contains("panicked") {
            failures.push("the program panicked".to_string());
        }
        for text in &self.stdout_has {
            if !ran.stdout.contains(text.as_str()) {
                failures.push(format!("stdout lacks {text:?}"));
            }
        }
        for text in &self.stdout_lacks {
            if ran.stdout.contains(text.as_str()) {
                failures.push(format!("stdout has {text:?}"));
            }
        }
        for text in &self.stderr_has {
            if !ran.stderr.contains(text.as_str()) {
                failures.push(format!("stderr lacks {text:?}"));
            }
        }
        for text in &self.stderr_lacks {
            if ran.stderr.contains(text.as_str()) {
                failures.push(format!("stderr has {text:?}"));
            }
        }
        if !failures.is_empty() {
            panic!("{}\n{}", failures.join("\n"), ran.report());
        }
        ran
    }
}

impl Default for Test {
    fn default() -> Self {
        Test::new()
    }
}

/// What a run did, and the folder it ran in.
pub struct Ran {
    tempdir: TempDir,
    dir: PathBuf,
    args: Vec<String>,
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// Another run in the same folder, with fresh arguments and expectations.
    pub fn again(self) -> Test {
        Test::in_tempdir(self.tempdir)
    }

    /// `status --json` in the same folder, on the test clock or at `now`: the run, and the
    /// journal's records.
    pub fn status_json(self, now: Option<&str>) -> (Ran, Vec<serde_json::Value>) {
        let mut test = self.again().args(["status", "--json"]);
        if let Some(now) = now {
            test = test.env("LETTERMERGE_NOW", now);
        }
        let ran = test.run();
        let records = match serde_json::from_str(&ran.stdout) {
            Ok(serde_json::Value::Array(records)) => records,
            other => panic!("status --json is not an array: {other:?}\n{}", ran.report()),
        };
        (ran, records)
    }

    /// The campaign folder the run used.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// A file of the campaign folder as text.
    pub fn read(&self, path: &str) -> String {
        let full = self.dir.join(path);
        std::fs::read_to_string(&full)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}\n{}", full.display(), self.report()))
    }

    /// A file in `out/` as text.
    pub fn out(&self, name: &str) -> String {
        self.read(&format!("out/{name}"))
    }

    /// A file in `out/` as bytes.
    pub fn out_bytes(&self, name: &str) -> Vec<u8> {
        let full = self.dir.join("out").join(name);
        std::fs::read(&full)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}\n{}", full.display(), self.report()))
    }

    /// The names of the files in `out/`, sorted (none when it does not exist).
    pub fn out_files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.join("out"))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Asserts that `out/` holds exactly these files.
    pub fn assert_out_files(&self, expected: &[&str]) {
        let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        expected.sort();
        assert_eq!(self.out_files(), expected, "\n{}", self.report());
    }

    /// The run, for failure messages.
    pub fn report(&self) -> String {
        format!(
            "--- lettermerge -C {} {}\n--- exit status: {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.dir.display(),
            self.args.join(" "),
            self.status,
            self.stdout,
            self.stderr
        )
    }
}

/// The headers of an email, unfolded: `(name, value)` in order.
pub fn headers(eml: &str) -> Vec<(String, String)> {
    let head = eml.split("\r\n\r\n").next().unwrap_or_default();
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.to_string(), value.trim().to_string()));
        }
    }
    headers
}

/// The value of a header, when the email has it.
pub fn header(eml: &str, name: &str) -> Option<String> {
    headers(eml)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn copy_all(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("create folder");
        for entry in std::fs::read_dir(from).expect("read folder") {
            let entry = entry.expect("folder entry");
            copy_all(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).expect("copy file");
    }
}

/// The parts of a multipart email: `(Content-Type, decoded body with \n line ends)`.
pub fn parts(eml: &str) -> Vec<(String, String)> {
    let content_type = header(eml, "Content-Type").unwrap_or_default();
    let Some(boundary) = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_string())
    else {
        return Vec::new();
    };
    let delimiter = format!("\r\n--{boundary}");
    let body = eml.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let body = format!("\r\n{body}");
    body.split(delimiter.as_str())
        .skip(1)
        .filter(|part| !part.starts_with("--"))
        .map(|part| {
            let part = part.trim_start_matches("\r\n");
            let (head, body) = part.split_once("\r\n\r\n").unwrap_or((part, ""));
            let head = format!("{head}\r\n\r\n");
            let kind = header(&head, "Content-Type").unwrap_or_default();
            let encoding = header(&head, "Content-Transfer-Encoding").unwrap_or_default();
            let decoded = match encoding.to_ascii_lowercase().as_str() {
                "quoted-printable" => decode_quoted_printable(body),
                "base64" => decode_base64(body),
                _ => body.to_string(),
            };
            (kind, decoded.replace("\r\n", "\n"))
        })
        .collect()
}

/// The decoded body of the first part whose Content-Type starts with `kind`.
pub fn part(eml: &str, kind: &str) -> String {
    parts(eml)
        .into_iter()
        .find(|(k, _)| k.starts_with(kind))
        .map(|(_, body)| body)
        .unwrap_or_else(|| panic!("no {kind} part in\n{eml}"))
}

fn decode_quoted_printable(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if bytes[i + 1..].starts_with(b"\n") {
                i += 2;
                continue;
            }
            let hex = std::str::from_utf8(&bytes[i + 1..(i + 3).min(bytes.len())]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).expect("quoted-printable text is UTF-8")
}

fn decode_base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let Some(value) = ALPHABET.iter().position(|&a| a == c) else {
            continue;
        };
        buffer = (buffer << 6) | value as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    String::from_utf8(out).expect("base64 text is UTF-8")
}

/// The record of recipient `id` among those of [`Ran::status_json`].
pub fn record<'a>(records: &'a [serde_json::Value], id: &str) -> &'a serde_json::Value {
    records
        .iter()
        .find(|r| r["recipient"] == id)
        .unwrap_or_else(|| panic!("no record of {id} in {records:#?}"))
}

/// A run started with [`Test::spawn`], going on in the background.
pub struct Running {
    test: Test,
    child: std::process::Child,
}

impl Test {
    /// Starts the binary without waiting for it, for tests that do something while it runs;
    /// [`Running::wait`] checks its exit status (the other expectations are not checked).
    pub fn spawn(self) -> Running {
        self.write_settings();
        let child = self
            .command(&self.args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start lettermerge");
        Running { test: self, child }
    }

    /// Runs the binary and checks only that nothing panicked, for runs whose exit status the
    /// contract leaves open; the expectations set on the test are not checked.
    pub fn run_any_status(self) -> Ran {
        let ran = self.spawn().finish();
        assert!(
            !ran.stderr.contains("panicked"),
            "the program panicked\n{}",
            ran.report()
        );
        ran
    }

    /// The binary on this folder with `args`, in the test environment.
    fn command(&self, args: &[String]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lettermerge"));
        command
            .arg("-C")
            .arg(self.path())
            .args(args)
            .current_dir(self.tempdir.path())
            .env("LETTERMERGE_NOW", NOW)
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }
}

impl Running {
    /// Runs another command on the same folder while this one goes on, and returns what it did.
    pub fn beside<I, S>(&self, args: I) -> std::process::Output
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let args: Vec<String> = args.into_iter().map(Into::into).collect();
        self.test
            .command(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run lettermerge beside the other")
    }

    /// Waits for the run to end and checks its exit status (and that nothing panicked).
    pub fn wait(self) -> Ran {
        let expected = self.test.status;
        let ran = self.finish();
        if ran.status != Some(expected) || ran.stderr.contains("panicked") {
            panic!(
                "exit status {:?}, expected {expected}, or a panic\n{}",
                ran.status,
                ran.report()
            );
        }
        ran
    }

    /// Kills the run at once (SIGKILL: no chance to clean up), then collects what it printed.
    pub fn kill(mut self) -> Ran {
        let _ = self.child.kill();
        self.finish()
    }

    /// Presses Ctrl-C (sends SIGINT) and goes on.
    pub fn ctrl_c(&self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -INT {pid} failed");
    }

    /// Presses Ctrl-C, then waits for the run to end and collects what it printed.
    pub fn interrupt(self) -> Ran {
        self.ctrl_c();
        self.finish()
    }

    /// The next line the run prints on stdout (without its newline); the rest of stdout is then
    /// no longer collected.
    pub fn stdout_line(&mut self) -> String {
        use std::io::BufRead;
        let stdout = self.child.stdout.take().expect("stdout is read once");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read stdout");
        line.trim_end().to_string()
    }

    /// The campaign folder of the run.
    pub fn path(&self) -> PathBuf {
        self.test.path()
    }

    /// The process id of the run.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A file of the campaign folder, written while the run goes on.
    pub fn write(&self, path: &str, text: &str) {
        std::fs::write(self.test.tempdir.path().join(path), text).expect("write a campaign file");
    }

    /// Waits for the run to end, checking nothing.
    pub fn finish(self) -> Ran {
        let output = self.child.wait_with_output().expect("wait for lettermerge");
        Ran {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            status: output.status.code(),
            args: self.test.args.clone(),
            dir: self.test.path(),
            tempdir: self.test.tempdir,
        }
    }
}

impl Running {
    /// Waits at most `limit` for the run to end; a run still going then is killed, and its
    /// status is `None`. Nothing is checked.
    pub fn finish_within(mut self, limit: std::time::Duration) -> Ran {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return self.finish();
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let mut ran = self.finish();
        ran.status = None;
        ran
    }
}

/// A private CA (`ca.pem`) and a certificate for localhost it signed (`cert.pem`, `key.pem`).
pub fn make_certificate(dir: &Path) {
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
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl runs (the system suite needs it: .ci/run installs it)");
        assert!(status.success(), "openssl {args:?} failed");
    }
}
