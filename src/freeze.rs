//! Change windows (pure): an environment file's `freeze:` declares when
//! `apply` must not change it (a release freeze, Friday evenings), in a
//! time zone. `apply` refuses inside a window unless `--ignore-freeze`;
//! `diff` and the merge-request report say when the next allowed time is.
//!
//! ```yaml
//! freeze:
//!   timeZone: Europe/Berlin          # IANA name; UTC when unset
//!   windows:
//!     - {start: "2026-12-21", end: "2027-01-04"}            # dates, or date and time
//!     - {days: [fri], start: "16:00", end: "24:00"}          # every week
//! ```
//!
//! A window includes its start and excludes its end; a weekly window whose
//! end is before its start runs past midnight into the next day.

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde_json::Value;

/// One declared window.
#[derive(Clone, Debug, PartialEq)]
pub enum Window {
    Once {
        start: DateTime,
        end: DateTime,
    },
    Weekly {
        days: Vec<Weekday>,
        start: Time,
        end: Time,
    },
}

#[derive(Clone, Debug)]
pub struct Freeze {
    pub zone: TimeZone,
    pub zone_name: String,
    pub windows: Vec<Window>,
}

/// Why a `freeze:` cannot be read (the schema says the same at lint time).
#[derive(Debug, thiserror::Error)]
#[error("freeze{at}: {message}")]
pub struct FreezeError {
    pub at: String,
    pub message: String,
}

fn error(at: impl Into<String>, message: impl Into<String>) -> FreezeError {
    FreezeError {
        at: at.into(),
        message: message.into(),
    }
}

fn date_time(text: &str, at: &str) -> Result<DateTime, FreezeError> {
    // A date alone is its midnight; jiff reads `2026-12-21T18:00` as a
    // date too (dropping the time), so the date and time go first.
    if let Ok(dt) = text.parse::<DateTime>() {
        return Ok(dt);
    }
    text.parse::<Date>()
        .map(|d| d.to_datetime(Time::midnight()))
        .map_err(|_| {
            error(
                at,
                format!(
                    "`{text}` is neither a date (2026-12-21) nor a date and time (2026-12-21T18:00)"
                ),
            )
        })
}

fn time_of_day(text: &str, at: &str) -> Result<Option<Time>, FreezeError> {
    // `24:00`: the end of the day.
    if text == "24:00" {
        return Ok(None);
    }
    text.parse::<Time>()
        .map(Some)
        .map_err(|_| error(at, format!("`{text}` is no time of day (16:00)")))
}

fn weekday(text: &str, at: &str) -> Result<Weekday, FreezeError> {
    Ok(match text.to_ascii_lowercase().get(..3).unwrap_or("") {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        _ => {
            return Err(error(
                at,
                format!("`{text}` is no day of the week (mon … sun)"),
            ));
        }
    })
}

impl Freeze {
    /// The environment file's `freeze:` (`None`: it declares none).
    pub fn of(root: &Value) -> Result<Option<Freeze>, FreezeError> {
        let Some(freeze) = root.get("freeze").filter(|f| !f.is_null()) else {
            return Ok(None);
        };
        let zone_name = freeze
            .get("timeZone")
            .and_then(Value::as_str)
            .unwrap_or("UTC")
            .to_owned();
        let zone = TimeZone::get(&zone_name).map_err(|_| {
            error(
                ".timeZone",
                format!("`{zone_name}` is no IANA time zone (Europe/Berlin, UTC)"),
            )
        })?;
        let mut windows = Vec::new();
        for (i, w) in freeze
            .get("windows")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = format!(".windows[{i}]");
            let text = |k: &str| {
                w.get(k)
                    .and_then(Value::as_str)
                    .ok_or_else(|| error(at.clone(), format!("`{k}` is missing")))
            };
            let window = match w.get("days") {
                Some(days) => Window::Weekly {
                    days: days
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|d| weekday(d.as_str().unwrap_or(""), &at))
                        .collect::<Result<_, _>>()?,
                    start: time_of_day(text("start")?, &at)?
                        .ok_or_else(|| error(at.clone(), "a window cannot start at 24:00"))?,
                    end: time_of_day(text("end")?, &at)?.unwrap_or(Time::midnight()),
                },
                None => {
                    let (start, end) = (
                        date_time(text("start")?, &at)?,
                        date_time(text("end")?, &at)?,
                    );
                    if end <= start {
                        return Err(error(at, "its end is not after its start"));
                    }
                    Window::Once { start, end }
                }
            };
            windows.push(window);
        }
        Ok(Some(Freeze {
            zone,
            zone_name,
            windows,
        }))
    }

    fn instant(&self, local: DateTime) -> Option<Timestamp> {
        local
            .to_zoned(self.zone.clone())
            .ok()
            .map(|z| z.timestamp())
    }

    /// The end of the window `now` is in, if it is in one.
    fn window_end(&self, now: Timestamp) -> Option<Timestamp> {
        let local = now.to_zoned(self.zone.clone());
        let (today, time) = (local.date(), local.time());
        self.windows
            .iter()
            .filter_map(|w| match w {
                Window::Once { start, end } => {
                    let (s, e) = (self.instant(*start)?, self.instant(*end)?);
                    (s <= now && now < e).then_some(e)
                }
                Window::Weekly { days, start, end } => {
                    let overnight = end <= start;
                    let on = |d: Date| days.contains(&d.weekday());
                    // Today's window, or yesterday's running past midnight.
                    let ends_today = |d: Date| self.instant(d.to_datetime(*end));
                    if on(today) && time >= *start {
                        let end_day = if overnight {
                            today.tomorrow().ok()?
                        } else {
                            today
                        };
                        return ends_today(end_day);
                    }
                    let yesterday = today.yesterday().ok()?;
                    if overnight && on(yesterday) && time < *end {
                        return ends_today(today);
                    }
                    None
                }
            })
            .max()
    }

    /// When applying is allowed again, if `now` is inside a window (`Err`:
    /// never, the windows cover every time).
    pub fn allowed_from(&self, now: Timestamp) -> Option<Result<Timestamp, ()>> {
        let mut t = self.window_end(now)?;
        // Windows that meet or overlap: the first time outside all of them.
        for _ in 0..1000 {
            match self.window_end(t) {
                Some(next) if next > t => t = next,
                Some(_) => return Some(Err(())),
                None => return Some(Ok(t)),
            }
        }
        Some(Err(()))
    }

    /// A time as the environment reads it: `2027-01-04 00:00 Europe/Berlin`.
    pub fn show(&self, t: Timestamp) -> String {
        let z: Zoned = t.to_zoned(self.zone.clone());
        format!("{} {}", z.strftime("%Y-%m-%d %H:%M"), self.zone_name)
    }

    /// One line for plans and reports when `now` is frozen.
    pub fn frozen_line(&self, now: Timestamp) -> Option<String> {
        Some(match self.allowed_from(now)? {
            Ok(t) => format!(
                "frozen now (freeze windows): apply is allowed from {}",
                self.show(t)
            ),
            Err(()) => {
                "frozen now (freeze windows): the windows cover every time, apply is never allowed"
                    .to_owned()
            }
        })
    }
}

