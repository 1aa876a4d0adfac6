//! `[smtp]`: how letters are delivered, checked before anything is sent.

use std::net::IpAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::diagnostic::Problem;

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain connection upgraded with STARTTLS (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only to a server on this computer.
    None,
}

/// How letters leave this computer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Smtp,
    /// Handed to the local MTA (Postfix's queue then delivers).
    Sendmail(Option<PathBuf>),
}

/// At most `count` letters per `per`, across all connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    /// "60/minute", "5/second", "1000/hour".
    pub fn parse(s: &str) -> Option<Rate> {
        let (count, unit) = s.split_once('/')?;
        let count: u32 = count.trim().parse().ok().filter(|n| *n > 0)?;
        let per = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return None,
        };
        Some(Rate { count, per })
    }

    /// The time between two letters at this rate.
    pub fn interval(&self) -> Duration {
        self.per / self.count
    }
}

/// Everything `[smtp]` says, checked.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub delivery: Delivery,
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    /// The environment variable that holds the password; the password itself is never stored.
    pub password_env: String,
    pub connections: usize,
    pub rate: Option<Rate>,
    pub retries: u32,
    /// The wait before the first retry; it doubles with each further one.
    pub backoff: Duration,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSmtp {
    transport: Option<Spanned<String>>,
    sendmail: Option<String>,
    host: Option<Spanned<String>>,
    port: Option<u16>,
    security: Option<Spanned<String>>,
    username: Option<String>,
    password: Option<Spanned<toml::Value>>,
    password_env: Option<String>,
    connections: Option<Spanned<i64>>,
    rate: Option<Spanned<String>>,
    retries: Option<u32>,
    backoff_ms: Option<u64>,
    ca_file: Option<Spanned<String>>,
    timeout: Option<u64>,
}

impl SmtpSettings {
    pub(super) fn from_raw(
        raw: RawSmtp,
        dir: &Path,
        file: &Path,
        problems: &mut Vec<Problem>,
    ) -> Option<SmtpSettings> {
        let before = problems.len();
        if raw.password.is_some() {
            // No snippet: it would print the password back.
            problems.push(
                Problem::error("a password is written under [smtp] in lettermerge.toml")
                    .in_file(file)
                    .hint("campaign files are shared and copied: delete the `password` line, put the password in an environment variable and name it with password_env = \"LETTERMERGE_SMTP_PASSWORD\" (or type it when send asks)"),
            );
        }
        let mut error = |span: Range<usize>, message: &str, label: &str, hint: &str| {
            problems.push(
                Problem::error(message)
                    .at(file, span)
                    .label(label)
                    .hint(hint),
            );
        };
        let delivery = match raw.transport.as_ref().map(|t| t.get_ref().as_str()) {
            None | Some("smtp") => Delivery::Smtp,
            Some("sendmail") => Delivery::Sendmail(raw.sendmail.map(PathBuf::from)),
            Some(_) => {
                let t = raw.transport.as_ref().map_or(0..0, Spanned::span);
                error(
                    t,
                    "unknown transport",
                    "not smtp or sendmail",
                    "write transport = \"smtp\" (default) or \"sendmail\"",
                );
                Delivery::Smtp
            }
        };
        let security = match raw.security.as_ref().map(|s| s.get_ref().as_str()) {
            None | Some("starttls") => Security::StartTls,
            Some("tls") => Security::Tls,
            Some("none") => Security::None,
            Some(_) => {
                let s = raw.security.as_ref().map_or(0..0, Spanned::span);
                error(s, "unknown security", "not starttls, tls or none", "write security = \"starttls\" (port 587), \"tls\" (port 465) or \"none\" (a server on this computer only)");
                Security::StartTls
            }
        };
        let host = raw
            .host
            .as_ref()
            .map(|h| h.get_ref().trim().to_string())
            .unwrap_or_default();
        if delivery == Delivery::Smtp && host.is_empty() {
            error(
                0..0,
                "[smtp] has no `host`",
                "",
                "add host = \"smtp.example.org\" under [smtp]",
            );
        }
        if security == Security::None
            && delivery == Delivery::Smtp
            && !host.is_empty()
            && !is_loopback(&host)
        {
            let span = raw.security.as_ref().map_or(0..0, Spanned::span);
            error(
                span,
                &format!("security = \"none\" would send letters unencrypted to {host}"),
                "refused for any server but this computer",
                "use security = \"starttls\" or \"tls\"; \"none\" is only for a server on 127.0.0.1 or localhost",
            );
        }
        let connections = raw.connections.as_ref().map_or(4, |c| *c.get_ref());
        if !(1..=64).contains(&connections) {
            let span = raw.connections.as_ref().map_or(0..0, Spanned::span);
            error(
                span,
                "`connections` must be between 1 and 64",
                "out of range",
                "most providers allow a few; 4 is a good start",
            );
        }
        let rate = match &raw.rate {
            None => None,
            Some(r) => {
                let rate = Rate::parse(r.get_ref());
                if rate.is_none() {
                    error(
                        r.span(),
                        "`rate` is not a rate",
                        "expected e.g. \"60/minute\"",
                        "write rate = \"N/second\", \"N/minute\" or \"N/hour\" with N at least 1",
                    );
                }
                rate
            }
        };
        let ca_file = raw.ca_file.as_ref().map(|c| {
            let path = dir.join(c.get_ref());
            if !path.is_file() {
                error(c.span(), &format!("the CA file {} does not exist", path.display()), "no such file", "name a PEM file with the certificate of the private CA, relative to the campaign folder");
            }
            path
        });
        if problems.len() > before {
            return None;
        }
        let port = raw.port.unwrap_or(match security {
            Security::StartTls => 587,
            Security::Tls => 465,
            Security::None => 25,
        });
        Some(SmtpSettings {
            delivery,
            host,
            port,
            security,
            username: raw.username,
            password_env: raw
                .password_env
                .unwrap_or_else(|| "LETTERMERGE_SMTP_PASSWORD".into()),
            connections: connections as usize,
            rate,
            retries: raw.retries.unwrap_or(3),
            backoff: Duration::from_millis(raw.backoff_ms.unwrap_or(1000)),
            ca_file,
            timeout: Duration::from_secs(raw.timeout.unwrap_or(30).max(1)),
        })
    }
}

