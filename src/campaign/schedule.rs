//! `[schedule]` and `send --at`: when each letter is due.
//!
//! A schedule is a wall-clock time (`at = "2026-12-10T09:00"`) read in a zone: with
//! `zone = "recipient"` each letter is due at that time in its recipient's `timezone` (the
//! campaign's `[campaign] timezone` for recipients without one), with an IANA name all at the
//! same instant. A time with an offset (`2026-12-10T09:00+09:00`) is one instant for everyone.
//!
//! Clocks that skip or repeat an hour are handled as people expect: a time that does not exist
//! (02:30 on a spring-forward night) is read with the offset in force before the change, so it
//! falls the length of the gap later (03:30); a time that happens twice (01:30 on an autumn night)
//! is its first occurrence. Either way [`Due::shift`] says so, and `check` warns.

use std::ops::Range;
use std::path::Path;

use chrono::offset::LocalResult;
use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use super::recipient::{suggest_timezone, Recipient};
use super::settings::Settings;
use crate::diagnostic::{quote_value, Problem};

/// How late a letter may still go out unasked when its due time has passed.
pub const DEFAULT_GRACE: Duration = Duration::hours(12);

/// When the letters are due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub at: At,
    pub zone: Zone,
    /// A letter more than this late is not sent without `--send-late`.
    pub grace: Duration,
    /// The campaign's own zone (`[campaign] timezone`), for recipients without one.
    pub campaign_zone: Option<Tz>,
}

/// The time a schedule names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// A wall-clock time, read in each letter's zone.
    Wall(NaiveDateTime),
    /// One instant, whatever the zone.
    Instant(DateTime<FixedOffset>),
}

/// Whose clock a wall-clock time is read on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// Each recipient's own `timezone`.
    Recipient,
    /// One zone for every letter.
    Named(Tz),
}

/// When one letter is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub at: DateTime<Utc>,
    /// The recipient's zone (else the schedule's or the campaign's): the one to show the time in.
    pub zone: Tz,
    /// Set when the wall-clock time does not exist or happens twice in the zone that reads it.
    pub shift: Option<Shift>,
}

/// How a wall-clock time was read on a day the clocks change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shift {
    /// The time was skipped by the clocks; the letter is due the length of the gap later.
    Gap,
    /// The time happens twice; the letter is due at the first.
    Twice,
}

impl Schedule {
    /// The schedule a run follows: `[schedule]` with `--at` and `--zone` laid over it; none when
    /// neither names a time.
    pub fn of(settings: &Settings, at: Option<At>, zone: Option<Zone>) -> Option<Schedule> {
        let written = settings.schedule.clone().unwrap_or_default();
        Some(Schedule {
            at: at.or(written.at)?,
            zone: zone.or(written.zone).unwrap_or(Zone::Recipient),
            grace: written.grace.unwrap_or(DEFAULT_GRACE),
            campaign_zone: settings.campaign.timezone,
        })
    }

    /// When `recipient`'s letter is due. A recipient without a zone, when the schedule needs one
    /// and the campaign has none, is a problem that names it (`file` is the recipients file).
    pub fn due(&self, recipient: &Recipient, file: &Path) -> Result<Due, Problem> {
        let own = recipient.timezone.or(self.campaign_zone);
        let reading = match self.zone {
            Zone::Named(tz) => Some(tz),
            Zone::Recipient => own,
        };
        let (at, shift) = match (self.at, reading) {
            (At::Instant(t), _) => (t.with_timezone(&Utc), None),
            (At::Wall(wall), Some(tz)) => {
                let (t, shift) = wall_clock(wall, tz);
                (t.with_timezone(&Utc), shift)
            }
            (At::Wall(wall), None) => {
                return Err(Problem::error(format!(
                    "`{}` has no timezone, so its letter has no due time",
                    recipient.id
                ))
                .at(file, recipient.span.clone())
                .recipient(recipient.id.as_str())
                .label("no `timezone` here")
                .hint(format!(
                    "the schedule sends at {} in each recipient's zone: add e.g. timezone = \"Europe/Oslo\" to this recipient, or a default for all as [campaign] timezone",
                    wall.format("%H:%M")
                )))
            }
        };
        let zone = recipient.timezone.or(reading).or(self.campaign_zone);
        Ok(Due {
            at,
            zone: zone.unwrap_or(Tz::UTC),
            shift,
        })
    }

    /// How the schedule reads, for people: "2026-12-10 09:00 in each recipient's timezone".
    pub fn describe(&self) -> String {
        match (self.at, self.zone) {
            (At::Instant(t), _) => format!("at {}", t.format("%Y-%m-%d %H:%M %:z")),
            (At::Wall(wall), Zone::Recipient) => format!(
                "at {} in each recipient's timezone",
                wall.format("%Y-%m-%d %H:%M")
            ),
            (At::Wall(wall), Zone::Named(tz)) => {
                format!("at {} {}", wall.format("%Y-%m-%d %H:%M"), tz.name())
            }
        }
    }

