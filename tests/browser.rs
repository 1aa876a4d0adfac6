//! The preview page in a real browser: Debian's Chromium, driven over WebDriver (chromedriver)
//! with fantoccini. Part of the second suite (`--features system-tests`): .ci/run installs
//! `chromium` and `chromium-driver`; without them these tests fail, they never skip.
//!
//! The first test saves a screenshot to target/screenshots/preview.png; the README shows it
//! (docs/preview.png is a copy).

#[path = "common/browser.rs"]
mod browser;
mod common;
#[path = "common/preview.rs"]
mod preview;

use std::path::{Path, PathBuf};

use fantoccini::{Client, Locator};
use serde_json::json;

use browser::{click, count, eventually, shown, text, Driver};
use common::{Test, HOSTILE, HOSTILE_SHOWN, RECIPIENTS};
use preview::Served;

/// The text of the letter in its frame.
async fn letter_text(browser: &Client) -> String {
    let frame = browser
        .find(Locator::Id("letter-frame"))
        .await
        .expect("the letter's frame");
    frame.enter_frame().await.expect("enter the letter's frame");
    let body = match browser.find(Locator::Css("body")).await {
        Ok(body) => body.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    browser.enter_parent_frame().await.expect("leave the frame");
    body
}

async fn select(browser: &Client, key: &str) {
    click(browser, &format!("#recipients li[data-key='{key}']")).await;
    eventually(&format!("{key}'s letter is shown"), || async {
        shown(browser).await.starts_with(&format!("{key}@"))
    })
    .await;
}

fn screenshot_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/preview.png")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_volunteer_finds_a_letter_reads_it_and_sees_an_edit_arrive() {
    let served = Served::start(Test::root_campaign());
    let driver = Driver::start();
    let browser = driver.browser().await;
    browser.goto(&served.url).await.expect("open the page");
    eventually("the list of recipients", || async {
        count(&browser, "#recipients li").await == 10
    })
    .await;
    assert!(text(&browser, "#tally").await.starts_with("10 recipients"));

    // Search by country, then choose the one letter found.
    let search = browser.find(Locator::Id("search")).await.unwrap();
    search.send_keys("norway").await.unwrap();
    eventually("the search narrows the list", || async {
        count(&browser, "#recipients li").await == 1
    })
    .await;
    select(&browser, "cn-embassy-norway").await;
    let letter = letter_text(&browser).await;
    assert!(letter.contains("Your Excellency,"), "{letter}");
    assert!(letter.contains("Tuengen allé 2B"), "{letter}");
    assert_eq!(
        text(&browser, "#name").await,
        "H.E. the Ambassador of the People's Republic of China"
    );

    // The email as it will be sent.
    click(&browser, "#tabs [data-tab='email']").await;
    assert!(text(&browser, "#h-to")
        .await
        .contains("embassy-norway@example.org"));
    assert_eq!(text(&browser, "#h-cc").await, "consular-norway@example.org");
    assert!(text(&browser, "#email-text")
        .await
        .contains("Your Excellency,"));

    // The PDF tab shows the letter's PDF.
    click(&browser, "#tabs [data-tab='pdf']").await;
    let pdf_frame = || async {
        browser
            .find(Locator::Id("pdf-frame"))
            .await
            .unwrap()
            .attr("src")
            .await
            .unwrap()
            .unwrap_or_default()
    };
    eventually("the PDF tab asks for the letter's PDF", || async {
        pdf_frame()
            .await
            .starts_with("/letters/cn-embassy-norway/pdf")
    })
    .await;
    let pdf = pdf_frame().await;
    let answer = served.get(&pdf);
    assert_eq!(
        answer.header("content-type"),
        Some("application/pdf"),
        "{}",
        answer.text()
    );
    click(&browser, "#tabs [data-tab='email']").await;

    // Next and previous walk the whole list once the search is cleared.
    search.clear().await.unwrap();
    eventually("the whole list is back", || async {
        count(&browser, "#recipients li").await == 10
    })
    .await;
    click(&browser, "#next").await;
    eventually("next shows the second recipient", || async {
        shown(&browser).await.starts_with("cn-embassy-france@")
    })
    .await;
    assert!(text(&browser, "#email-text").await.contains("Excellence,"));
    click(&browser, "#prev").await;
    eventually("previous goes back", || async {
        shown(&browser).await.starts_with("cn-embassy-norway@")
    })
    .await;
    click(&browser, "#tabs [data-tab='letter']").await;

    // A volunteer corrects the address in recipients.toml: the open page follows, unreloaded.
    browser
        .execute("window.notReloaded = true", vec![])
        .await
        .unwrap();
    let path = served.path().join("recipients.toml");
    let recipients = std::fs::read_to_string(&path).unwrap();
    served.write(
        "recipients.toml",
        &recipients.replace("Tuengen allé 2B", "Tuengen allé 4"),
    );
    eventually("the edit reaches the letter", || async {
        letter_text(&browser).await.contains("Tuengen allé 4")
    })
    .await;
    let kept = browser
        .execute("return window.notReloaded === true", vec![])
        .await
        .unwrap();
    assert_eq!(
        kept,
        json!(true),
        "the page was reloaded instead of updated"
    );
    assert!(text(&browser, "#live").await.starts_with("updated at"));

    let png = browser.screenshot().await.expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"));
    std::fs::create_dir_all(screenshot_path().parent().unwrap()).unwrap();
    std::fs::write(screenshot_path(), &png).expect("save the screenshot");
    browser.close().await.unwrap();
    served.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn problems_and_hostile_names_show_as_text_in_the_page() {
    let recipients = format!(
        "{RECIPIENTS}country = \"Norway\"\n\n{}\n{}",
        HOSTILE.replace("id = \"alice\"", "id = \"kim\"\ncountry = \"Korea\""),
        r#"[[recipient]]
id = "eve"
name = "<img src=x onerror=\"window.attacked=1\"><script>window.attacked=2</script>"
email = "eve@example.org"
country = "</iframe><b>Nowhere</b>"
"#
    );
    let template = "Dear {{recipient.name}} in {{recipient.country}},\n";
    let test = Test::campaign().recipients(&recipients).template(template);
    let served = Served::start(test);
    let driver = Driver::start();
    let browser = driver.browser().await;
    browser
        .goto(&format!("{}#bob", served.url))
        .await
        .expect("open the page");
    eventually("bob's letter, chosen by the address", || async {
        shown(&browser).await.starts_with("bob@")
    })
    .await;
    assert_eq!(
        letter_text(&browser).await.trim(),
        "Dear Bob Minister in Norway,"
    );

    // Alice's letter reads a field she lacks: marked in the list, explained in the page.
    assert_eq!(count(&browser, "#recipients li.broken").await, 1);
    select(&browser, "alice").await;
    let problems = text(&browser, "#problems").await;
    assert!(
        problems.contains("templates/letter.md, line 1"),
        "{problems}"
    );
    assert!(problems.contains("recipient alice"), "{problems}");
    assert!(problems.contains("What to do:"), "{problems}");
    assert!(text(&browser, "#no-letter")
        .await
        .contains("cannot be merged"));

    // Eve's name is shown as the characters it is, and nothing in it runs.
    select(&browser, "eve").await;
    let name = text(&browser, "#recipients li[data-key='eve'] .name").await;
    assert!(name.starts_with("<img src=x"), "{name}");
    assert_eq!(count(&browser, "#recipients img, #main img, b").await, 0);
    let letter = letter_text(&browser).await;
    assert!(
        letter.contains("<script>window.attacked=2</script>"),
        "{letter}"
    );
    assert!(letter.contains("</iframe><b>Nowhere</b>"), "{letter}");
    // The name every core test renders as text: as text here too, in the list and the letter.
    select(&browser, "kim").await;
    assert_eq!(
        text(&browser, "#recipients li[data-key='kim'] .name").await,
        HOSTILE_SHOWN
    );
    let letter = letter_text(&browser).await;
    assert!(
        letter.contains(&format!("Dear {HOSTILE_SHOWN} in Korea,")),
        "{letter}"
    );
    let attacked = browser
        .execute("return window.attacked === undefined", vec![])
        .await
        .unwrap();
    assert_eq!(attacked, json!(true), "a recipient's name ran as script");
    browser.close().await.unwrap();
    served.stop();
}
