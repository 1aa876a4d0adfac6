//! Templates that cannot take the process down: a partial that includes itself, in any syntax
//! and through any path, is an error with its place; a letter that would loop for ever or grow
//! without end stops at once with an error naming its template and recipient. Each test drives
//! the real binary, so a crash fails the test instead of the test runner; the preview stays up.

mod common;
#[path = "common/preview.rs"]
mod preview;

use std::time::{Duration, Instant};

use common::{Ran, Test};
use preview::Served;

/// A run that may not crash, hang or take its time: exit status 1, these words on stderr.
fn fails_with(test: Test, args: &[&str], expected: &[&str]) -> Ran {
    let mut test = test.args(args.iter().copied()).status(1);
    for text in expected {
        test = test.stderr_has(text);
    }
    let started = Instant::now();
    let ran = test.run();
    // A debug build on a busy machine: the release build takes a tenth of this.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}\n{}",
        started.elapsed(),
        ran.report()
    );
    ran
}

/// The minimal campaign with `address.md` and the letter that includes it.
fn with_partial(letter: &str, address: &str) -> Test {
    Test::campaign()
        .template(letter)
        .file("templates/partials/address.md", address)
}

// ---------------------------------------------------------------------------------------------
// Partials that include themselves
// ---------------------------------------------------------------------------------------------

/// Every syntax Handlebars has for including a partial, in the partial itself.
const SELF_INCLUDES: &[&str] = &[
    "{{> address}}",
    "  {{> address}}",
    "\t{{> address}}",
    "Sent to {{> address}} today",
    "{{> address recipient}}",
    "{{> address x=1}}",
    "  {{> address x=1}}",
    "{{~> address~}}",
    "{{#> address}}fallback{{/address}}",
    "{{#if recipient.name}}{{> address}}{{/if}}",
    "{{#each recipient.cc}}{{> address this}}{{/each}}",
    "{{#if recipient.missing}}{{else}}  {{> address x=1}}{{/if}}",
];

#[test]
fn a_partial_that_includes_itself_is_an_error_at_its_line_in_every_syntax() {
    for include in SELF_INCLUDES {
        for letter in [
            "Dear {{recipient.name}},\n{{> address}}\n",
            "  {{> address x=2}}\n",
        ] {
            let address = format!("{{{{recipient.name}}}}\n{include}\n");
            for command in [&["check"][..], &["render"]] {
                let ran = fails_with(
                    with_partial(letter, &address),
                    command,
                    &[
                        "error: the partial `address` includes itself",
                        "templates/partials/address.md:2:",
                        "includes `address` again",
                    ],
                );
                assert_eq!(ran.out_files(), Vec::<String>::new(), "{include}");
            }
        }
    }
}

#[test]
fn partials_that_include_each_other_are_an_error_naming_the_circle() {
    for (a, b) in [
        ("{{> b}}", "{{> a}}"),
        ("  {{> b}}", "{{> a x=1}}"),
        ("{{#> b}}{{/b}}", "Sent to {{> a}}"),
        ("{{#each recipient.cc}}{{> b this}}{{/each}}", "  {{> a}}"),
    ] {
        fails_with(
            Test::campaign()
                .template("{{> a}}\n")
                .file("templates/partials/a.md", &format!("A\n{a}\n"))
                .file("templates/partials/b.md", &format!("B\n\n{b}\n")),
            &["check"],
            &[
                "the partial `a` includes itself through `b`",
                "templates/partials/b.md:3:",
                "a → b → a",
            ],
        );
    }
    // Through three, and only from a language variant.
    fails_with(
        Test::campaign()
            .file("templates/letter.fr.md", "{{> a}}\n")
            .file("templates/partials/a.md", "{{> b}}\n")
            .file("templates/partials/b.md", "{{> c x=1}}\n")
            .file("templates/partials/c.md", "{{#> a}}{{/a}}\n"),
        &["check"],
        &[
            "the partial `a` includes itself through `b` and `c`",
            "templates/partials/c.md:1:1",
            "a → b → c → a",
        ],
    );
    // The letter itself, by its file name.
    fails_with(
        Test::campaign()
            .template("Dear all,\n{{#if recipient.name}}{{> templates/letter.md}}{{/if}}\n"),
        &["render"],
        &[
            "the template templates/letter.md includes itself",
            "templates/letter.md:2:",
        ],
    );
}

