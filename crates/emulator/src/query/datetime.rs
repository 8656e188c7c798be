//! Date and time system functions over ISO 8601 UTC strings
//! (`YYYY-MM-DDThh:mm:ss.fffffffZ`), in 100-nanosecond ticks as the service counts them.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::function::Function;
use super::value::Val;

const TICKS_PER_SECOND: i64 = 10_000_000;
const TICKS_PER_DAY: i64 = 86_400 * TICKS_PER_SECOND;

/// A date part named as the service accepts it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
    Microsecond,
    Nanosecond,
}

fn part(name: &str) -> Option<Part> {
    Some(match name.to_ascii_lowercase().as_str() {
        "year" | "yyyy" | "yy" => Part::Year,
        "month" | "mm" | "m" => Part::Month,
        "day" | "dd" | "d" => Part::Day,
        "hour" | "hh" => Part::Hour,
        "minute" | "mi" | "n" => Part::Minute,
        "second" | "ss" | "s" => Part::Second,
        "millisecond" | "ms" => Part::Millisecond,
        "microsecond" | "mcs" => Part::Microsecond,
        "nanosecond" | "ns" => Part::Nanosecond,
        _ => return None,
    })
}

/// The ticks of one unit of a fixed-length part.
fn unit(part: Part) -> Option<i64> {
    Some(match part {
        Part::Day => TICKS_PER_DAY,
        Part::Hour => 3600 * TICKS_PER_SECOND,
        Part::Minute => 60 * TICKS_PER_SECOND,
        Part::Second => TICKS_PER_SECOND,
        Part::Millisecond => 10_000,
        Part::Microsecond => 10,
        Part::Year | Part::Month | Part::Nanosecond => return None,
    })
}

/// The value of a date function over its evaluated `args`.
pub(crate) fn call(function: Function, args: &[Option<Val<'_>>]) -> Option<Value> {
    let arg = |i: usize| -> Option<&Value> { args.get(i)?.as_deref() };
    let s = |i: usize| arg(i)?.as_str();
    match function {
        Function::GetCurrentDateTime => Some(Value::String(format(now_ticks()))),
        Function::GetCurrentTimestamp => Some(Value::from(now_ticks() / 10_000)),
        Function::DateTimeAdd => {
            let part = part(s(0)?)?;
            let n = arg(1).filter(|v| v.is_number())?.as_f64()?.trunc();
            let ticks = parse(s(2)?)?;
            let n = n.clamp(-1e12, 1e12) as i64;
            let added = match (part, unit(part)) {
                (_, Some(unit)) => ticks.checked_add(n.checked_mul(unit)?)?,
                (Part::Nanosecond, None) => ticks.checked_add(n / 100)?,
                (Part::Year, None) => add_months(ticks, n.checked_mul(12)?)?,
                _ => add_months(ticks, n)?,
            };
            in_range(added).then(|| Value::String(format(added)))
        }
        Function::DateTimeDiff => {
            let part = part(s(0)?)?;
            let (start, end) = (parse(s(1)?)?, parse(s(2)?)?);
            let diff = match (part, unit(part)) {
                (_, Some(unit)) => end.div_euclid(unit) - start.div_euclid(unit),
                (Part::Nanosecond, None) => (end - start).checked_mul(100)?,
                (Part::Year, None) => civil(end).0 - civil(start).0,
                _ => {
                    let (sy, sm, ..) = civil(start);
                    let (ey, em, ..) = civil(end);
                    (ey * 12 + em) - (sy * 12 + sm)
                }
            };
            Some(Value::from(diff))
        }
        Function::DateTimePart => {
            let part = part(s(0)?)?;
            let ticks = parse(s(1)?)?;
            let (year, month, day) = civil(ticks);
            let within = ticks.rem_euclid(TICKS_PER_DAY);
            let value = match part {
                Part::Year => year,
                Part::Month => month,
                Part::Day => day,
                Part::Hour => within / (3600 * TICKS_PER_SECOND),
                Part::Minute => within / (60 * TICKS_PER_SECOND) % 60,
                Part::Second => within / TICKS_PER_SECOND % 60,
                Part::Millisecond => within % TICKS_PER_SECOND / 10_000,
                Part::Microsecond => within % TICKS_PER_SECOND / 10,
                Part::Nanosecond => within % TICKS_PER_SECOND * 100,
            };
            Some(Value::from(value))
        }
        _ => None,
    }
}

fn now_ticks() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_nanos() / 100).unwrap_or(i64::MAX)
}

/// Years 1 to 9999, as the service's format allows.
fn in_range(ticks: i64) -> bool {
    let (year, ..) = civil(ticks);
    (1..=9999).contains(&year)
}

/// `ticks` plus `months`, the day kept but clamped to the new month's length.
fn add_months(ticks: i64, months: i64) -> Option<i64> {
    let (year, month, day) = civil(ticks);
    let total = year.checked_mul(12)? + (month - 1) + months;
    let (year, month) = (total.div_euclid(12), total.rem_euclid(12) + 1);
    let day = day.min(days_in_month(year, month));
    Some(days_from_civil(year, month, day) * TICKS_PER_DAY + ticks.rem_euclid(TICKS_PER_DAY))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    days_from_civil(year + i64::from(month == 12), month % 12 + 1, 1)
        - days_from_civil(year, month, 1)
}

/// `YYYY-MM-DD[Thh:mm[:ss[.f…]]][Z]` → ticks since 1970; `None` if malformed.
fn parse(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = text.split_once('T').unwrap_or((text, "00:00:00"));
    let mut date_parts = date.split('-');
    let field = |s: Option<&str>, len: usize| -> Option<i64> {
        let s = s?;
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
    };
    let year = field(date_parts.next(), 4)?;
    let month = field(date_parts.next(), 2)?;
    let day = field(date_parts.next(), 2)?;
    if date_parts.next().is_some() || !(1..=12).contains(&month) {
        return None;
    }
    if !(1..=days_in_month(year, month)).contains(&day) {
        return None;
    }
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut clock_parts = clock.split(':');
    let hour = field(clock_parts.next(), 2)?;
    let minute = field(clock_parts.next(), 2)?;
    let second = match clock_parts.next() {
        Some(s) => field(Some(s), 2)?,
        None => 0,
    };
    if clock_parts.next().is_some() || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    if fraction.len() > 7 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let fraction_ticks = format!("{fraction:0<7}").parse::<i64>().ok()?;
    let seconds = (hour * 60 + minute) * 60 + second;
    Some(
        days_from_civil(year, month, day) * TICKS_PER_DAY
            + seconds * TICKS_PER_SECOND
            + fraction_ticks,
    )
}

/// Ticks since 1970 → `YYYY-MM-DDThh:mm:ss.fffffffZ`.
fn format(ticks: i64) -> String {
    let (year, month, day) = civil(ticks);
    let within = ticks.rem_euclid(TICKS_PER_DAY);
    let seconds = within / TICKS_PER_SECOND;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:07}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        within % TICKS_PER_SECOND
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// (year, month, day) of the day `ticks` falls in.
fn civil(ticks: i64) -> (i64, i64, i64) {
    let days = ticks.div_euclid(TICKS_PER_DAY) + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
