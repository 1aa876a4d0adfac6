//! The one place that reads the time. `LETTERMERGE_NOW` (RFC 3339) stands in for the clock, so
//! tests and rehearsals can run "on" campaign day.

use chrono::{DateTime, FixedOffset, Local, NaiveDate, Utc};

/// What time it is, as far as lettermerge is concerned.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    fixed: Option<DateTime<FixedOffset>>,
}

impl Clock {
    /// The clock set by `LETTERMERGE_NOW`, or the system clock when it is unset.
    pub fn from_env() -> Result<Clock, String> {
        match std::env::var("LETTERMERGE_NOW") {
            Ok(s) if !s.trim().is_empty() => DateTime::parse_from_rfc3339(s.trim())
                .map(|t| Clock { fixed: Some(t) })
                .map_err(|e| {
                    format!("LETTERMERGE_NOW={s:?} is not an RFC 3339 time ({e}); write e.g. 2026-12-10T09:00:00+09:00")
                }),
            _ => Ok(Clock { fixed: None }),
        }
    }

    /// A clock stopped at `t`.
    pub fn fixed(t: DateTime<FixedOffset>) -> Clock {
        Clock { fixed: Some(t) }
    }

    #[allow(clippy::disallowed_methods)]
    pub fn now(&self) -> DateTime<Utc> {
        match self.fixed {
            Some(t) => t.with_timezone(&Utc),
            None => Utc::now(),
        }
    }

    /// Today's date where the clock is (the offset given in `LETTERMERGE_NOW`, else local time).
    #[allow(clippy::disallowed_methods)]
    pub fn today(&self) -> NaiveDate {
        match self.fixed {
            Some(t) => t.date_naive(),
            None => Local::now().date_naive(),
        }
    }
}