#[test]
fn inline_partials_that_include_themselves_are_an_error_in_the_letter_and_the_subject() {
    fails_with(
        Test::campaign().template(
            "{{#*inline \"greeting\"}}\nDear {{> greeting}}\n{{/inline}}\n{{> greeting x=1}}\n",
        ),
        &["check"],
        &[
            "the inline partial `greeting` includes itself",
            "templates/letter.md:2:6",
        ],
    );
    fails_with(
        Test::campaign().setting(
            "email",
            r#"subject = "{{#*inline \"s\"}}{{> s}}{{/inline}}{{> s}}""#,
        ),
        &["check"],
        &[
            "the inline partial `s` includes itself",
            "lettermerge.toml:",
        ],
    );
}

/// `letter.part` names the partial: nothing can be read before the letter merges.
fn dynamic(address: &str, other: &str) -> Test {
    let recipients: String = (0..40)
        .map(|i| format!("[[recipient]]\nid = \"r{i}\"\nname = \"R {i}\"\n\n"))
        .collect();
    Test::campaign()
        .setting("letter", "part = \"address\"")
        .setting("letter", "other = \"other\"")
        .setting("letter", "l = [1, 2]")
        .recipients(&recipients)
        .template("Dear {{recipient.name}},\n{{> (lookup letter \"part\")}}\n")
        .file("templates/partials/address.md", address)
        .file("templates/partials/other.md", other)
}

#[test]
fn a_partial_named_as_the_letter_merges_that_includes_itself_stops_each_letter() {
    for (address, other) in [
        ("A\n{{> (lookup letter \"part\")}}\n", "o"),
        (
            "A\n  {{> (lookup letter \"other\") x=1}}\n",
            "{{> address}}",
        ),
        (
            "A\n{{#if recipient.name}}{{> (lookup @root.letter \"other\") x=1}}{{/if}}\n",
            "{{#each (lookup @root.letter \"l\")}}{{> (lookup @root.letter \"part\")}}{{/each}}",
        ),
    ] {
        // Rayon's threads with a small stack (1 MiB, half their default) merge the letters.
        for stack in ["1048576", "2097152"] {
            fails_with(
                dynamic(address, other).env("RUST_MIN_STACK", stack),
                &["check"],
                &[
                    "the partial `address` includes itself",
                    "recipient: r0",
                    "recipient: r39",
                    "40 errors",
                ],
            );
        }
        fails_with(
            dynamic(address, other),
            &["render"],
            &["includes itself", "40 problems"],
        );
    }
}

#[test]
fn partials_nested_deeper_than_any_letter_needs_are_an_error() {
    let chain = |levels: usize| {
        let mut test = Test::campaign().template("{{> p1}}\n");
        for i in 1..levels {
            test = test.file(
                &format!("templates/partials/p{i}.md"),
                &format!("  {{{{> p{} x=1}}}}\n", i + 1),
            );
        }
        test.file(&format!("templates/partials/p{levels}.md"), "the end\n")
    };
    fails_with(
        chain(20),
        &["check"],
        &[
            "partials are nested more than 16 deep",
            "templates/partials/p16.md:1:3",
            "p1 → p2 → p3",
            "→ p16 → p17",
        ],
    );
    chain(16)
        .args(["render", "--stdout", "--only", "alice", "--format", "md"])
        .stdout_has("the end")
        .run();
}

