//! `lettermerge preview` over HTTP: every route, the problems the page shows, updates when a file
//! changes, and what the preview refuses to do. The page in a real browser: tests/browser.rs.

mod common;
#[path = "common/preview.rs"]
mod preview;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Test, RECIPIENTS};
use preview::Served;

/// Every file under `dir` with its bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).expect("read a folder") {
            let path = entry.expect("an entry").path();
            let name = path.strip_prefix(dir).unwrap().display().to_string();
            if path.is_dir() {
                files.insert(format!("{name}/"), Vec::new());
                stack.push(path);
            } else {
                files.insert(name, std::fs::read(&path).expect("read a file"));
            }
        }
    }
    files
}

#[test]
fn the_page_its_list_and_each_letter_and_email_are_served() {
    let served = Served::start(Test::root_campaign());

    let page = served.get("/");
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let policy = page.header("content-security-policy").expect("a policy");
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(page.text().contains("<script src=\"/app.js\""));
    let script = served.get("/app.js");
    assert_eq!(script.status, 200);
    assert!(script
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    assert!(script.text().contains("EventSource"));
    let style = served.get("/app.css");
    assert!(style
        .header("content-type")
        .unwrap()
        .starts_with("text/css"));

    let campaign = served.get("/api/campaign").json();
    assert_eq!(campaign["campaign"], "forced-repatriation-2026");
    assert_eq!(campaign["errors"], 0);
    let entries = campaign["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 10);
    let norway = &entries[0];
    assert_eq!(norway["key"], "cn-embassy-norway");
    assert_eq!(norway["country"], "Norway");
    assert_eq!(norway["line"], 33);
    assert!(entries.iter().any(|e| e["language"] == "zh"));

    let letter = served.get("/api/letters/cn-embassy-norway");
    assert_eq!(letter.status, 200);
    let letter = letter.json();
    assert_eq!(letter["problems"].as_array().unwrap().len(), 0);
    let email = &letter["email"];
    assert_eq!(email["from"], "Solveig Aas <appeals@example.org>");
    assert!(email["to"]
        .as_str()
        .unwrap()
        .contains("<embassy-norway@example.org>"));
    assert_eq!(email["cc"][0], "consular-norway@example.org");
    assert!(email["text"].as_str().unwrap().contains("Your Excellency,"));
    assert_eq!(email["subject"], letter["letter"]["subject"]);
    let page_url = letter["letter"]["page"].as_str().unwrap();

    let paper = served.get(page_url);
    assert_eq!(paper.status, 200);
    assert!(paper.text().contains("Your Excellency,"));
    assert!(paper.text().contains("max-width: 210mm"), "A4 paper");
    let policy = paper.header("content-security-policy").unwrap();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");

    let eml = served.get(letter["letter"]["eml"].as_str().unwrap());
    assert_eq!(eml.status, 200);
    assert_eq!(eml.header("content-type"), Some("message/rfc822"));
    assert_eq!(
        eml.header("content-disposition"),
        Some("attachment; filename=\"cn-embassy-norway.eml\"")
    );
    assert!(eml
        .text()
        .contains("Message-ID: <forced-repatriation-2026.cn-embassy-norway@example.org>"));

    // A print-only recipient has a letter and no email.
    let print_only = entries.iter().find(|e| e["email"].is_null()).unwrap();
    let letter = served
        .get(&format!(
            "/api/letters/{}",
            print_only["key"].as_str().unwrap()
        ))
        .json();
    assert!(letter["email"].is_null());
    assert!(letter["no_email"].as_str().unwrap().contains("print-only"));
    assert!(letter["letter"]["eml"].is_null());

    for path in [
        "/api/letters/nobody",
        "/letters/nobody/page",
        "/letters/nobody/pdf",
        "/letters/nobody/eml",
        "/nothing-here",
    ] {
        assert_eq!(served.get(path).status, 404, "{path}");
    }
    served.stop();
}

#[cfg(feature = "pdf")]
#[test]
fn the_pdf_tab_gets_the_letters_pdf() {
    let served = Served::start(Test::campaign());
    let pdf = served.get("/letters/alice/pdf?v=1");
    assert_eq!(pdf.status, 200, "{}", pdf.text());
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    assert_eq!(
        pdf.header("content-disposition"),
        Some("inline; filename=\"alice.pdf\"")
    );
    assert!(pdf.body.starts_with(b"%PDF-"));
    served.stop();
}

#[test]
fn problems_are_in_the_page_with_the_recipient_the_line_and_the_hint() {
    let recipients = format!(
        "{RECIPIENTS}{}",
        r#"country = "Norway"

[[recipient]]
id = "carol"
name = "Carol Consul"
email = "carol at example.org"

[[recipient]]
name = "Nobody Without An Id"
"#
    );
    let template = "Dear {{recipient.name}} of {{recipient.country}},\n";
    let served = Served::start(Test::campaign().recipients(&recipients).template(template));

    let campaign = served.get("/api/campaign").json();
    let entries = campaign["entries"].as_array().unwrap();
    let keys: Vec<&str> = entries.iter().map(|e| e["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["alice", "bob", "carol", "@17"]);
    let errors: Vec<u64> = entries
        .iter()
        .map(|e| e["errors"].as_u64().unwrap())
        .collect();
    assert_eq!(errors, [1, 0, 1, 1], "{entries:#?}");

    // Alice's letter reads a field she lacks: the template's line, the recipient, the hint.
    let alice = served.get("/api/letters/alice").json();
    assert!(alice["letter"].is_null());
    assert!(alice["no_letter"]
        .as_str()
        .unwrap()
        .contains("cannot be merged"));
    let problem = &alice["problems"][0];
    assert_eq!(problem["severity"], "error");
    assert_eq!(problem["recipient"], "alice");
    assert_eq!(problem["file"], "templates/letter.md");
    assert_eq!(problem["line"], 1);
    assert!(
        problem["message"].as_str().unwrap().contains("country"),
        "{problem}"
    );
    assert!(
        problem["hint"].as_str().unwrap().contains("country"),
        "{problem}"
    );
    assert!(
        problem["report"].as_str().unwrap().contains("^"),
        "{problem}"
    );
    let page = served.get("/letters/alice/page");
    assert_eq!(page.status, 422);
    assert!(page.text().contains("country"), "{}", page.text());

    // Bob's letter is fine.
    let bob = served.get("/api/letters/bob").json();
    assert_eq!(bob["line"], 7);
    assert!(bob["letter"]["page"].is_string());

    // Carol's entry has a bad address: listed, with the problem, and no letter.
    let carol = served.get("/api/letters/carol").json();
    assert_eq!(carol["line"], 12);
    assert!(carol["problems"][0]["message"]
        .as_str()
        .unwrap()
        .contains("carol at example.org"));
    assert_eq!(served.get("/letters/carol/page").status, 404);

    // An entry without an id is listed by its line, with its problem.
    let nobody = served.get("/api/letters/@17").json();
    assert!(nobody["id"].is_null());
    assert!(nobody["problems"][0]["message"]
        .as_str()
        .unwrap()
        .contains("id"));
    served.stop();
}

#[test]
fn hostile_recipient_data_is_text_in_every_view() {
    let hostile = r#"[[recipient]]
id = "eve"
name = "<script>alert(1)</script> & \"Eve\" <img src=x onerror=alert(2)>"
email = "eve@example.org"
organization = "</iframe><b>bold</b>"
"#;
    let served = Served::start(Test::campaign().recipients(hostile));
    let campaign = served.get("/api/campaign").json();
    assert_eq!(
        campaign["entries"][0]["name"],
        "<script>alert(1)</script> & \"Eve\" <img src=x onerror=alert(2)>"
    );
    // The page carries the list in a JSON script element that no name can end.
    let index = served.get("/").text();
    assert!(!index.contains("<script>alert(1)"), "{index}");
    assert!(
        index.contains("\\u003cscript>alert(1)\\u003c/script>"),
        "{index}"
    );
    let page = served.get("/letters/eve/page").text();
    assert!(!page.contains("<script"), "{page}");
    assert!(!page.contains("<img"), "{page}");
    assert!(page.contains("&lt;script&gt;"), "{page}");
    let view = served.get("/api/letters/eve").json();
    assert!(view["email"]["to"]
        .as_str()
        .unwrap()
        .contains("eve@example.org"));
    served.stop();
}

#[test]
fn a_saved_change_reaches_open_pages_as_an_event() {
    let served = Served::start(Test::campaign());
    let mut events = served.events();
    assert_eq!(events.next(), ("version".into(), "1".into()));

    // Files the letters do not read change nothing.
    std::fs::create_dir_all(served.path().join("out")).unwrap();
    served.write("out/alice.md", "written by render");
    served.write("templates/.letter.md.swp", "an editor's scratch file");
    std::thread::sleep(std::time::Duration::from_millis(300));

    served.write(
        "recipients.toml",
        &RECIPIENTS.replace("Bob Minister", "Bob Premier"),
    );
    assert_eq!(events.next(), ("change".into(), "2".into()));
    let campaign = served.get("/api/campaign").json();
    assert_eq!(campaign["version"], 2);
    assert_eq!(campaign["entries"][1]["name"], "Bob Premier");

    // One save is one reading: reading the files is not a change (the version would run away).
    served.write("templates/letter.md", "Hello {{recipient.name}}.\n");
    assert_eq!(events.next(), ("change".into(), "3".into()));
    let page = served.get("/letters/bob/page").text();
    assert!(page.contains("Hello Bob Premier."), "{page}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(served.get("/api/campaign").json()["version"], 3);

    // Broken settings: the page says where; mending them brings the letters back.
    served.write("lettermerge.toml", "[campaign\nid = \"x\"\n");
    let campaign = served.until(&mut events, |c| {
        c["problems"].as_array().is_some_and(|p| !p.is_empty())
    });
    assert_eq!(campaign["entries"].as_array().unwrap().len(), 0);
    let problem = &campaign["problems"][0];
    assert_eq!(problem["file"], "lettermerge.toml");
    assert_eq!(problem["line"], 1);
    assert!(
        problem["hint"].as_str().unwrap().contains("TOML"),
        "{problem}"
    );
    assert_eq!(served.get("/").status, 200);

    served.write(
        "lettermerge.toml",
        "[campaign]\nid = \"mended\"\n[sender]\nname = \"A\"\nemail = \"a@example.org\"\n[letter]\nsubject = \"S\"\n",
    );
    let campaign = served.until(&mut events, |c| c["campaign"] == "mended");
    assert_eq!(campaign["entries"].as_array().unwrap().len(), 2);
    served.stop();
}

#[test]
fn the_preview_writes_nothing_sends_nothing_and_answers_only_this_computer() {
    let test = Test::campaign().setting(
        "smtp",
        "host = \"127.0.0.1\"\nport = 9\nsecurity = \"none\"",
    );
    let served = Served::start(test);
    let before = tree(&served.path());
    for path in [
        "/",
        "/app.js",
        "/api/campaign",
        "/api/letters/alice",
        "/letters/alice/page",
        "/letters/alice/eml",
    ] {
        assert_eq!(served.get(path).status, 200, "{path}");
    }
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        for path in [
            "/",
            "/api/campaign",
            "/api/letters/alice",
            "/letters/alice/eml",
        ] {
            let answer = served.request(method, path, &[]);
            assert_eq!(answer.status, 405, "{method} {path}");
        }
    }
    // A page elsewhere that reaches 127.0.0.1 through its own name gets nothing.
    let port = served.port();
    for host in [
        "evil.example",
        "evil.example:80",
        &format!("attacker.test:{port}"),
    ] {
        let answer = served.request("GET", "/api/campaign", &[("Host", host)]);
        assert_eq!(answer.status, 403, "{host}");
    }
    let local = served.request("GET", "/", &[("Host", &format!("localhost:{port}"))]);
    assert_eq!(local.status, 200);
    assert_eq!(
        tree(&served.path()),
        before,
        "the preview changed the campaign folder"
    );
    let ran = served.stop();
    assert_eq!(ran.status, Some(0), "{}", ran.report());
    assert!(ran.stderr.contains("preview stopped"), "{}", ran.report());
    assert!(!ran.path().join("lettermerge-journal.sqlite").exists());
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let served = Served::start(Test::campaign());
    let port = served.port().to_string();
    Test::campaign()
        .args(["preview", "--port", &port])
        .status(1)
        .stderr_has(&format!("port {port} is already in use"))
        .stderr_has("--port 0")
        .run();
    served.stop();
}

#[test]
fn a_folder_that_is_not_a_campaign_is_a_clear_error() {
    Test::new()
        .in_dir("nowhere")
        .args(["preview", "--port", "0"])
        .status(1)
        .stderr_has("is not a campaign folder")
        .run();
}

#[test]
fn open_starts_the_browser_on_the_page() {
    // webbrowser runs $BROWSER when it is set: here, a script that notes the address it gets.
    let test = Test::campaign();
    let script = test.path().join("browser.sh");
    let noted = test.path().join("opened.txt");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$1\" > '{}'\n", noted.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let served = Served::start_with(test.env("BROWSER", script.to_str().unwrap()), &["--open"]);
    let started = std::time::Instant::now();
    while !noted.exists() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "--open did not start the browser"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(std::fs::read_to_string(&noted).unwrap().trim(), served.url);
    served.stop();
}

#[test]
fn partials_and_editors_that_save_by_renaming_are_followed() {
    let served = Served::start(Test::campaign());
    let mut events = served.events();
    assert_eq!(events.next().0, "version");

    // A partials folder made after the preview started, then a partial in it.
    std::fs::create_dir(served.path().join("templates/partials")).unwrap();
    served.write("templates/partials/closing.md", "With regards,");
    served.write(
        "templates/letter.md",
        "Dear {{recipient.name}},\n\n{{> closing}}\n",
    );
    served.until(&mut events, |_| {
        served
            .get("/letters/bob/page")
            .text()
            .contains("With regards,")
    });
    served.write("templates/partials/closing.md", "Yours faithfully,");
    served.until(&mut events, |_| {
        served
            .get("/letters/bob/page")
            .text()
            .contains("Yours faithfully,")
    });

    // An editor that writes a copy and renames it over the file.
    served.write(
        ".recipients.toml.swp",
        &RECIPIENTS.replace("Bob Minister", "Bob Renamed"),
    );
    std::fs::rename(
        served.path().join(".recipients.toml.swp"),
        served.path().join("recipients.toml"),
    )
    .unwrap();
    served.until(&mut events, |c| c["entries"][1]["name"] == "Bob Renamed");
    served.stop();
}

#[test]
fn a_template_that_does_not_compile_is_shown_at_the_top_and_on_every_letter() {
    let served = Served::start(Test::campaign().template("Dear {{#if recipient.name}}friend,\n"));
    let campaign = served.get("/api/campaign").json();
    assert_eq!(campaign["entries"].as_array().unwrap().len(), 2);
    let problem = &campaign["problems"][0];
    assert_eq!(problem["severity"], "error");
    assert_eq!(problem["file"], "templates/letter.md");
    let alice = served.get("/api/letters/alice").json();
    assert!(alice["letter"].is_null());
    let why = alice["no_letter"].as_str().unwrap();
    assert!(why.contains("templates have errors"), "{why}");
    assert_eq!(served.get("/letters/alice/page").status, 422);
    served.stop();
}
