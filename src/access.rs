//! Who may do what: named tokens, each with a role and a scope of queues.
//!
//! The Spin variable `tokens` holds a JSON list of tokens, each kept as the SHA-256 of the
//! secret (the secret itself is never configured, logged or echoed):
//!
//! ```json
//! [{"name": "dashboard", "sha256": "<64 hex digits>", "role": "read"},
//!  {"name": "payments-ci", "sha256": "<64 hex digits>", "role": "write", "queues": ["payments_*", "refunds"]}]
//! ```
//!
//! Roles are cumulative: `read` (lists, jobs, previews, history, the audit trail, scheduler
//! status, queue configuration, metrics), `write` (also add, modify, reschedule, pause, resume,
//! run now, delete jobs, apply), `admin` (also the queue scheduler switch, delete-all, the
//! tick). `queues` are names or patterns with `*` (any characters); without it, every queue.
//! The older `api_token` variable still works: it is an `admin` token named `api_token`.

use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a token may do; each role includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Read,
    Write,
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }
}

/// The queues a token may touch: names and `*` patterns; empty = every queue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope(Vec<String>);

impl Scope {
    pub fn all() -> Scope {
        Scope(Vec::new())
    }

    pub fn is_all(&self) -> bool {
        self.0.is_empty()
    }

    pub fn allows(&self, queue: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|pattern| glob(pattern.as_bytes(), queue.as_bytes()))
    }

    pub fn patterns(&self) -> &[String] {
        &self.0
    }
}

/// `*` matches any run of characters (bytes), everything else itself.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| glob(rest, &text[skip..])),
        Some((c, rest)) => text.split_first().is_some_and(|(t, text)| t == c && glob(rest, text)),
    }
}

/// A configured token.
#[derive(Clone, Debug)]
pub struct NamedToken {
    pub name: String,
    sha256: [u8; 32],
    pub role: Role,
    pub scope: Scope,
}

impl NamedToken {
    /// A token given in the clear (the older variables): kept hashed like the others.
    pub fn from_secret(name: &str, secret: &str, role: Role) -> NamedToken {
        NamedToken { name: name.to_string(), sha256: sha256(secret), role, scope: Scope::all() }
    }

    pub fn same_secret(&self, other: &NamedToken) -> bool {
        bool::from(self.sha256.ct_eq(&other.sha256))
    }

    pub fn caller(&self) -> Caller {
        Caller { name: self.name.clone(), role: self.role, scope: self.scope.clone() }
    }
}

/// Who made a request: a token's name, role and scope; `loopback` when no token is configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    pub scope: Scope,
}

impl Caller {
    /// The caller when no token is configured: a loopback client, with every right.
    pub fn loopback() -> Caller {
        Caller { name: "loopback".to_string(), role: Role::Admin, scope: Scope::all() }
    }
}

fn sha256(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// The token among `tokens` whose secret `given` is. Every token is compared, in constant
/// time, so the time taken says nothing about which one matched or how much of it.
pub fn find<'a>(tokens: impl IntoIterator<Item = &'a NamedToken>, given: &str) -> Option<&'a NamedToken> {
    let hash = sha256(given);
    let mut found = None;
    for token in tokens {
        if bool::from(token.sha256.ct_eq(&hash)) {
            found = Some(token);
        }
    }
    found
}

/// Names the audit trail gives callers that are not in `tokens`.
const RESERVED_NAMES: [&str; 4] = ["loopback", "api_token", "tick_token", "metrics_token"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    name: String,
    sha256: String,
    role: Role,
    #[serde(default)]
    queues: Option<Vec<String>>,
}