    /// The date letters are due on, by the schedule's own calendar: the letter's default date.
    pub fn date(&self) -> chrono::NaiveDate {
        match self.at {
            At::Wall(wall) => wall.date(),
            At::Instant(t) => t.date_naive(),
        }
    }
}

/// The instant the wall-clock time `wall` names in `tz`, and whether the clocks changed then.
pub fn wall_clock(wall: NaiveDateTime, tz: Tz) -> (DateTime<Tz>, Option<Shift>) {
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(t) => (t, None),
        LocalResult::Ambiguous(first, _) => (first, Some(Shift::Twice)),
        LocalResult::None => {
            // Read with the offset in force a day before: past the gap by its own length.
            let before = tz
                .offset_from_utc_datetime(&(wall - Duration::days(1)))
                .fix();
            let utc = wall - Duration::seconds(before.local_minus_utc().into());
            (tz.from_utc_datetime(&utc), Some(Shift::Gap))
        }
    }
}

/// A time as people read it in a zone: "2026-12-10 09:00 KST".
pub fn show(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
}

/// A span of time as people say it, to the nearest second: "3 d 4 h", "2 h 5 min", "40 s".
pub fn show_span(span: Duration) -> String {
    let s = (span.num_milliseconds().abs() + 500) / 1000;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min {} s", s % 60),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// `[schedule]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    at: Option<Spanned<toml::Value>>,
    zone: Option<Spanned<String>>,
    grace: Option<Spanned<String>>,
}

/// `[schedule]`, checked: each part optional, since `send --at` and `--zone` may supply them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleSettings {
    pub at: Option<At>,
    pub zone: Option<Zone>,
    pub grace: Option<Duration>,
    /// Where `at` is written.
    pub at_span: Option<Range<usize>>,
}

impl ScheduleSettings {
    pub(super) fn from_raw(
        raw: RawSchedule,
        file: &Path,
        problems: &mut Vec<Problem>,
    ) -> ScheduleSettings {
        let mut settings = ScheduleSettings::default();
        if let Some(at) = raw.at {
            let text = match at.get_ref() {
                toml::Value::String(s) => s.clone(),
                toml::Value::Datetime(d) => d.to_string(),
                other => other.to_string(),
            };
            match parse_at(&text) {
                Ok(parsed) => settings.at = Some(parsed),
                Err(e) => problems.push(
                    Problem::error(format!("`schedule.at` is not a time: {e}"))
                        .at(file, at.span())
                        .label("expected a date and time like \"2026-12-10T09:00\"")
                        .hint("write at = \"2026-12-10T09:00\" (read in each recipient's zone), or with an offset, \"2026-12-10T09:00+09:00\", for one instant"),
                ),
            }
            settings.at_span = Some(at.span());
        }
        if let Some(zone) = raw.zone {
            match parse_zone(zone.get_ref()) {
                Ok(z) => settings.zone = Some(z),
                Err(hint) => problems.push(
                    Problem::error(format!(
                        "{} is not a time zone",
                        quote_value(zone.get_ref())
                    ))
                    .at(file, zone.span())
                    .label("unknown zone")
                    .hint(hint),
                ),
            }
        }
        if let Some(grace) = raw.grace {
            match parse_grace(grace.get_ref()) {
                Ok(g) => settings.grace = Some(g),
                Err(e) => problems.push(
                    Problem::error(format!("`schedule.grace` is not a length of time: {e}"))
                        .at(file, grace.span())
                        .hint("write e.g. grace = \"12h\", \"90min\" or \"2days\""),
                ),
            }
        }
        if let (Some(At::Instant(_)), Some(Zone::Recipient)) = (settings.at, settings.zone) {
            problems.push(
                Problem::error("`schedule.at` has an offset, so it is one instant for everyone, but `zone = \"recipient\"` asks for each recipient's own clock")
                    .at(file, settings.at_span.clone().unwrap_or(0..0))
                    .hint("remove the offset from `at` to send at that time in each recipient's zone, or remove `zone`"),
            );
        }
        settings
    }
}

/// A time for `at` or `--at`: "2026-12-10T09:00" (wall clock) or "2026-12-10T09:00+09:00".
pub fn parse_at(text: &str) -> Result<At, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(At::Instant(t));
    }
    for format in [
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%d %H:%M%:z",
        "%Y-%m-%d %H:%M:%S%:z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Ok(At::Instant(t));
        }
    }
    let text = text.strip_suffix('Z').map_or(text.to_string(), |t| {
        // "…T09:00Z" means UTC: the RFC 3339 parse above wants seconds.
        format!("{t}+00:00")
    });
    if let Ok(t) = DateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M%:z") {
        return Ok(At::Instant(t));
    }
    for format in [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&text, format) {
            return Ok(At::Wall(t));
        }
    }
    Err(format!(
        "{} is not a date and time like 2026-12-10T09:00",
        quote_value(&text)
    ))
}