/// Whether `host` is this computer: `localhost` or a loopback address.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SmtpSettings, Vec<Problem>> {
        let raw: RawSmtp = toml::from_str(text).unwrap();
        let mut problems = Vec::new();
        SmtpSettings::from_raw(
            raw,
            Path::new("."),
            Path::new("lettermerge.toml"),
            &mut problems,
        )
        .ok_or(problems)
    }

    #[test]
    fn defaults_follow_security() {
        let s = parse("host = \"smtp.example.org\"").unwrap();
        assert_eq!(
            (s.security, s.port, s.connections, s.retries),
            (Security::StartTls, 587, 4, 3)
        );
        assert_eq!(parse("host = \"h\"\nsecurity = \"tls\"").unwrap().port, 465);
    }

    #[test]
    fn plain_text_only_to_this_computer() {
        assert!(parse("host = \"127.0.0.1\"\nsecurity = \"none\"").is_ok());
        assert!(parse("host = \"localhost\"\nsecurity = \"none\"").is_ok());
        assert!(parse("host = \"[::1]\"\nsecurity = \"none\"").is_ok());
        let e = parse("host = \"smtp.example.org\"\nsecurity = \"none\"").unwrap_err();
        assert!(e[0].message.contains("unencrypted"), "{e:?}");
    }

    #[test]
    fn a_password_in_the_file_is_refused() {
        let e = parse("host = \"h\"\npassword = \"hunter2\"").unwrap_err();
        assert!(e[0].message.contains("password"));
        assert!(
            !format!("{e:?}").contains("hunter2"),
            "the password is never repeated"
        );
    }

    #[test]
    fn rates_read_naturally() {
        let r = Rate::parse("60/minute").unwrap();
        assert_eq!(r.interval(), Duration::from_secs(1));
        assert!(Rate::parse("0/minute").is_none());
        assert!(Rate::parse("fast").is_none());
    }
}
