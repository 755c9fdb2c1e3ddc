//! Every way a peer can get a message wrong gives a typed error, never a panic.

use marketfeed_protocol::{
    decode_client, decode_server, ErrorCode, ProtocolError, MAX_SYMBOLS_PER_REQUEST, MAX_SYMBOL_LEN,
};

fn client_err(input: &str) -> ProtocolError {
    decode_client(input.as_bytes()).expect_err(input)
}

#[test]
fn not_json_is_a_syntax_error() {
    for input in ["", "{", "ping", "{\"type\":\"ping\",}", "\u{0}"] {
        let err = client_err(input);
        assert!(
            matches!(err, ProtocolError::Syntax(_)),
            "{input:?}: {err:?}"
        );
        assert_eq!(err.code(), ErrorCode::MalformedMessage);
    }
    let err = decode_client(&[0xff, 0xfe]).expect_err("invalid utf-8");
    assert!(matches!(err, ProtocolError::Syntax(_)));
}

#[test]
fn json_that_is_not_a_message() {
    for input in [
        "[]",
        "42",
        "\"ping\"",
        "{}",
        "{\"type\":7}",
        "{\"id\":1}",
        "null",
    ] {
        assert_eq!(client_err(input), ProtocolError::NotAMessage, "{input}");
    }
}

#[test]
fn unknown_type() {
    let err = client_err(r#"{"type":"quote","symbol":"FPT"}"#);
    assert_eq!(err, ProtocolError::UnknownType("quote".into()));
    assert_eq!(err.code(), ErrorCode::UnknownMessageType);
    // Server-only types are unknown in the client → server direction.
    assert_eq!(
        client_err(r#"{"type":"snapshot"}"#),
        ProtocolError::UnknownType("snapshot".into())
    );
}

#[test]
fn missing_field() {
    let err = client_err(r#"{"type":"ping"}"#);
    match &err {
        ProtocolError::Invalid { kind, detail } => {
            assert_eq!(kind, "ping");
            assert!(detail.contains("id"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.code(), ErrorCode::InvalidMessage);
}

#[test]
fn wrong_type() {
    for input in [
        r#"{"type":"ping","id":"seven"}"#,
        r#"{"type":"ping","id":-1}"#,
        r#"{"type":"ping","id":1.5}"#,
        r#"{"type":"subscribe","symbols":"FPT"}"#,
        r#"{"type":"subscribe","symbols":[1,2]}"#,
    ] {
        assert!(
            matches!(client_err(input), ProtocolError::Invalid { .. }),
            "{input}"
        );
    }
}

#[test]
fn oversize_symbol() {
    let long = "X".repeat(MAX_SYMBOL_LEN + 1);
    let err = client_err(&format!(
        r#"{{"type":"subscribe","symbols":["FPT","{long}"]}}"#
    ));
    assert_eq!(
        err,
        ProtocolError::FieldTooLong {
            field: "symbol",
            len: MAX_SYMBOL_LEN + 1,
            max: MAX_SYMBOL_LEN
        }
    );
    assert_eq!(err.code(), ErrorCode::InvalidMessage);
}

#[test]
fn too_many_symbols() {
    let list = vec!["\"FPT\""; MAX_SYMBOLS_PER_REQUEST + 1].join(",");
    let err = client_err(&format!(r#"{{"type":"unsubscribe","symbols":[{list}]}}"#));
    assert!(
        matches!(
            err,
            ProtocolError::TooMany {
                field: "symbols",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn server_side_errors_are_typed_too() {
    assert!(matches!(
        decode_server(br#"{"type":"snapshot","seq":1}"#),
        Err(ProtocolError::Invalid { .. })
    ));
    assert_eq!(
        decode_server(br#"{"type":"ping","id":1}"#),
        Err(ProtocolError::UnknownType("ping".into()))
    );
}

#[test]
fn errors_read_as_one_line() {
    let err = client_err(r#"{"type":"quote"}"#);
    assert_eq!(err.to_string(), "unknown message type \"quote\"");
}
