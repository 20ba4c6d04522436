//! funboost's queue registry in Redis: the queues consumers have registered
//! (`funboost_all_queue_names`) and each consumer's parameters
//! (`funboost_queue__consumer_parmas`, field = queue), used to map positional args to names
//! and to validate args/kwargs the way funboost does, but at add time.

use serde_json::{Map, Value};

use super::redis::{int, run, text, time_us};
use crate::error::{code, ApiError};
use crate::host::{Redis, RedisArg};

/// The registered parameter lists of a queue's consuming function.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueParams {
    /// Whether the registration carries the parameter list at all (an empty list is a
    /// function without parameters).
    pub listed: bool,
    /// All parameter names, in signature order.
    pub all: Vec<String>,
    /// Parameters without defaults.
    pub required: Vec<String>,
    /// `broker_exclusive_config.x-max-priority` (REDIS_PRIORITY queues).
    pub max_priority: Option<u8>,
    /// The consumer's `broker_kind`, as registered (may be a kind this product cannot publish).
    pub broker_kind: Option<String>,
}

crate::lua_script!(
    /// The registration, and the server's clock (an add needs both, so one round trip).
    LOOKUP = "lookup", 1,
    keys [queue_names, consumer_params],
    args [queue],
    entry [],
    r#"
local t = redis.call('TIME')
return {TAG, t[1], t[2], redis.call('SISMEMBER', K.queue_names, A.queue), redis.call('HGET', K.consumer_params, A.queue) or ''}
"#
);

/// What the registry says of a queue, read at `server_now_us` (the Redis server's clock).
pub struct Lookup {
    /// `None` when no consumer ever registered the queue.
    pub params: Option<QueueParams>,
    /// The consumer's registration as it wrote it (BoosterParams JSON), when there is one.
    pub raw: Option<String>,
    pub server_now_us: i64,
}

pub fn lookup(redis: &dyn Redis, queue: &str) -> Result<Lookup, ApiError> {
    let reply = LOOKUP
        .call()
        .key("queue_names", "funboost_all_queue_names")
        .key("consumer_params", "funboost_queue__consumer_parmas")
        .arg("queue", queue)
        .run(redis)
        .map_err(super::redis::script_error)?;
    let server_now_us = time_us(&reply).ok_or_else(|| ApiError::store_unavailable(format!("unexpected registry reply {reply:?}")))?;
    let registered = reply.get(2).and_then(int) == Some(1);
    let raw = reply.get(3).and_then(text).filter(|r| !r.is_empty());
    let params = (registered || raw.is_some()).then(|| parse_params(raw.as_deref().unwrap_or_default()));
    Ok(Lookup { params, raw, server_now_us })
}

/// Every queue a funboost consumer registered (`funboost_all_queue_names`).
pub fn registered_queues(redis: &dyn Redis) -> Result<Vec<String>, ApiError> {
    let reply = run(redis, "SMEMBERS", &[RedisArg::Bytes(b"funboost_all_queue_names".to_vec())])?;
    Ok(reply.iter().filter_map(text).collect())
}

fn names(value: Option<&Value>) -> Vec<String> {
    value.and_then(Value::as_array).map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect()).unwrap_or_default()
}

/// Reads the BoosterParams JSON funboost's consumer writes.
pub fn parse_params(json: &str) -> QueueParams {
    let Ok(params) = serde_json::from_str::<Value>(json) else {
        return QueueParams::default();
    };
    let info = params.pointer("/auto_generate_info/final_func_input_params_info");
    let max_priority = params.pointer("/broker_exclusive_config/x-max-priority").and_then(Value::as_u64).map(|p| p.min(255) as u8);
    QueueParams {
        listed: info.is_some_and(|i| i.get("all_arg_name_list").is_some_and(Value::is_array)),
        all: names(info.and_then(|i| i.get("all_arg_name_list"))),
        required: names(info.and_then(|i| i.get("must_arg_name_list"))),
        max_priority,
        broker_kind: params.get("broker_kind").and_then(Value::as_str).map(String::from),
    }
}

/// Without a parameter list, kwargs go out as given and positional args cannot be mapped.
pub fn unmapped(queue: &str, args: &[Value], kwargs: &Map<String, Value>, why: &str) -> Result<Map<String, Value>, ApiError> {
    if !args.is_empty() {
        return Err(ApiError::invalid("args", format!("queue {queue}: {why}, so positional args cannot be mapped to parameter names; send them as kwargs")));
    }
    Ok(kwargs.clone())
}