/// The tokens of the `tokens` variable (see the module docs). Any mistake is an error naming
/// the entry and the field: a malformed variable must stop the app, never open it.
pub fn parse_tokens(text: &str) -> Result<Vec<NamedToken>> {
    let entries: Vec<TokenEntry> = serde_json::from_str(text).context("variable tokens must be a JSON list of {\"name\", \"sha256\", \"role\", \"queues\"}")?;
    let mut tokens: Vec<NamedToken> = Vec::with_capacity(entries.len());
    for (k, entry) in entries.into_iter().enumerate() {
        let at = || format!("variable tokens, entry {k} ({:?})", entry.name);
        ensure!(
            !entry.name.is_empty() && entry.name.len() <= 64 && entry.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)),
            "{}: name must be 1 to 64 letters, digits, '_', '.' or '-'",
            at()
        );
        ensure!(!RESERVED_NAMES.contains(&entry.name.as_str()), "{}: the names {} are reserved", at(), RESERVED_NAMES.join(", "));
        ensure!(!tokens.iter().any(|t| t.name == entry.name), "{}: the name is used twice", at());
        let hex = entry.sha256.trim().to_ascii_lowercase();
        ensure!(
            hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
            "{}: sha256 must be 64 hex digits (the SHA-256 of the token: printf %s \"$TOKEN\" | sha256sum)",
            at()
        );
        let mut sha256 = [0u8; 32];
        for (i, byte) in sha256.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).with_context(at)?;
        }
        ensure!(!tokens.iter().any(|t| bool::from(t.sha256.ct_eq(&sha256))), "{}: the same token is configured twice", at());
        let scope = match entry.queues {
            None => Scope::all(),
            Some(queues) => {
                if queues.is_empty() || queues.len() > 100 {
                    bail!("{}: queues must list 1 to 100 queue names or patterns (leave it out for every queue)", at());
                }
                for q in &queues {
                    ensure!(!q.is_empty() && q.len() <= 256 && !q.chars().any(char::is_control), "{}: queue pattern {q:?} must be 1 to 256 characters", at());
                }
                Scope(queues)
            }
        };
        tokens.push(NamedToken { name: entry.name, sha256, role: entry.role, scope });
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"; // sha256("test")

    #[test]
    fn patterns_match_whole_names_with_stars_for_any_run() {
        let cases = [
            ("payments_*", "payments_eu", true),
            ("payments_*", "payments", false),
            ("*_eu", "refunds_eu", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "acb", false),
            ("q", "q", true),
            ("q", "qq", false),
            ("*", "", true),
        ];
        for (pattern, queue, want) in cases {
            assert_eq!(Scope(vec![pattern.to_string()]).allows(queue), want, "{pattern} ~ {queue}");
        }
        assert!(Scope::all().allows("anything"));
    }

    #[test]
    fn a_token_is_found_by_its_secret_only() {
        let tokens = parse_tokens(&format!(r#"[{{"name": "dashboard", "sha256": "{DASH}", "role": "read"}}]"#)).expect("parses");
        assert_eq!(find(&tokens, "test").map(|t| (t.name.as_str(), t.role)), Some(("dashboard", Role::Read)));
        assert!(find(&tokens, "tes").is_none() && find(&tokens, "").is_none() && find(&tokens, DASH).is_none());
        let api = NamedToken::from_secret("api_token", "s3cret", Role::Admin);
        assert_eq!(find(std::slice::from_ref(&api), "s3cret").map(|t| t.role), Some(Role::Admin));
    }

    #[test]
    fn a_malformed_tokens_variable_is_refused_naming_the_entry_and_field() {
        let ok = format!(r#"{{"name": "a", "sha256": "{DASH}", "role": "read"}}"#);
        let cases = [
            ("not json".to_string(), "JSON list"),
            (r#"[{"name": "a", "sha256": "abc", "role": "read"}]"#.to_string(), "64 hex digits"),
            (format!(r#"[{{"name": "a", "sha256": "{DASH}", "role": "root"}}]"#), "JSON list"),
            (format!(r#"[{{"name": "a b", "sha256": "{DASH}", "role": "read"}}]"#), "name must be"),
            (format!(r#"[{ok}, {ok}]"#), "used twice"),
            (format!(r#"[{{"name": "a", "sha256": "{DASH}", "role": "read", "queues": []}}]"#), "queues must list"),
            (format!(r#"[{{"name": "a", "sha256": "{DASH}", "role": "read", "token": "x"}}]"#), "JSON list"),
            (format!(r#"[{{"name": "loopback", "sha256": "{DASH}", "role": "read"}}]"#), "reserved"),
        ];
        for (text, want) in cases {
            let error = format!("{:#}", parse_tokens(&text).expect_err(&text));
            assert!(error.contains(want), "{text}: {error}");
        }
        assert!(Role::Read < Role::Write && Role::Write < Role::Admin);
    }
}
