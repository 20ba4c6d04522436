//! The host's `fermyon:spin/redis` `execute` conversion, against a real redis-server and on
//! hand-built replies. It must mirror Spin's (`factor-outbound-redis/src/host.rs`): nested
//! arrays and sets flattened depth-first, Double/BigNumber as text, Boolean as 0/1, Map and
//! friends refused, server errors as `other(message)`.

use funboost_test_host::spin_redis::{execute, flatten, open, Error, RedisParameter as P, RedisResult as R};
use funboost_test_host::test_support::RedisServer;
use redis::Value;

fn bin(s: &str) -> R {
    R::Binary(s.as_bytes().to_vec())
}

fn arg(s: &str) -> P {
    P::Binary(s.as_bytes().to_vec())
}

fn other(result: Result<Vec<R>, Error>) -> String {
    match result {
        Err(Error::Other(message)) => message,
        other => panic!("expected Error::Other, got {other:?}"),
    }
}

#[tokio::test]
async fn execute_flattens_like_spin() {
    let redis = RedisServer::start().expect("redis-server");
    let mut c = open(&redis.url(0)).await.expect("open");

    // EVAL returning nested tables comes back flat; Lua false is Nil; status replies stay status.
    let script = "return {1, 'two', {3, 'four', {false}}, redis.call('PING')}";
    assert_eq!(
        execute(&mut c, "EVAL", vec![arg(script), P::Int64(0)]).await.unwrap(),
        vec![R::Int64(1), bin("two"), R::Int64(3), bin("four"), R::Nil, R::Status("PONG".into())]
    );

    // WITHSCORES alternates member and score; under RESP2 the score is a bulk string.
    assert_eq!(execute(&mut c, "ZADD", vec![arg("z"), P::Int64(10), arg("a"), P::Int64(20), arg("b")]).await.unwrap(), vec![R::Int64(2)]);
    assert_eq!(
        execute(&mut c, "ZRANGE", vec![arg("z"), P::Int64(0), P::Int64(-1), arg("WITHSCORES")]).await.unwrap(),
        vec![bin("a"), bin("10"), bin("b"), bin("20")]
    );
    assert_eq!(
        execute(&mut c, "ZRANGEBYSCORE", vec![arg("z"), arg("-inf"), arg("15"), arg("LIMIT"), P::Int64(0), P::Int64(100)]).await.unwrap(),
        vec![bin("a")]
    );

    // Missing keys: Nil for GET, empty list for array replies.
    assert_eq!(execute(&mut c, "GET", vec![arg("missing")]).await.unwrap(), vec![R::Nil]);
    assert_eq!(execute(&mut c, "LRANGE", vec![arg("missing"), P::Int64(0), P::Int64(-1)]).await.unwrap(), vec![]);

    // MULTI/EXEC on one connection: QUEUED statuses, then EXEC's replies flattened.
    assert_eq!(execute(&mut c, "MULTI", vec![]).await.unwrap(), vec![R::Status("OK".into())]);
    assert_eq!(execute(&mut c, "SET", vec![arg("k"), arg("v")]).await.unwrap(), vec![R::Status("QUEUED".into())]);
    assert_eq!(execute(&mut c, "LPUSH", vec![arg("l"), arg("x")]).await.unwrap(), vec![R::Status("QUEUED".into())]);
    assert_eq!(execute(&mut c, "EXEC", vec![]).await.unwrap(), vec![R::Status("OK".into()), R::Int64(1)]);

    // Server errors are other(message), at the top level and inside EXEC (redis-rs 0.32).
    let message = other(execute(&mut c, "INCR", vec![arg("k")]).await);
    assert!(message.contains("not an integer"), "{message}");
    let message = other(execute(&mut c, "NOSUCHCOMMAND", vec![]).await);
    assert!(message.contains("unknown command"), "{message}");
    let message = other(execute(&mut c, "EVALSHA", vec![arg("0000000000000000000000000000000000000000"), P::Int64(0)]).await);
    // redis-rs names the error kind instead of echoing the code: "... NoScriptError: No matching script. Please use EVAL."
    assert!(message.contains("NoScriptError"), "{message}");
    execute(&mut c, "MULTI", vec![]).await.unwrap();
    execute(&mut c, "INCR", vec![arg("k")]).await.unwrap();
    execute(&mut c, "SET", vec![arg("k2"), arg("v")]).await.unwrap();
    let message = other(execute(&mut c, "EXEC", vec![]).await);
    assert!(message.contains("not an integer"), "{message}");
    assert_eq!(execute(&mut c, "GET", vec![arg("k2")]).await.unwrap(), vec![bin("v")], "EXEC ran the rest");

    // The db in the URL is selected: a key written in db 3 is not in db 0.
    let mut c3 = open(&redis.url(3)).await.expect("open db 3");
    execute(&mut c3, "SET", vec![arg("only-in-3"), arg("1")]).await.unwrap();
    assert_eq!(execute(&mut c, "EXISTS", vec![arg("only-in-3")]).await.unwrap(), vec![R::Int64(0)]);
    assert_eq!(execute(&mut c3, "EXISTS", vec![arg("only-in-3")]).await.unwrap(), vec![R::Int64(1)]);

    // RESP3 (opt-in via the URL): a Map is refused, a Double comes back as text.
    let mut c_resp3 = open(&format!("{}?protocol=resp3", redis.url(0))).await.expect("open resp3");
    execute(&mut c_resp3, "HSET", vec![arg("h"), arg("f"), arg("v")]).await.unwrap();
    let message = other(execute(&mut c_resp3, "HGETALL", vec![arg("h")]).await);
    assert!(message.contains("Redis Map type is not supported"), "{message}");
    assert_eq!(execute(&mut c_resp3, "ZSCORE", vec![arg("z"), arg("a")]).await.unwrap(), vec![bin("10")]);
}

#[tokio::test]
async fn open_errors_like_spin() {
    assert_eq!(open("not a url").await.err(), Some(Error::InvalidAddress));
    // Nothing listens on port 1: a connection error is other(message).
    match open("redis://127.0.0.1:1/0").await {
        Err(Error::Other(message)) => assert!(!message.is_empty()),
        other => panic!("expected Error::Other, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn flatten_maps_every_resp3_type_like_spin() {
    let value = Value::Array(vec![
        Value::Int(1),
        Value::Set(vec![Value::BulkString(b"s".to_vec()), Value::Array(vec![Value::Okay, Value::Nil])]),
        Value::SimpleString("QUEUED".into()),
        Value::Double(2.5),
        Value::Boolean(true),
        Value::Boolean(false),
        Value::BigNumber(12345678901234567890u64.into()),
    ]);
    assert_eq!(
        flatten(&value).unwrap(),
        vec![
            R::Int64(1),
            bin("s"),
            R::Status("OK".into()),
            R::Nil,
            R::Status("QUEUED".into()),
            bin("2.5"),
            R::Int64(1),
            R::Int64(0),
            bin("12345678901234567890"),
        ]
    );
    for refused in [
        Value::Map(vec![(Value::Int(1), Value::Int(2))]),
        Value::Array(vec![Value::Int(1), Value::Map(vec![])]),
        Value::VerbatimString { format: redis::VerbatimFormat::Text, text: "t".into() },
        Value::Push { kind: redis::PushKind::Message, data: vec![] },
        Value::Attribute { data: Box::new(Value::Nil), attributes: vec![] },
    ] {
        let e = flatten(&refused).expect_err("must be refused");
        assert_eq!(e.kind(), redis::ErrorKind::TypeError, "{refused:?}");
    }
}