#[test]
fn blocks_inside_partials_inside_blocks_stop_before_the_stack_runs_out() {
    // Each partial nests 60 blocks (the most a template may is 64) around the next: 900 levels,
    // merged by rayon's threads with half their usual stack.
    let recipients: String = (0..40)
        .map(|i| format!("[[recipient]]\nid = \"r{i}\"\nname = \"R {i}\"\n\n"))
        .collect();
    let mut test = Test::campaign()
        .recipients(&recipients)
        .template("{{> p1}}\n");
    for i in 1..=15 {
        let blocks = "{{#if recipient.name}}".repeat(60);
        let ends = "{{/if}}".repeat(60);
        test = test.file(
            &format!("templates/partials/p{i}.md"),
            &format!("{blocks}  {{{{> p{} x=1}}}}{ends}\n", i + 1),
        );
    }
    fails_with(
        test.file("templates/partials/p16.md", "the end")
            .env("RUST_MIN_STACK", "1048576"),
        &["check"],
        &[
            "nests blocks and partials too deep to merge",
            "templates/partials/p",
            "recipient: r0",
            "recipient: r39",
        ],
    );
}

#[test]
fn templates_nested_too_deep_to_merge_are_refused_when_read() {
    let blocks = |n: usize| "{{#if recipient.name}}".repeat(n) + "x" + &"{{/if}}".repeat(n);
    let parens = |n: usize| format!("{{{{eq {}1{} 1}}}}", "(eq ".repeat(n), " 1)".repeat(n));
    for (text, what) in [
        (blocks(3000), "nests blocks more than 64 deep"),
        (parens(3000), "nests `(…)` more than 64 deep"),
    ] {
        fails_with(
            Test::campaign().template(&format!("Dear all,\n{text}\n")),
            &["check"],
            &[what, "templates/letter.md:2:"],
        );
        fails_with(
            Test::campaign()
                .template("{{> address}}\n")
                .file("templates/partials/address.md", &text),
            &["render"],
            &[what, "templates/partials/address.md:1:"],
        );
        fails_with(
            Test::campaign().setting("email", &format!("subject = {:?}", text)),
            &["check"],
            &[&format!("the email subject {what}"), "lettermerge.toml:"],
        );
    }
    // Deep enough for any letter is fine.
    Test::campaign()
        .template(&format!("{}\n{}\n", blocks(64), parens(64)))
        .args(["render", "--stdout", "--only", "alice", "--format", "md"])
        .stdout_has("x")
        .run();
}

#[test]
fn inline_partials_and_a_partial_included_twice_merge_as_handlebars_would() {
    // A bare `{{> name}}` of an inline partial, and a partial included bare, then with an
    // argument: both used to fail ("does not exist", "Can not include current template").
    let ran = with_partial(
        "{{#*inline \"greeting\"}}Dear {{recipient.name}},{{/inline}}\n{{> greeting}}\n\n{{> address}}\n{{> address who=\"again\"}}\n",
        "To {{#if who}}{{who}}{{else}}{{recipient.name}}{{/if}}\n",
    )
    .args(["render", "--stdout", "--only", "alice", "--format", "md"])
    .run();
    assert_eq!(
        ran.stdout.trim_end(),
        "\nDear Alice Ambassador,\n\nTo Alice Ambassador\nTo again",
        "{}",
        ran.report()
    );
}

// ---------------------------------------------------------------------------------------------
// Letters that would loop for ever or grow without end
// ---------------------------------------------------------------------------------------------

/// `letter.l`: a list of a thousand numbers; `letter.big`: ten thousand bytes of text.
fn long_lists() -> Test {
    let list: Vec<String> = (1..=1000).map(|i| i.to_string()).collect();
    Test::campaign()
        .setting("letter", &format!("l = [{}]", list.join(", ")))
        .setting("letter", &format!("big = \"{}\"", "word ".repeat(2000)))
}

