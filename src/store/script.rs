//! Lua scripts with named, checked argument layouts, run with `EVALSHA` (falling back to
//! `EVAL` when the server does not know the script yet).
//!
//! A script is declared once with [`lua_script!`]: its name and layout number, its keys and
//! its scalar arguments by name, and (for batches) the fields of each entry. The macro writes
//! the Lua prologue that binds those names (`K.jobs`, `A.retry_score`, `E.member`) and checks the
//! call against the layout, and [`Call`] builds the call on the Rust side from the same names,
//! so the two sides cannot drift: a call with another layout, arity or argument order is
//! refused by the script with an error naming the script, before it touches anything.
//!
//! The first argument of every call is the layout tag (`name/layout`), the scalars follow, then
//! the entries, each with the declared number of fields. Every reply starts with the same tag,
//! which [`Call::run`] checks and strips.

use std::sync::OnceLock;

use anyhow::{anyhow, bail, Context, Result};

use crate::host::{Redis, RedisArg, RedisValue};

/// A Lua script and its layout (see the module docs).
pub struct Script {
    pub name: &'static str,
    pub layout: u32,
    pub keys: &'static [&'static str],
    pub args: &'static [&'static str],
    /// Fields of each entry (none for a script without entries).
    pub entry: &'static [&'static str],
    /// The whole script, prologue included.
    pub text: &'static str,
    sha: OnceLock<String>,
}

impl Script {
    #[doc(hidden)]
    pub const fn new(
        name: &'static str,
        layout: u32,
        keys: &'static [&'static str],
        args: &'static [&'static str],
        entry: &'static [&'static str],
        text: &'static str,
    ) -> Script {
        Script { name, layout, keys, args, entry, text, sha: OnceLock::new() }
    }

    /// `name/layout`, the first argument and the first value of the reply.
    pub fn tag(&self) -> String {
        format!("{}/{}", self.name, self.layout)
    }

    /// The SHA-1 Redis knows the script by (hex).
    pub fn sha(&self) -> &str {
        self.sha.get_or_init(|| {
            use sha1::Digest;
            let digest = sha1::Sha1::digest(self.text.as_bytes());
            digest.iter().map(|b| format!("{b:02x}")).collect()
        })
    }

    /// A call of this script: set every key, then every scalar, then the entries, by name.
    pub fn call(&'static self) -> Call {
        Call { script: self, keys: Vec::with_capacity(self.keys.len()), args: vec![RedisArg::Bytes(self.tag().into_bytes())], next_arg: 0, entry_field: 0 }
    }
}

