//! Date strings as APScheduler's `convert_to_datetime` reads them, and the `date` trigger.

use super::civil::Civil;
use super::zoned::{Zdt, Zone};
use super::TriggerError;

/// Parses `YYYY-M[M]-D[D]` optionally followed by ` ` or `T` and `H[H]:M[M]:S[S]`, an optional
/// `.digits` (1-6 digits, read as an integer count of microseconds, as APScheduler does) and an
/// optional `Z` or `±HH:MM`. Naive values are localized in `zone` (gap times move forward).
pub fn parse_datetime(field: &str, text: &str, zone: Zone) -> Result<Zdt, TriggerError> {
    let invalid = || TriggerError::new(field, format!("Invalid date string {text:?} (expected \"YYYY-MM-DD\" or \"YYYY-MM-DD HH:MM:SS[.ffffff][Z|±HH:MM]\")"));
    let bytes = text.as_bytes();
    let mut pos = 0;
    let digits = |min: usize, max: usize, pos: &mut usize| -> Option<u32> {
        let start = *pos;
        while *pos < bytes.len() && *pos - start < max && bytes[*pos].is_ascii_digit() {
            *pos += 1;
        }
        if *pos - start < min {
            return None;
        }
        text[start..*pos].parse().ok()
    };
    let expect = |c: u8, pos: &mut usize| -> Option<()> { (bytes.get(*pos) == Some(&c)).then(|| *pos += 1) };

    let year = digits(4, 4, &mut pos).ok_or_else(invalid)?;
    expect(b'-', &mut pos).ok_or_else(invalid)?;
    let month = digits(1, 2, &mut pos).ok_or_else(invalid)?;
    expect(b'-', &mut pos).ok_or_else(invalid)?;
    let day = digits(1, 2, &mut pos).ok_or_else(invalid)?;
    let mut civil = Civil { year: year as i32, month, day, hour: 0, minute: 0, second: 0, micro: 0 };
    let mut offset = None;
    if pos < bytes.len() {
        if !matches!(bytes[pos], b' ' | b'T') {
            return Err(invalid());
        }
        pos += 1;
        civil.hour = digits(1, 2, &mut pos).ok_or_else(invalid)?;
        expect(b':', &mut pos).ok_or_else(invalid)?;
        civil.minute = digits(1, 2, &mut pos).ok_or_else(invalid)?;
        expect(b':', &mut pos).ok_or_else(invalid)?;
        civil.second = digits(1, 2, &mut pos).ok_or_else(invalid)?;
        if expect(b'.', &mut pos).is_some() {
            civil.micro = digits(1, 6, &mut pos).ok_or_else(invalid)?;
        }
        match bytes.get(pos) {
            None => {}
            Some(b'Z') => {
                pos += 1;
                offset = Some(Zone::Utc);
            }
            Some(&sign @ (b'+' | b'-')) => {
                pos += 1;
                let hours = digits(2, 2, &mut pos).ok_or_else(invalid)?;
                expect(b':', &mut pos).ok_or_else(invalid)?;
                let minutes = digits(2, 2, &mut pos).ok_or_else(invalid)?;
                let seconds = (hours * 3600 + minutes * 60) as i32;
                let signed = if sign == b'-' { -seconds } else { seconds };
                offset = Some(Zone::fixed(signed).ok_or_else(|| TriggerError::new(field, format!("offset in {text:?} must be less than 24 hours")))?);
            }
            Some(_) => return Err(invalid()),
        }
        if pos != bytes.len() {
            return Err(invalid());
        }
    }
    if !civil.is_valid() {
        return Err(TriggerError::new(field, format!("{text:?} is not a valid date and time")));
    }
    match offset {
        // An explicit offset keeps its own fixed zone, as Python's aware datetime does.
        Some(zone) => Ok(Zdt::from_wall(civil.to_us(), zone)),
        None => {
            let local = Zdt::localize(civil.to_us(), zone);
            if Civil::from_us(local.utc_us()).is_valid() && local.civil().is_valid() {
                Ok(local)
            } else {
                Err(TriggerError::new(field, format!("{text:?} is out of the range of representable times in {zone}")))
            }
        }
    }
}

/// Fires once, at `run_date`.
#[derive(Clone, Copy, Debug)]
pub struct DateTrigger {
    pub run_date: Zdt,
}

impl DateTrigger {
    pub fn next_fire_time(&self, previous: Option<&Zdt>) -> Option<Zdt> {
        previous.is_none().then_some(self.run_date)
    }
}

impl std::fmt::Display for DateTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "date[{}]", self.run_date.repr())
    }
}
