//! Wall-clock helpers: epoch milliseconds and the RFC 3339 text both APIs put in timestamps.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `2025-02-11T15:45:00.400Z`: millisecond precision, UTC, as HubSpot writes it.
pub fn rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

/// Epoch milliseconds of an ISO 8601 date (`2025-02-11`, midnight UTC) or date-time
/// (`2025-02-11T15:45:00.400Z`, `…+01:00`, seconds and fraction optional); `None` otherwise.
pub fn parse_iso_ms(text: &str) -> Option<i64> {
    let t = text.trim();
    let num = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (date, time) = match t.split_once(['T', 't', ' ']) {
        Some((d, rest)) => (d, Some(rest)),
        None => (t, None),
    };
    let mut d = date.split('-');
    let (y, m, day) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    if d.next().is_some() || date.len() != 10 || !(1..=12).contains(&m) || !(1..=31).contains(&day)
    {
        return None;
    }
    let mut ms = days_from_civil(y, m as u32, day as u32) * 86_400_000;
    let Some(time) = time else { return Some(ms) };
    let (clock, offset_ms) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(at) = time.rfind(['+', '-']) {
        let (c, off) = time.split_at(at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':').unwrap_or((&off[1..], "0"));
        (c, sign * (num(oh)? * 60 + num(om)?) * 60_000)
    } else {
        (time, 0)
    };
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut parts = hms.split(':');
    let h = num(parts.next()?)?;
    let mi = num(parts.next()?)?;
    let s = parts.next().map(num).unwrap_or(Some(0))?;
    if parts.next().is_some() || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let milli = if frac.is_empty() {
        0
    } else {
        let digits: String = frac.chars().chain("000".chars()).take(3).collect();
        num(&digits)?
    };
    ms += ((h * 60 + mi) * 60 + s) * 1000 + milli - offset_ms;
    Some(ms)
}

/// Howard Hinnant's civil-to-days algorithm (days since 1970-01-01).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_564_113_600_000), "2019-07-26T04:00:00.000Z");
        assert_eq!(rfc3339_ms(1_739_288_700_400), "2025-02-11T15:45:00.400Z");
    }

    #[test]
    fn parses_what_it_formats_and_other_iso_forms() {
        for ms in [0, 1_564_113_600_000, 1_739_288_700_400, -86_400_001] {
            assert_eq!(parse_iso_ms(&rfc3339_ms(ms)), Some(ms));
        }
        assert_eq!(parse_iso_ms("2019-07-26"), Some(1_564_099_200_000));
        assert_eq!(
            parse_iso_ms("2019-07-26T06:00:00+02:00"),
            Some(1_564_113_600_000)
        );
        assert_eq!(parse_iso_ms("2019-07-26T04:00Z"), Some(1_564_113_600_000));
        assert_eq!(
            parse_iso_ms("2019-07-26T04:00:00.4Z"),
            Some(1_564_113_600_400)
        );
        for bad in [
            "",
            "1564113600000",
            "2019-13-01",
            "2019-07-26T25:00:00Z",
            "x@y.com",
            "2019-7-26",
        ] {
            assert_eq!(parse_iso_ms(bad), None, "{bad}");
        }
    }
}
