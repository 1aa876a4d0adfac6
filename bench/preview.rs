//! The preview's two figures, measured in headless Chromium (run by bench/preview.sh, which
//! makes the campaign):
//!
//! - first page load: from the start of navigation until the first letter is shown in its frame
//!   and the whole list is drawn (`window.lettermerge.listedAt`, set by the page itself), for a
//!   new navigation in the same tab and for a new tab each time (nothing is cached: every answer
//!   is `no-store`);
//! - a change on disk: from just before recipients.toml is written until the page shows the
//!   letter merged from the new file.
//!
//! CAMPAIGN=DIR (required) is the campaign; LETTERMERGE=PATH the binary (default: this build's);
//! LOADS (same tab), TABS (a new tab each) and CHANGES the number of runs of each.

#[path = "../tests/common/browser.rs"]
mod browser;

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use browser::{eventually, Driver};
use fantoccini::Client;

/// Each request of the page: when it started and ended, from the start of navigation.
const WHERE_THE_TIME_GOES: &str = r#"
const nav = performance.getEntriesByType('navigation')[0];
const parts = [`page ${nav.requestStart.toFixed(0)}-${nav.responseEnd.toFixed(0)}`,
  `DOMContentLoaded ${nav.domContentLoadedEventEnd.toFixed(0)}`];
for (const r of performance.getEntriesByType('resource')) {
  const name = new URL(r.name).pathname.replace(/^\/letters\/[^/]+/, '/letters/ID').replace(/^\/api\/letters\/.*/, '/api/letters/ID');
  parts.push(`${name} ${r.startTime.toFixed(0)}-${r.responseEnd.toFixed(0)}`);
}
parts.push(`letter shown ${window.lettermerge.sinceStart.toFixed(0)}`);
parts.push(`whole list drawn ${(window.lettermerge.listedAt || 0).toFixed(0)}`);
return parts.join(', ');
"#;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// The page's clock is the wall clock too: the two are compared, so LETTERMERGE_NOW has no say.
#[allow(clippy::disallowed_methods)]
fn epoch_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs_f64()
        * 1000.0
}

/// The page's own record of what it last showed: (version, key, when in epoch ms).
async fn last_shown(browser: &Client) -> (u64, String, f64) {
    let v = browser
        .execute("return window.lettermerge", vec![])
        .await
        .expect("read window.lettermerge");
    (
        v["version"].as_u64().unwrap_or(0),
        v["key"].as_str().unwrap_or_default().to_string(),
        v["shownAt"].as_f64().unwrap_or(0.0),
    )
}

/// Opens the preview in the current tab and waits until the page has drawn the whole list and
/// shown the first letter; returns how long that took from the start of navigation, in ms.
async fn open(browser: &Client, url: &str) -> f64 {
    browser.goto(url).await.expect("open the preview");
    eventually(
        "the first letter is shown and the whole list drawn",
        || async {
            let listed = browser
                .execute("return window.lettermerge.listedAt || 0", vec![])
                .await
                .expect("read the page's timing");
            listed.as_f64().unwrap_or(0.0) > 0.0
        },
    )
    .await;
    browser
        .execute("return window.lettermerge.listedAt", vec![])
        .await
        .expect("read the page's timing")
        .as_f64()
        .unwrap_or(f64::NAN)
}

fn summary(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name}: n={} median {:.0} ms, p90 {:.0} ms, max {:.0} ms, min {:.0} ms",
        ms.len(),
        at(0.5),
        at(0.9),
        ms[ms.len() - 1],
        ms[0]
    );
}

#[tokio::main]
async fn main() {
    let campaign =
        PathBuf::from(std::env::var("CAMPAIGN").expect("CAMPAIGN=DIR: run bench/preview.sh"));
    let binary = std::env::var("LETTERMERGE")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_lettermerge").to_string());
    let (loads, tabs, changes) = (
        env_or("LOADS", 30),
        env_or("TABS", 10),
        env_or("CHANGES", 20),
    );

    let mut server = Command::new(&binary)
        .args(["-C"])
        .arg(&campaign)
        .args(["preview", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start lettermerge preview");
    let mut url = String::new();
    std::io::BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut url)
        .expect("read the address");
    let url = url.trim().to_string();
    let driver = Driver::start();
    let browser = driver.browser().await;

    // First page load: a new navigation in the same tab, then in a new tab each time.
    let mut load_ms = Vec::new();
    for i in 0..=loads {
        browser.goto("about:blank").await.expect("blank page");
        let ms = open(&browser, &url).await;
        if i == 0 || i == loads {
            let steps = browser
                .execute(WHERE_THE_TIME_GOES, vec![])
                .await
                .expect("read the resource timings");
            println!(
                "  where the time went (ms from navigation start): {}",
                steps.as_str().unwrap_or_default()
            );
        }
        if i == 0 {
            println!("first page load, cold (the first in a new Chromium): {ms:.0} ms");
        } else {
            load_ms.push(ms);
        }
    }
    let first_tab = browser.window().await.expect("this tab");
    let mut tab_ms = Vec::new();
    for _ in 0..tabs {
        let tab = browser.new_window(true).await.expect("a new tab");
        browser
            .switch_to_window(tab.handle)
            .await
            .expect("go to the tab");
        tab_ms.push(open(&browser, &url).await);
        browser.close_window().await.expect("close the tab");
        browser
            .switch_to_window(first_tab.clone())
            .await
            .expect("back to the first tab");
    }
    open(&browser, &url).await;
    let entries = browser
        .execute(
            "return document.querySelectorAll('#recipients li').length",
            vec![],
        )
        .await
        .expect("count the list");
    println!("recipients listed: {entries}");
    summary(
        "first page load, same tab (navigation start -> first letter shown, whole list drawn)",
        load_ms,
    );
    summary("first page load, a new tab each time", tab_ms);

    // A change on disk.
    let path = campaign.join("recipients.toml");
    let original = std::fs::read_to_string(&path).expect("read recipients.toml");
    let (first_name, key) = {
        let (_, key, _) = last_shown(&browser).await;
        let line = original
            .lines()
            .find(|l| l.starts_with("name = "))
            .expect("a name")
            .to_string();
        (line, key)
    };
    let mut change_ms = Vec::new();
    for i in 0..changes {
        let (before, _, _) = last_shown(&browser).await;
        let edited = original.replacen(&first_name, &format!("name = \"Edited Addressee {i}\""), 1);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let written = epoch_ms();
        std::fs::write(&path, edited).expect("write recipients.toml");
        eventually("the edit is shown", || async {
            let (version, shown_key, _) = last_shown(&browser).await;
            version > before && shown_key == key
        })
        .await;
        let (_, _, at) = last_shown(&browser).await;
        change_ms.push(at - written);
    }
    std::fs::write(&path, original).expect("restore recipients.toml");
    summary("change on disk -> shown in the page", change_ms);

    let status =
        std::fs::read_to_string(format!("/proc/{}/status", server.id())).unwrap_or_default();
    if let Some(peak) = status.lines().find(|l| l.starts_with("VmHWM")) {
        println!(
            "preview server peak memory: {}",
            peak.trim_start_matches("VmHWM:").trim()
        );
    }
    browser.close().await.ok();
    let _ = server.kill();
    let _ = server.wait();
}