/// `zone`: "recipient" or an IANA name; the error is a hint.
pub fn parse_zone(text: &str) -> Result<Zone, String> {
    let text = text.trim();
    if text == "recipient" {
        return Ok(Zone::Recipient);
    }
    text.parse::<Tz>().map(Zone::Named).map_err(|_| {
        match suggest_timezone(text) {
            Some(s) => format!("did you mean \"{s}\"? Write \"recipient\" for each recipient's own zone, or an IANA name"),
            None => "write \"recipient\" for each recipient's own zone, or an IANA name such as \"Europe/Oslo\"".into(),
        }
    })
}

/// `grace`: "12h", "90min", "2days".
pub fn parse_grace(text: &str) -> Result<Duration, String> {
    let span = humantime::parse_duration(text.trim()).map_err(|e| e.to_string())?;
    Duration::from_std(span).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn nine_oclock_is_a_different_instant_in_each_capital() {
        let at = wall("2026-12-10T09:00");
        let cases = [
            (chrono_tz::Pacific::Auckland, "2026-12-09T20:00:00Z"),
            (chrono_tz::Asia::Seoul, "2026-12-10T00:00:00Z"),
            (chrono_tz::Europe::Oslo, "2026-12-10T08:00:00Z"),
            (chrono_tz::America::Toronto, "2026-12-10T14:00:00Z"),
        ];
        for (tz, expected) in cases {
            assert_eq!(
                wall_clock(at, tz),
                (tz.from_utc_datetime(&utc(expected).naive_utc()), None),
                "{tz}"
            );
        }
    }

    #[test]
    fn a_time_the_clocks_skip_falls_the_gap_later() {
        // Toronto springs forward at 02:00 on 8 March 2026: 02:30 never happens.
        let (t, shift) = wall_clock(wall("2026-03-08T02:30"), chrono_tz::America::Toronto);
        assert_eq!(shift, Some(Shift::Gap));
        assert_eq!(t.with_timezone(&Utc), utc("2026-03-08T07:30:00Z"));
        assert_eq!(t.format("%H:%M %Z").to_string(), "03:30 EDT");
    }

    #[test]
    fn a_time_that_happens_twice_is_its_first() {
        // Toronto falls back at 02:00 on 1 November 2026: 01:30 happens in EDT, then in EST.
        let (t, shift) = wall_clock(wall("2026-11-01T01:30"), chrono_tz::America::Toronto);
        assert_eq!(shift, Some(Shift::Twice));
        assert_eq!(t.with_timezone(&Utc), utc("2026-11-01T05:30:00Z"));
        // Auckland falls back on 5 April 2026: 02:30 happens twice there too.
        let (t, shift) = wall_clock(wall("2026-04-05T02:30"), chrono_tz::Pacific::Auckland);
        assert_eq!(shift, Some(Shift::Twice));
        assert_eq!(t.format("%H:%M %Z").to_string(), "02:30 NZDT");
    }

    #[test]
    fn times_parse_with_and_without_an_offset() {
        assert_eq!(
            parse_at("2026-12-10T09:00"),
            Ok(At::Wall(wall("2026-12-10T09:00")))
        );
        assert_eq!(
            parse_at("2026-12-10 09:00:00"),
            Ok(At::Wall(wall("2026-12-10T09:00")))
        );
        let instant = DateTime::parse_from_rfc3339("2026-12-10T09:00:00+09:00").unwrap();
        assert_eq!(parse_at("2026-12-10T09:00+09:00"), Ok(At::Instant(instant)));
        assert_eq!(
            parse_at("2026-12-10T09:00:00+09:00"),
            Ok(At::Instant(instant))
        );
        assert_eq!(parse_at("2026-12-10T00:00Z"), Ok(At::Instant(instant)));
        assert!(parse_at("10 December, 9 am").is_err());
        assert!(parse_at("2026-12-10").is_err());
    }

    #[test]
    fn zones_and_grace_parse() {
        assert_eq!(parse_zone("recipient"), Ok(Zone::Recipient));
        assert_eq!(
            parse_zone("Asia/Seoul"),
            Ok(Zone::Named(chrono_tz::Asia::Seoul))
        );
        assert!(parse_zone("Asia/Seul").unwrap_err().contains("Asia/Seoul"));
        assert_eq!(parse_grace("12h"), Ok(Duration::hours(12)));
        assert_eq!(parse_grace("90min"), Ok(Duration::minutes(90)));
        assert!(parse_grace("soon").is_err());
    }

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(show_span(Duration::seconds(40)), "40 s");
        assert_eq!(show_span(Duration::seconds(125)), "2 min 5 s");
        assert_eq!(show_span(Duration::minutes(185)), "3 h 5 min");
        assert_eq!(show_span(Duration::hours(50)), "2 d 2 h");
        let t = utc("2026-12-10T00:00:00Z");
        assert_eq!(show(t, chrono_tz::Asia::Seoul), "2026-12-10 09:00 KST");
    }
}
