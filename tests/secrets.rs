//! No secret is printed: not a password written where a variable's name belongs, not the line
//! of a misspelt password key. (Servers' replies are cleaned too: tests/hostile_smtp.rs.)

mod common;

use common::Test;

const SECRET: &str = "Hunter2-very-secret";

fn smtp(line: &str) -> Test {
    Test::campaign()
        .setting("smtp", "host = \"smtp.example.org\"")
        .setting("smtp", "username = \"ada\"")
        .setting("smtp", line)
}

#[test]
fn a_password_written_as_password_env_is_refused_without_showing_it() {
    for command in [&["check"][..], &["send", "--yes"], &["send", "--dry-run"]] {
        smtp(&format!("password_env = \"{SECRET}\""))
            .args(command.iter().copied())
            .status(1)
            .stderr_has("password_env must be the name of an environment variable (line")
            .stderr_has("it looks like the password itself")
            .stderr_lacks(SECRET)
            .stdout_lacks(SECRET)
            .run();
    }
}

#[test]
fn a_variable_name_in_password_env_is_fine() {
    smtp("password_env = \"MY_SMTP_PASSWORD_2\"")
        .args(["check"])
        .run();
}

#[test]
fn the_line_of_a_misspelt_secret_key_is_named_not_shown() {
    for key in ["pasword", "smtp_password", "api_token", "secret"] {
        smtp(&format!("{key} = \"{SECRET}\""))
            .args(["check"])
            .status(1)
            .stderr_has(&format!("unknown field `{key}`"))
            .stderr_has("not shown: it may hold a secret")
            .stderr_lacks(SECRET)
            .run();
    }
}

#[test]
fn the_line_of_another_misspelt_key_is_still_shown() {
    smtp("hots = \"smtp.example.net\"")
        .args(["check"])
        .status(1)
        .stderr_has("unknown field `hots`")
        .stderr_has("hots = \"smtp.example.net\"")
        .run();
}
