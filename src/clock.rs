//! The one place that reads the time. `LETTERMERGE_NOW` (RFC 3339) stands in for the clock, so
//! tests and rehearsals can run "on" campaign day: the rehearsal clock starts at that instant and
//! runs on at the real pace, so a scheduled `send` started "at 08:59:58" sends two seconds later.

use std::time::Instant;

use chrono::{DateTime, FixedOffset, Local, NaiveDate, Utc};
use chrono_tz::Tz;

/// What time it is, as far as lettermerge is concerned.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    source: Source,
    /// When the command started, by this clock.
    started: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy)]
enum Source {
    /// The system clock.
    System,
    /// `LETTERMERGE_NOW`: that instant at `since`, running on from there.
    Rehearsal {
        at: DateTime<FixedOffset>,
        since: Instant,
    },
    /// Stopped at one instant (tests of the library).
    Fixed(DateTime<FixedOffset>),
}

impl Clock {
    /// The clock set by `LETTERMERGE_NOW`, or the system clock when it is unset.
    pub fn from_env() -> Result<Clock, String> {
        match std::env::var("LETTERMERGE_NOW") {
            Ok(s) if !s.trim().is_empty() => DateTime::parse_from_rfc3339(s.trim())
                .map(|at| Clock::new(Source::Rehearsal { at, since: Instant::now() }))
                .map_err(|e| {
                    format!("LETTERMERGE_NOW={s:?} is not an RFC 3339 time ({e}); write e.g. 2026-12-10T09:00:00+09:00")
                }),
            _ => Ok(Clock::new(Source::System)),
        }
    }

    /// A clock stopped at `t`.
    pub fn fixed(t: DateTime<FixedOffset>) -> Clock {
        Clock::new(Source::Fixed(t))
    }

    fn new(source: Source) -> Clock {
        let mut clock = Clock {
            source,
            started: DateTime::<Utc>::MIN_UTC,
        };
        clock.started = clock.now();
        clock
    }

    #[allow(clippy::disallowed_methods)]
    pub fn now(&self) -> DateTime<Utc> {
        match self.source {
            Source::System => Utc::now(),
            Source::Rehearsal { at, since } => {
                let elapsed = chrono::Duration::from_std(since.elapsed()).unwrap_or_default();
                at.with_timezone(&Utc) + elapsed
            }
            Source::Fixed(t) => t.with_timezone(&Utc),
        }
    }

    /// When the command started: one instant for everything a command writes at once (the Date of
    /// every rendered email), so output does not depend on how long the run took.
    pub fn started(&self) -> DateTime<Utc> {
        self.started
    }

    /// Today's date where the clock is (the offset given in `LETTERMERGE_NOW`, else local time).
    #[allow(clippy::disallowed_methods)]
    pub fn today(&self) -> NaiveDate {
        match self.source {
            Source::System => Local::now().date_naive(),
            Source::Rehearsal { at, .. } | Source::Fixed(at) => at.date_naive(),
        }
    }
}

/// The zone of this computer, to show times "here": `TZ` when set, else the system's zone, else
/// UTC.
pub fn local_zone() -> Tz {
    let named = |name: &str| {
        let name = name.trim().trim_start_matches(':');
        let name = name.rsplit_once("zoneinfo/").map_or(name, |(_, n)| n);
        name.parse::<Tz>().ok()
    };
    std::env::var("TZ")
        .ok()
        .and_then(|tz| named(&tz))
        .or_else(|| {
            iana_time_zone::get_timezone()
                .ok()
                .and_then(|tz| named(&tz))
        })
        .unwrap_or(Tz::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_stands_still_and_a_rehearsal_runs_on() {
        let t = DateTime::parse_from_rfc3339("2026-12-10T08:59:59+09:00").unwrap();
        let fixed = Clock::fixed(t);
        assert_eq!(fixed.now(), t);
        assert_eq!(fixed.started(), t);
        let rehearsal = Clock::new(Source::Rehearsal {
            at: t,
            since: Instant::now(),
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(rehearsal.now() > t);
        assert_eq!(rehearsal.started(), rehearsal.started());
        assert!(rehearsal.started() < rehearsal.now());
    }
}