#[test]
fn a_letter_that_would_grow_past_a_megabyte_stops_at_once() {
    for (letter, partial, line) in [
        // A billion lines.
        (
            "Dear all,\n{{#each letter.l}}{{#each ../letter.l}}{{#each ../../letter.l}}\nline {{this}}\n{{/each}}{{/each}}{{/each}}",
            "",
            "templates/letter.md:",
        ),
        // A long value, again and again.
        ("{{#each letter.l}}{{../letter.big}}{{/each}}", "", "templates/letter.md:1:"),
        ("{{#each letter.l}}{{{../letter.big}}}{{/each}}", "", "templates/letter.md:1:"),
        ("{{#each letter.l}}{{join (lookup ../letter \"l\")}}{{/each}}", "", "templates/letter.md:1:"),
        // (Text a value makes is checked at the next step, here the loop's.)
        ("{{#each letter.l}}{{> address}}{{/each}}", "{{@root.letter.big}}", "templates/letter.md:1:19"),
        // Made and thrown away: the text counts all the same.
        ("{{#each letter.l}}{{#> address}}{{{@root.letter.big}}}{{/address}}{{/each}}", "nothing", "templates/"),
        // Each copy of a partial block's content counts.
        (
            "{{#> address}}{{#> address}}{{#> address}}x{{/address}}{{/address}}{{/address}}",
            "{{#each @root.letter.l}}{{> @partial-block}}{{/each}}",
            "templates/partials/address.md:1:",
        ),
        // Footnotes pile up at the end of the letter.
        (
            "{{#each letter.l}}{{#each ../letter.l}}{{footnote ../../letter.big}}{{/each}}{{/each}}",
            "",
            "templates/letter.md:1:",
        ),
    ] {
        fails_with(
            long_lists()
                .template(letter)
                .file("templates/partials/address.md", partial),
            &["check"],
            &["error: the letter for `alice` grows past 1 MB", line, "recipient: alice", "recipient: bob"],
        );
    }
}

#[test]
fn a_loop_of_billions_of_steps_stops_at_once() {
    for (letter, partial) in [
        (
            "{{#each letter.l}}{{#each ../letter.l}}{{#each ../../letter.l}}{{/each}}{{/each}}{{/each}}",
            "",
        ),
        (
            "{{#each letter.l}}{{#each ../letter.l}}{{#each ../../letter.l}}{{#if false}}x{{/if}}{{/each}}{{/each}}{{/each}}",
            "",
        ),
        ("{{#each letter.l}}{{#each ../letter.l}}{{> address}}{{/each}}{{/each}}", ""),
        (
            "{{#each letter.l}}{{#each ../letter.l}}{{> address x=1}}{{/each}}{{/each}}",
            "{{!-- a comment --}}",
        ),
    ] {
        fails_with(
            long_lists()
                .template(letter)
                .file("templates/partials/address.md", partial),
            &["check"],
            &["takes more than 1,000,000 steps", "templates/", "recipient: alice"],
        );
    }
    // The email subject, too.
    fails_with(
        long_lists().setting(
            "email",
            r#"subject = "{{#each letter.l}}{{#each ../letter.l}}{{#each ../../letter.l}}{{/each}}{{/each}}{{/each}}""#,
        ),
        &["check"],
        &["takes more than 1,000,000 steps", "lettermerge.toml:", "recipient: alice"],
    );
}

#[test]
fn partials_that_include_others_many_times_stop_at_once() {
    // No circle, but each level includes the next four times: 4¹² partials.
    for include in [
        "{{> p{}}}{{> p{}}}",
        "  {{> p{} x=1}}\n  {{> p{} x=2}}",
        "{{#> p{}}}{{/p{}}}{{#> p{}}}{{/p{}}}",
    ] {
        let mut test = Test::campaign().template("{{> p0}}\n");
        for i in 0..12 {
            let next = (i + 1).to_string();
            test = test.file(
                &format!("templates/partials/p{i}.md"),
                &include.repeat(2).replace("{}", &next),
            );
        }
        let test = test.file("templates/partials/p12.md", "x");
        fails_with(
            test,
            &["check"],
            &[
                "takes more than 1,000,000 steps",
                "templates/partials/p",
                "recipient: alice",
            ],
        );
    }
}

