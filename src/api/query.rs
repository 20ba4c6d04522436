//! Query-string arguments: percent-decoding and typed getters, so that each parameter error
//! has one wording.

use crate::error::ApiError;
use crate::job::{validate_name, StoreKind};

/// Most fire times a `count` may ask for.
pub(super) const MAX_COUNT: usize = 1000;

/// Query-string arguments, percent-decoded; each known name may appear once.
pub(super) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub(super) fn parse(raw: &str) -> Result<Query, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for part in raw.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let name = percent_decode(name).ok_or_else(|| ApiError::invalid("query", format!("{part:?} is not valid percent-encoded UTF-8")))?;
            if name.is_empty() {
                return Err(ApiError::invalid("query", format!("{part:?} has no parameter name")));
            }
            let value = percent_decode(value).ok_or_else(|| ApiError::invalid(name.as_str(), "is not valid percent-encoded UTF-8"))?;
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(ApiError::invalid(name.as_str(), "is given more than once"));
            }
            pairs.push((name, value));
        }
        Ok(Query { pairs })
    }

    pub(super) fn take(&mut self, name: &str) -> Option<String> {
        let index = self.pairs.iter().position(|(n, _)| n == name)?;
        Some(self.pairs.remove(index).1)
    }

    pub(super) fn required_name(&mut self, name: &str) -> Result<String, ApiError> {
        let value = self.take(name).ok_or_else(|| ApiError::invalid(name, "is required (as a query parameter)"))?;
        validate_name(name, &value)?;
        Ok(value)
    }

    pub(super) fn store(&mut self) -> Result<StoreKind, ApiError> {
        match self.take("job_store_kind") {
            None => Ok(StoreKind::Redis),
            Some(kind) => StoreKind::parse("job_store_kind", &kind),
        }
    }

    pub(super) fn count(&mut self, default: usize) -> Result<usize, ApiError> {
        match self.take("count") {
            None => Ok(default),
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=MAX_COUNT).contains(&n) => Ok(n),
                _ => Err(ApiError::invalid("count", format!("must be a whole number from 1 to {MAX_COUNT}, got {text:?}"))),
            },
        }
    }

    /// The optional `note` of a change, kept in its audit record.
    pub(super) fn note(&mut self) -> Result<Option<String>, ApiError> {
        let Some(note) = self.take("note") else { return Ok(None) };
        let max = crate::audit::MAX_NOTE_CHARS;
        if note.chars().count() > max || note.chars().any(char::is_control) {
            return Err(ApiError::invalid("note", format!("must be at most {max} characters, without control characters")));
        }
        Ok(Some(note).filter(|n| !n.trim().is_empty()))
    }

    pub(super) fn finish(self) -> Result<(), ApiError> {
        match self.pairs.first() {
            None => Ok(()),
            Some((name, _)) => Err(ApiError::invalid(name.as_str(), "unknown query parameter")),
        }
    }
}

pub(super) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                // Exactly two hex digits (from_str_radix alone would also take "+F").
                let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_takes_two_hex_digits_and_plus_as_space() {
        let cases =
            [("a%20b", Some("a b")), ("a+b", Some("a b")), ("%e4%b8%ad", Some("中")), ("%4", None), ("%+F", None), ("%ff", None), ("plain", Some("plain"))];
        for (text, want) in cases {
            assert_eq!(percent_decode(text).as_deref(), want, "{text:?}");
        }
    }

    #[test]
    fn a_parameter_given_twice_or_unknown_is_refused_by_name() {
        let error = Query::parse("job_id=a&job_id=b").err().expect("refused");
        assert_eq!(error.field.as_deref(), Some("job_id"));
        let mut query = Query::parse("job_id=a&bogus=1").expect("parsed");
        assert_eq!(query.take("job_id").as_deref(), Some("a"));
        assert_eq!(query.finish().err().and_then(|e| e.field).as_deref(), Some("bogus"));
    }

    #[test]
    fn count_is_bounded() {
        for (text, want) in [("1", Some(1)), ("1000", Some(1000)), ("0", None), ("1001", None), ("x", None)] {
            let mut query = Query::parse(&format!("count={text}")).expect("parsed");
            assert_eq!(query.count(5).ok(), want, "{text}");
        }
        assert_eq!(Query::parse("").expect("parsed").count(5).ok(), Some(5));
    }
}
