//! `[smtp]`: how letters are delivered, checked before anything is sent.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::transport::smtp::extension::ClientId;
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
    /// The name this computer gives in EHLO: `[smtp] helo`, else the sender's email domain.
    pub helo: ClientId,
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
    password_env: Option<Spanned<String>>,
    connections: Option<Spanned<i64>>,
    rate: Option<Spanned<String>>,
    retries: Option<u32>,
    backoff_ms: Option<u64>,
    ca_file: Option<Spanned<String>>,
    timeout: Option<u64>,
    helo: Option<Spanned<String>>,
}

impl SmtpSettings {
    /// `sender_domain` is the domain of `[sender] email`: the name given in EHLO unless `helo`
    /// names another.
    pub(super) fn from_raw(
        raw: RawSmtp,
        dir: &Path,
        file: &Path,
        sender_domain: Option<&str>,
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
        if let Some(name) = &raw.password_env {
            if !is_variable_name(name.get_ref()) {
                problems.push(not_a_variable(file, name.span()));
            }
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
        let helo = match &raw.helo {
            Some(h) => parse_helo(h.get_ref()).unwrap_or_else(|why| {
                error(
                    h.span(),
                    &format!("`helo` is {why}"),
                    "not a fully qualified domain name or an address literal",
                    "write the name this computer is known by to the server, e.g. helo = \"mail.example.org\", or an address literal such as \"[192.0.2.1]\"; or remove the line to use the sender's domain",
                );
                LOCALHOST
            }),
            None => sender_domain
                .and_then(|d| parse_helo(d).ok())
                .unwrap_or(LOCALHOST),
        };
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
                .map(Spanned::into_inner)
                .unwrap_or_else(|| "LETTERMERGE_SMTP_PASSWORD".into()),
            connections: connections as usize,
            rate,
            retries: raw.retries.unwrap_or(3),
            backoff: Duration::from_millis(raw.backoff_ms.unwrap_or(1000)),
            ca_file,
            timeout: Duration::from_secs(raw.timeout.unwrap_or(30).max(1)),
            helo,
        })
    }
}

/// The EHLO name when there is no sender to take it from (nothing is sent then anyway).
const LOCALHOST: ClientId = ClientId::Ipv4(Ipv4Addr::LOCALHOST);

/// A name for EHLO (RFC 5321 4.1.4): a fully qualified domain name (an internationalized one
/// in its ASCII form), or an address literal, `[192.0.2.1]` or `[IPv6:2001:db8::1]`. Postfix's
/// `reject_non_fqdn_helo_hostname` refuses a bare host name such as `vm`, so a name needs a dot.
/// The error says what the text is instead, for `helo` is ….
pub fn parse_helo(text: &str) -> Result<ClientId, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty");
    }
    if let Some(literal) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        return match literal.get(..5) {
            Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => literal[5..]
                .parse::<Ipv6Addr>()
                .map(ClientId::Ipv6)
                .map_err(|_| "not an IPv6 address literal"),
            _ => literal
                .parse::<Ipv4Addr>()
                .map(ClientId::Ipv4)
                .map_err(|_| "not an address literal"),
        };
    }
    if text.parse::<IpAddr>().is_ok() {
        return Err("an address without its brackets");
    }
    if text.ends_with('.') {
        return Err("a name with a final dot");
    }
    let ascii = idna::domain_to_ascii_strict(text).map_err(|_| "not a domain name")?;
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err("a bare host name");
    }
    if labels.iter().any(|l| l.is_empty()) {
        return Err("not a domain name");
    }
    if labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("not a domain name");
    }
    Ok(ClientId::Domain(ascii))
}

/// Whether `host` is this computer: `localhost` or a loopback address.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `name` can name an environment variable: letters, digits and `_`, not starting with a
/// digit. Anything else is most likely the password itself, written in the wrong key.
fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `password_env` that is not a variable's name. Neither the value nor its line is shown: it is
/// probably the password.
fn not_a_variable(file: &Path, span: Range<usize>) -> Problem {
    let line = std::fs::read_to_string(file)
        .ok()
        .map(|text| crate::diagnostic::line_of(&text, span.start));
    let at = line.map_or(String::new(), |n| format!(" (line {n}, not shown)"));
    Problem::error(format!(
        "[smtp] password_env must be the name of an environment variable{at}"
    ))
    .in_file(file)
    .hint("it looks like the password itself: delete it from the file (change the password if the file was shared), then write password_env = \"LETTERMERGE_SMTP_PASSWORD\" and export that variable with the password before sending")
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
            Some("example.org"),
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
    fn ehlo_names_the_senders_domain_unless_helo_says_otherwise() {
        let helo = |text: &str| parse(text).map(|s| s.helo.to_string());
        assert_eq!(helo("host = \"h\"").unwrap(), "example.org");
        assert_eq!(
            helo("host = \"h\"\nhelo = \"mail.example.net\"").unwrap(),
            "mail.example.net"
        );
        assert_eq!(
            helo("host = \"h\"\nhelo = \"[192.0.2.1]\"").unwrap(),
            "[192.0.2.1]"
        );
        assert_eq!(
            helo("host = \"h\"\nhelo = \"[IPv6:2001:db8::1]\"").unwrap(),
            "[IPv6:2001:db8::1]"
        );
        assert_eq!(
            helo("host = \"h\"\nhelo = \"bücher.example\"").unwrap(),
            "xn--bcher-kva.example"
        );
    }

    #[test]
    fn a_helo_that_is_not_a_fully_qualified_name_is_refused() {
        for (bad, why) in [
            ("vm", "a bare host name"),
            ("192.0.2.1", "without its brackets"),
            ("[192.0.2]", "not an address literal"),
            ("[IPv6:nope]", "not an IPv6 address literal"),
            ("mail.example.org.", "final dot"),
            ("not a host!", "not a domain name"),
            ("a..b", "not a domain name"),
            ("host.123", "not a domain name"),
            ("", "empty"),
        ] {
            let e = parse(&format!("host = \"h\"\nhelo = \"{bad}\"")).unwrap_err();
            assert!(e[0].message.contains(why), "{bad:?}: {e:?}");
            let at = e[0].location.as_ref().expect("a place in the file");
            assert_eq!(at.span.start, 18, "{bad:?}: at the value");
        }
    }

    #[test]
    fn rates_read_naturally() {
        let r = Rate::parse("60/minute").unwrap();
        assert_eq!(r.interval(), Duration::from_secs(1));
        assert!(Rate::parse("0/minute").is_none());
        assert!(Rate::parse("fast").is_none());
    }
}