/// `field` is the request field at fault (`args` or `kwargs`); `data` goes into `error_data`.
fn params_error(queue: &str, field: &str, message: String, data: Value) -> ApiError {
    let mut e = ApiError::new(400, code::FUNC_PARAMS, "FuncParamsError", format!("Invalid parameters for the consuming function of queue {queue}: {message}"));
    e.field = Some(field.to_string());
    e.data = data.as_object().cloned();
    e
}

/// funboost's `push(*args, **kwargs)` mapping, checked up front: positional args take the
/// parameter names in order; every name must exist; required ones must be given.
pub fn message_kwargs(queue: &str, params: &QueueParams, args: &[Value], kwargs: &Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    if !params.listed {
        return unmapped(queue, args, kwargs, "its consumer registered no parameter list");
    }
    if args.len() > params.all.len() {
        return Err(params_error(
            queue,
            "args",
            format!("{} positional arguments given, but the function takes at most {} ({})", args.len(), params.all.len(), params.all.join(", ")),
            serde_json::json!({"all_arg_name_list": params.all}),
        ));
    }
    let mut mapped: Map<String, Value> = params.all.iter().cloned().zip(args.iter().cloned()).collect();
    for (name, value) in kwargs {
        if !params.all.contains(name) {
            return Err(params_error(
                queue,
                "kwargs",
                format!("unexpected keyword argument {name:?} (parameters: {})", params.all.join(", ")),
                serde_json::json!({"unknown": name}),
            ));
        }
        if mapped.contains_key(name) {
            return Err(params_error(queue, "kwargs", format!("got multiple values for argument {name:?}"), serde_json::json!({"duplicate": name})));
        }
        mapped.insert(name.clone(), value.clone());
    }
    let missing: Vec<&String> = params.required.iter().filter(|n| !mapped.contains_key(*n)).collect();
    if !missing.is_empty() {
        let list: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        return Err(params_error(queue, "kwargs", format!("missing required arguments: {}", list.join(", ")), serde_json::json!({"missing": list})));
    }
    Ok(mapped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn add_params() -> QueueParams {
        QueueParams { listed: true, all: vec!["x".into(), "y".into()], required: vec!["x".into()], max_priority: None, broker_kind: None }
    }

    #[test]
    fn positional_and_keyword_arguments_map_like_funboost_push() {
        let cases = [
            (json!([1, 2]), json!({}), Ok(json!({"x": 1, "y": 2}))),
            (json!([5]), json!({"y": 6}), Ok(json!({"x": 5, "y": 6}))),
            (json!([]), json!({"x": 1}), Ok(json!({"x": 1}))),
            (json!([1, 2, 3]), json!({}), Err("at most 2")),
            (json!([]), json!({"z": 1}), Err("unexpected keyword argument \"z\"")),
            (json!([]), json!({"y": 1}), Err("missing required arguments: x")),
            (json!([1]), json!({"x": 2}), Err("multiple values")),
        ];
        for (args, kwargs, expected) in cases {
            let got = message_kwargs("q", &add_params(), args.as_array().unwrap(), kwargs.as_object().unwrap());
            match (got, expected) {
                (Ok(m), Ok(e)) => assert_eq!(Value::Object(m), e),
                (Err(err), Err(text)) => {
                    assert!(err.message.contains(text), "{}", err.message);
                    assert_eq!(err.code, code::FUNC_PARAMS);
                }
                (got, expected) => panic!("{args} {kwargs}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn reads_the_parameter_lists_funboost_registers() {
        let json = r#"{"queue_name":"q","broker_kind":"REDIS_PRIORITY","broker_exclusive_config":{"x-max-priority":3},
            "auto_generate_info":{"final_func_input_params_info":{"func_name":"add","all_arg_name_list":["x","y"],
            "must_arg_name_list":["x"],"optional_arg_name_list":["y"]}}}"#;
        assert_eq!(
            parse_params(json),
            QueueParams {
                listed: true,
                all: vec!["x".into(), "y".into()],
                required: vec!["x".into()],
                max_priority: Some(3),
                broker_kind: Some("REDIS_PRIORITY".into())
            }
        );
        // funboost registers REDIS_BRPOP_LPUSH by its enum value; non-Redis kinds are not ours.
        assert_eq!(parse_params(r#"{"broker_kind":"RABBITMQ_AMQPSTORM"}"#).broker_kind.as_deref(), Some("RABBITMQ_AMQPSTORM"));
    }
}