/// The time a check is made at: now, or `SLUICE_NOW` (RFC 3339) when set,
/// for tests and for asking "could this deploy at 18:00?".
pub fn now() -> Result<Timestamp, FreezeError> {
    match std::env::var("SLUICE_NOW") {
        Ok(text) => text.parse::<Timestamp>().map_err(|_| {
            error(
                "",
                format!("SLUICE_NOW=`{text}` is no RFC 3339 time (2026-12-01T18:00:00Z)"),
            )
        }),
        Err(_) => Ok(Timestamp::now()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn berlin() -> Freeze {
        Freeze::of(&json!({"freeze": {"timeZone": "Europe/Berlin", "windows": [
            {"start": "2026-12-21", "end": "2027-01-04"},
            {"days": ["fri"], "start": "16:00", "end": "24:00"},
            {"days": ["sat"], "start": "22:00", "end": "02:00"},
        ]}}))
        .unwrap()
        .unwrap()
    }

    #[test]
    fn inside_a_window_says_when_it_ends_in_the_zone() {
        let f = berlin();
        // Friday 2026-12-04 17:00 in Berlin is 16:00 UTC.
        assert_eq!(
            f.frozen_line(at("2026-12-04T16:00:00Z")).unwrap(),
            "frozen now (freeze windows): apply is allowed from 2026-12-05 00:00 Europe/Berlin"
        );
        // 15:59 Berlin on that Friday: allowed.
        assert!(f.allowed_from(at("2026-12-04T14:59:00Z")).is_none());
        // Inside the holiday freeze.
        assert_eq!(
            f.show(f.allowed_from(at("2026-12-24T12:00:00Z")).unwrap().unwrap()),
            "2027-01-04 00:00 Europe/Berlin"
        );
        // Saturday 23:30 and Sunday 01:00 (overnight window), not 02:00.
        assert!(f.allowed_from(at("2026-12-05T22:30:00Z")).is_some());
        assert!(f.allowed_from(at("2026-12-06T00:00:00Z")).is_some());
        assert!(f.allowed_from(at("2026-12-06T01:00:00Z")).is_none());
    }

    #[test]
    fn windows_that_meet_are_one_and_full_cover_is_never() {
        let f = Freeze::of(&json!({"freeze": {"windows": [
            {"start": "2026-12-01T00:00", "end": "2026-12-02T00:00"},
            {"start": "2026-12-02T00:00", "end": "2026-12-03T12:00"},
        ]}}))
        .unwrap()
        .unwrap();
        assert_eq!(
            f.show(f.allowed_from(at("2026-12-01T10:00:00Z")).unwrap().unwrap()),
            "2026-12-03 12:00 UTC"
        );
        let always = Freeze::of(&json!({"freeze": {"windows": [
            {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "24:00"},
        ]}}))
        .unwrap()
        .unwrap();
        assert_eq!(
            always.allowed_from(at("2026-12-01T10:00:00Z")),
            Some(Err(()))
        );
    }

    #[test]
    fn what_cannot_be_read_is_named() {
        let bad = |v: Value| Freeze::of(&json!({"freeze": v})).unwrap_err().to_string();
        assert!(bad(json!({"timeZone": "Mars/Olympus"})).contains("no IANA time zone"));
        assert!(
            bad(json!({"windows": [{"start": "2026-13-01", "end": "2027-01-01"}]}))
                .contains("windows[0]")
        );
        assert!(
            bad(json!({"windows": [{"days": ["fry"], "start": "16:00", "end": "18:00"}]}))
                .contains("no day of the week")
        );
        assert!(
            bad(json!({"windows": [{"start": "2027-01-01", "end": "2026-01-01"}]}))
                .contains("not after its start")
        );
        assert!(Freeze::of(&json!({})).unwrap().is_none());
    }
}
