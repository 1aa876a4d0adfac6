//! What a server's reply must never carry to the terminal, a log or the journal: the password.
//!
//! Some servers echo the AUTH line in a refusal (`535 5.7.8 Authentication failed: AHVzZXIA…`),
//! which is the user name and password in base64. Every reply lettermerge prints, logs or
//! records is cleaned of the password as it was typed and in every form AUTH sent it.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;

/// What is shown in place of a secret.
pub const HIDDEN: &str = "[password hidden]";

/// The forms of one login's password that may come back in a reply.
#[derive(Debug, Clone, Default)]
pub struct Secrets(Vec<String>);

impl Secrets {
    /// The forms of `password` for `user`: as typed, and in base64 as AUTH PLAIN
    /// (`\0user\0password`) and AUTH LOGIN (the password alone) send it, padded or not.
    pub fn of(user: &str, password: &str) -> Secrets {
        if password.is_empty() {
            return Secrets::default();
        }
        let plain = format!("\0{user}\0{password}");
        let mut forms = vec![password.to_string()];
        for engine in [&STANDARD, &STANDARD_NO_PAD] {
            forms.push(engine.encode(plain.as_bytes()));
            forms.push(engine.encode(password.as_bytes()));
        }
        // The longest first, so that a form inside another is not left half hidden.
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.dedup();
        Secrets(forms)
    }

    /// `text` with every form of the password replaced by [`HIDDEN`].
    pub fn redact(&self, text: String) -> String {
        if !self.0.iter().any(|f| text.contains(f.as_str())) {
            return text;
        }
        self.0
            .iter()
            .fold(text, |text, form| text.replace(form.as_str(), HIDDEN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_hidden_in_every_form_auth_sends_it() {
        let secrets = Secrets::of("advocate", "correct horse");
        let plain = STANDARD.encode("\0advocate\0correct horse");
        let login = STANDARD_NO_PAD.encode("correct horse");
        for reply in [
            "535 5.7.8 bad password correct horse".to_string(),
            format!("535 5.7.8 Authentication failed: AUTH PLAIN {plain}"),
            format!("535 login {login}"),
        ] {
            let shown = secrets.redact(reply.clone());
            assert!(!shown.contains("correct horse"), "{shown}");
            assert!(!shown.contains(&plain), "{shown}");
            assert!(!shown.contains(&login), "{shown}");
            assert!(shown.contains(HIDDEN), "{shown}");
        }
        assert_eq!(secrets.redact("250 ok".into()), "250 ok");
        assert_eq!(Secrets::of("u", "").redact("250 ok".into()), "250 ok");
    }
}