/// Declares a [`Script`]: `lua_script!(NAME, "name", layout, keys [k, ...], args [a, ...],
/// entry [f, ...], r#"body"#)`. In the body, `K.<key>`, `A.<arg>` and, for entry `e` (1-based),
/// `ARGV[E0 + (e - 1) * ES + E.<field>]` (or the `field(e, E.<field>)` helper) read them;
/// `N` is the number of entries, and `reply` starts with the tag.
#[macro_export]
macro_rules! lua_script {
    ($(#[$doc:meta])* $vis:vis $const_name:ident = $name:literal, $layout:literal,
     keys [$($key:ident),* $(,)?], args [$($arg:ident),* $(,)?], entry [$($field:ident),* $(,)?], $body:expr) => {
        $(#[$doc])*
        $vis static $const_name: $crate::store::script::Script = $crate::store::script::Script::new(
            $name,
            $layout,
            &[$(stringify!($key)),*],
            &[$(stringify!($arg)),*],
            &[$(stringify!($field)),*],
            concat!(
                "-- funboost-edge ", $name, "/", $layout, "\n",
                "local TAG = '", $name, "/", $layout, "'\n",
                "if ARGV[1] ~= TAG then return redis.error_reply('LAYOUT script ", $name, " has layout ", $layout,
                ", called as ' .. tostring(ARGV[1])) end\n",
                "local K = {}\n",
                "local KN = 0\n",
                $("KN = KN + 1 K.", stringify!($key), " = KEYS[KN]\n",)*
                "if #KEYS ~= KN then return redis.error_reply('LAYOUT script ", $name, " takes ' .. KN .. ' keys, got ' .. #KEYS) end\n",
                "local A = {}\n",
                "local E0 = 1\n",
                $("E0 = E0 + 1 A.", stringify!($arg), " = ARGV[E0]\n",)*
                "local E = {}\n",
                "local ES = 0\n",
                $("ES = ES + 1 E.", stringify!($field), " = ES\n",)*
                "local N = 0\n",
                "if ES > 0 then\n",
                "  if (#ARGV - E0) % ES ~= 0 then return redis.error_reply('LAYOUT script ", $name,
                " entries take ' .. ES .. ' fields each, got ' .. (#ARGV - E0) .. ' values') end\n",
                "  N = (#ARGV - E0) / ES\n",
                "elseif #ARGV ~= E0 then return redis.error_reply('LAYOUT script ", $name, " takes ' .. (E0 - 1) .. ' arguments, got ' .. (#ARGV - 1)) end\n",
                "local function field(e, f) return ARGV[E0 + (e - 1) * ES + f] end\n",
                $body
            ),
        );
    };
}

/// A call being built: keys, scalars and entry fields, each checked by name against the
/// script's declaration.
pub struct Call {
    script: &'static Script,
    keys: Vec<String>,
    args: Vec<RedisArg>,
    next_arg: usize,
    entry_field: usize,
}

impl Call {
    /// The next key, which must be `name`.
    pub fn key(mut self, name: &str, key: impl Into<String>) -> Call {
        let want = self.script.keys.get(self.keys.len()).copied();
        debug_assert_eq!(want, Some(name), "script {}: key {} is {:?}", self.script.name, self.keys.len() + 1, want);
        self.keys.push(key.into());
        self
    }

    /// The next scalar argument, which must be `name`.
    pub fn arg(mut self, name: &str, value: impl Into<Arg>) -> Call {
        let want = self.script.args.get(self.next_arg).copied();
        debug_assert_eq!(want, Some(name), "script {}: argument {} is {:?}", self.script.name, self.next_arg + 1, want);
        self.next_arg += 1;
        self.args.push(value.into().0);
        self
    }

    /// The next field of the current entry, which must be `name`.
    pub fn field(&mut self, name: &str, value: impl Into<Arg>) -> &mut Call {
        let fields = self.script.entry;
        debug_assert_eq!(self.next_arg, self.script.args.len(), "script {}: entries before every scalar", self.script.name);
        debug_assert_eq!(
            fields.get(self.entry_field).copied(),
            Some(name),
            "script {}: entry field {} is {:?}",
            self.script.name,
            self.entry_field + 1,
            fields.get(self.entry_field)
        );
        self.entry_field = (self.entry_field + 1) % fields.len().max(1);
        self.args.push(value.into().0);
        self
    }

    /// How many entries the call carries.
    pub fn entries(&self) -> usize {
        let fields = self.script.entry.len();
        if fields == 0 {
            return 0;
        }
        (self.args.len() - 1 - self.script.args.len()) / fields
    }

    /// Runs the call: `EVALSHA`, then `EVAL` when Redis answers `NOSCRIPT` (which also caches
    /// the script for the next `EVALSHA`). Checks the reply's tag and returns the rest.
    pub fn run(self, redis: &dyn Redis) -> Result<Vec<RedisValue>> {
        let script = self.script;
        if self.keys.len() != script.keys.len() || self.next_arg != script.args.len() || self.entry_field != 0 {
            bail!(
                "script {}: the call sets {} of {} keys and {} of {} arguments",
                script.name,
                self.keys.len(),
                script.keys.len(),
                self.next_arg,
                script.args.len()
            );
        }
        let mut args = Vec::with_capacity(2 + self.keys.len() + self.args.len());
        args.push(RedisArg::Bytes(script.sha().as_bytes().to_vec()));
        args.push(RedisArg::Int(self.keys.len() as i64));
        args.extend(self.keys.into_iter().map(|k| RedisArg::Bytes(k.into_bytes())));
        args.extend(self.args);
        let reply = match redis.execute("EVALSHA", &args) {
            // Redis says `NOSCRIPT No matching script`; through redis-rs (Spin's host) that
            // reads `NoScriptError: No matching script`.
            Err(e) if is_no_script(&format!("{e:#}")) => {
                args[0] = RedisArg::Bytes(script.text.as_bytes().to_vec());
                redis.execute("EVAL", &args)
            }
            other => other,
        }
        .with_context(|| format!("Redis script {}", script.name))?;
        let mut values = reply.into_iter();
        match values.next() {
            Some(RedisValue::Bytes(tag)) if tag == script.tag().as_bytes() => Ok(values.collect()),
            other => Err(anyhow!("script {} answered without its tag {} (got {other:?})", script.name, script.tag())),
        }
    }
}

fn is_no_script(error: &str) -> bool {
    error.contains("NOSCRIPT") || error.contains("NoScriptError") || error.contains("No matching script")
}

/// An argument value: text, bytes or an integer.
pub struct Arg(RedisArg);

impl From<&str> for Arg {
    fn from(value: &str) -> Arg {
        Arg(RedisArg::Bytes(value.as_bytes().to_vec()))
    }
}

impl From<String> for Arg {
    fn from(value: String) -> Arg {
        Arg(RedisArg::Bytes(value.into_bytes()))
    }
}

impl From<&String> for Arg {
    fn from(value: &String) -> Arg {
        Arg(RedisArg::Bytes(value.as_bytes().to_vec()))
    }
}

impl From<Vec<u8>> for Arg {
    fn from(value: Vec<u8>) -> Arg {
        Arg(RedisArg::Bytes(value))
    }
}

impl From<i64> for Arg {
    fn from(value: i64) -> Arg {
        Arg(RedisArg::Int(value))
    }
}

impl From<usize> for Arg {
    fn from(value: usize) -> Arg {
        Arg(RedisArg::Int(value as i64))
    }
}

impl From<bool> for Arg {
    fn from(value: bool) -> Arg {
        Arg(RedisArg::Bytes(if value { b"1".to_vec() } else { Vec::new() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    lua_script!(ECHO = "echo", 3, keys [first, second], args [alpha, beta], entry [x, y], "return {TAG, N}");

    /// Records the commands and answers NOSCRIPT to EVALSHA once.
    struct Recorder {
        seen: RefCell<Vec<(String, Vec<RedisArg>)>>,
    }

    impl Redis for Recorder {
        fn execute(&self, command: &str, args: &[RedisArg]) -> Result<Vec<RedisValue>> {
            self.seen.borrow_mut().push((command.to_string(), args.to_vec()));
            if command == "EVALSHA" {
                bail!("NOSCRIPT No matching script. Please use EVAL.");
            }
            Ok(vec![RedisValue::Bytes(b"echo/3".to_vec()), RedisValue::Int(2)])
        }
    }

    #[test]
    fn a_call_carries_the_tag_the_keys_the_scalars_and_the_entries_in_declared_order() {
        let redis = Recorder { seen: RefCell::new(Vec::new()) };
        let mut call = ECHO.call().key("first", "k1").key("second", "k2").arg("alpha", "a").arg("beta", 7i64);
        for e in 0..2i64 {
            call.field("x", e).field("y", "why");
        }
        assert_eq!(call.entries(), 2);
        let reply = call.run(&redis).expect("runs");
        assert_eq!(reply, vec![RedisValue::Int(2)], "the tag is stripped");
        let seen = redis.seen.borrow();
        assert_eq!(seen.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>(), ["EVALSHA", "EVAL"], "NOSCRIPT falls back to EVAL");
        let eval = &seen[1].1;
        assert_eq!(eval[0], RedisArg::Bytes(ECHO.text.as_bytes().to_vec()));
        assert_eq!(eval[1], RedisArg::Int(2));
        assert_eq!(eval[4], RedisArg::Bytes(b"echo/3".to_vec()), "the tag is the first argument");
        assert_eq!(eval.len(), 2 + 2 + 1 + 2 + 4);
        assert_eq!(ECHO.sha().len(), 40);
    }

    #[test]
    fn the_prologue_binds_every_declared_name() {
        for needle in ["K.first = KEYS[KN]", "K.second = KEYS[KN]", "A.alpha = ARGV[E0]", "A.beta = ARGV[E0]", "E.x = ES", "E.y = ES", "local TAG = 'echo/3'"] {
            assert!(ECHO.text.contains(needle), "missing {needle}");
        }
    }

    #[test]
    #[should_panic(expected = "key 1")]
    fn a_key_out_of_order_is_caught() {
        let _ = ECHO.call().key("second", "k2");
    }
}