#[test]
fn a_long_letter_within_the_limits_merges() {
    // Two thousand signatories, each with a footnote: a long letter, well inside the limits.
    let signers: Vec<String> = (1..=2000)
        .map(|i| format!("{{ name = \"Signer {i}\", title = \"Director of Organization {i}\" }}"))
        .collect();
    let ran = Test::campaign()
        .setting("letter", &format!("signers = [{}]", signers.join(", ")))
        .template("Dear {{recipient.name}},\n\n{{#each letter.signers}}\n{{> signer}}\n{{/each}}\n")
        .file(
            "templates/partials/signer.md",
            "{{name}}, {{title}}{{footnote title}}",
        )
        .args(["render", "--stdout", "--only", "alice", "--format", "md"])
        .stdout_has("Signer 2000, Director of Organization 2000[^2000]")
        .stdout_has("[^2000]: Director of Organization 2000")
        .run();
    assert!(ran.stdout.len() > 100_000, "{}", ran.stdout.len());
}

// ---------------------------------------------------------------------------------------------
// The preview
// ---------------------------------------------------------------------------------------------

#[test]
fn the_preview_stays_up_and_shows_a_partial_that_includes_itself() {
    let served = Served::start(with_partial(
        "Dear {{recipient.name}},\n\n{{> address}}\n",
        "To you\n",
    ));
    let mut events = served.events();
    assert_eq!(events.next().0, "version");

    // Saved with a circle the templates show: the page says where.
    served.write(
        "templates/partials/address.md",
        "To you\n  {{> address x=1}}\n",
    );
    let campaign = served.until(&mut events, |c| c["errors"] == 1);
    let problem = &campaign["problems"][0];
    assert_eq!(problem["file"], "templates/partials/address.md");
    assert_eq!(problem["line"], 2);
    let message = problem["message"].as_str().unwrap();
    assert!(message.contains("`address` includes itself"), "{problem}");
    assert_eq!(served.get("/").status, 200);
    assert_eq!(served.get("/letters/alice/page").status, 422);

    // A circle only merging finds: each letter shows it, and the server answers.
    served.write(
        "lettermerge.toml",
        &std::fs::read_to_string(served.path().join("lettermerge.toml"))
            .unwrap()
            .replace("[letter]", "[letter]\npart = \"address\""),
    );
    served.write(
        "templates/partials/address.md",
        "To you\n{{> (lookup letter \"part\")}}\n",
    );
    served.until(&mut events, |c| {
        c["errors"] == 2 && c["problems"].as_array().unwrap().is_empty()
    });
    let alice = served.get("/api/letters/alice").json();
    let problem = &alice["problems"][0];
    assert!(
        problem["message"]
            .as_str()
            .unwrap()
            .contains("`address` includes itself"),
        "{alice}"
    );
    assert_eq!(problem["line"], 2);
    assert!(alice["letter"].is_null());
    assert_eq!(served.get("/letters/alice/page").status, 422);

    // A loop of billions: an error in a moment, not a preview that hangs.
    let list: Vec<String> = (1..=1000).map(|i| i.to_string()).collect();
    served.write(
        "lettermerge.toml",
        &std::fs::read_to_string(served.path().join("lettermerge.toml"))
            .unwrap()
            .replace("[letter]", &format!("[letter]\nl = [{}]", list.join(", "))),
    );
    served.write(
        "templates/letter.md",
        "{{#each letter.l}}{{#each ../letter.l}}{{#each ../../letter.l}}x{{/each}}{{/each}}{{/each}}\n",
    );
    let started = Instant::now();
    served.until(&mut events, |c| {
        served.get("/api/letters/bob").json()["problems"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("steps"))
            && c["errors"] == 2
    });
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );

    // Mended, the letters come back.
    served.write("templates/letter.md", "Dear {{recipient.name}},\n");
    served.until(&mut events, |c| c["errors"] == 0);
    assert!(served
        .get("/letters/alice/page")
        .text()
        .contains("Dear Alice Ambassador,"));
    let ran = served.stop();
    assert_eq!(ran.status, Some(0), "{}", ran.report());
}
