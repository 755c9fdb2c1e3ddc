//! One publisher, a real `nats-server` and two edges, as separate
//! processes on loopback: the edges send the same `seq` stream and the
//! same bytes; clients of a killed edge continue on the other without
//! `seq` regression; a broker restart turns edges stale and then fresh
//! without dropping clients; a new publisher is a new epoch; foreign
//! messages on the subject are refused and counted. The broker is
//! Debian's `nats-server` (scripts/setup.sh installs it); these tests fail
//! when it is missing.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use marketfeed_protocol::{decode_server, encode_tick, MarketSnapshot, ServerMessage};
use tungstenite::protocol::Role;
use tungstenite::{Message, WebSocket};

mod common;

const WAIT: Duration = Duration::from_secs(15);
const TICK: &str = "100ms";
const STALE_AFTER: &str = "600ms";
const SUBJECT: &str = "test.ticks";

/// A child process killed (SIGKILL) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `nats-server` on a loopback port, restartable on the same port.
struct Broker {
    port: u16,
    proc: Option<Proc>,
}

impl Broker {
    fn start() -> Self {
        let mut broker = Self {
            port: free_port(),
            proc: None,
        };
        broker.restart();
        broker
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        self.proc = None;
    }

    fn restart(&mut self) {
        self.stop();
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server is installed (scripts/setup.sh installs Debian's nats-server)");
        self.proc = Some(Proc(child));
        let end = Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < end, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Publishes raw `payload` on `subject` with the NATS text protocol,
    /// and waits for the broker to have processed it (PING → PONG).
    fn publish_raw(&self, subject: &str, payload: &[u8]) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut reader = BufReader::new(s.try_clone().unwrap());
        let mut info = String::new();
        reader.read_line(&mut info).unwrap();
        assert!(info.starts_with("INFO"), "{info}");
        write!(s, "CONNECT {{\"verbose\":false,\"pedantic\":false}}\r\n").unwrap();
        write!(s, "PUB {subject} {}\r\n", payload.len()).unwrap();
        s.write_all(payload).unwrap();
        s.write_all(b"\r\nPING\r\n").unwrap();
        let mut line = String::new();
        while !line.starts_with("PONG") {
            line.clear();
            reader.read_line(&mut line).unwrap();
            assert!(!line.starts_with("-ERR"), "{line}");
        }
    }
}

/// A marketfeed-server process and its address.
struct Node {
    proc: Proc,
    addr: String,
}

fn node(args: &[&str]) -> Node {
    let (child, addr) = common::spawn(args, Stdio::null());
    Node {
        proc: Proc(child),
        addr,
    }
}

fn publisher(broker: &Broker) -> Node {
    let url = broker.url();
    let (child, addr) = common::spawn_with(
        &["publish", "--nats", &url, "--subject", SUBJECT],
        &["--tick-interval", TICK],
        Stdio::null(),
    );
    Node {
        proc: Proc(child),
        addr,
    }
}

fn edge(broker: &Broker) -> Node {
    let feed = format!("{}/{SUBJECT}", broker.url());
    node(&[
        "--feed",
        &feed,
        "--tick-interval",
        TICK,
        "--feed-stale-after",
        STALE_AFTER,
    ])
}

impl Node {
    fn get(&self, path: &str) -> (u16, String) {
        get(&self.addr, path)
    }

    fn metric(&self, name: &str) -> f64 {
        let (_, body) = self.get("/metrics");
        body.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in\n{body}"))
    }

    fn wait_for(&self, what: &str, ok: impl Fn(&Self) -> bool) {
        let end = Instant::now() + WAIT;
        while !ok(self) {
            assert!(Instant::now() < end, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(self) {
        drop(self.proc);
    }
}

fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

/// What a client reads: a message and its raw text.
enum Got {
    Hello(u64),
    Snapshot(MarketSnapshot, String),
}

/// What a `marketfeed.v2.bin` client reads.
#[derive(Debug)]
enum Bin {
    Hello(u64),
    Keyframe(MarketSnapshot),
    Delta { seq: u64, base: u64 },
}

struct Client {
    ws: WebSocket<TcpStream>,
}

fn connect(addr: &str) -> std::io::Result<Client> {
    connect_offering(addr, None)
}

/// [`connect`] offering `subprotocol` in `Sec-WebSocket-Protocol`.
fn connect_offering(addr: &str, subprotocol: Option<&str>) -> std::io::Result<Client> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(WAIT))?;
    let offer = subprotocol
        .map(|p| format!("Sec-WebSocket-Protocol: {p}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET /ws/market HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
    )?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte)?;
        head.push(byte[0]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        return Err(std::io::Error::other(
            String::from_utf8_lossy(&head).into_owned(),
        ));
    }
    Ok(Client {
        ws: WebSocket::from_raw_socket(s, Role::Client, None),
    })
}

impl Client {
    fn read(&mut self) -> Result<Got, tungstenite::Error> {
        loop {
            match self.ws.read()? {
                Message::Text(t) => {
                    return Ok(match decode_server(t.as_bytes()).unwrap() {
                        ServerMessage::Hello(h) => Got::Hello(h.epoch),
                        ServerMessage::Snapshot(s) => Got::Snapshot(s, t.as_str().to_owned()),
                        other => panic!("unexpected {other:?}"),
                    })
                }
                Message::Close(c) => panic!("closed by the server: {c:?}"),
                _ => {}
            }
        }
    }

    /// The next message of a `marketfeed.v2.bin` connection.
    fn read_bin(&mut self) -> Bin {
        loop {
            match self.ws.read().unwrap() {
                Message::Text(t) => match decode_server(t.as_bytes()).unwrap() {
                    ServerMessage::Hello(h) => return Bin::Hello(h.epoch),
                    other => panic!("unexpected text {other:?}"),
                },
                Message::Binary(b) => {
                    return match marketfeed_protocol::decode_binary(&b).unwrap() {
                        ServerMessage::Snapshot(s) => Bin::Keyframe(s),
                        ServerMessage::Delta(d) => Bin::Delta {
                            seq: d.seq,
                            base: d.base,
                        },
                        other => panic!("unexpected binary {other:?}"),
                    }
                }
                Message::Close(c) => panic!("closed by the server: {c:?}"),
                _ => {}
            }
        }
    }

    fn snapshot(&mut self) -> (MarketSnapshot, String) {
        loop {
            if let Got::Snapshot(s, text) = self.read().unwrap() {
                return (s, text);
            }
        }
    }

    /// The first hello with a known epoch (an edge that has not heard a
    /// tick yet greets with 0 and greets again when it does).
    fn epoch(&mut self) -> u64 {
        loop {
            if let Got::Hello(epoch) = self.read().unwrap() {
                if epoch != 0 {
                    return epoch;
                }
            }
        }
    }

    fn snapshot_where(
        &mut self,
        what: &str,
        ok: impl Fn(&MarketSnapshot) -> bool,
    ) -> MarketSnapshot {
        let end = Instant::now() + WAIT;
        loop {
            let (s, _) = self.snapshot();
            if ok(&s) {
                return s;
            }
            assert!(Instant::now() < end, "no snapshot with {what}; last {s:?}");
        }
    }
}

/// A publisher, a broker and two edges that have each relayed a tick.
struct Cluster {
    broker: Broker,
    publisher: Node,
    edges: Vec<Node>,
}

fn cluster() -> Cluster {
    let broker = Broker::start();
    let edges = vec![edge(&broker), edge(&broker)];
    let publisher = publisher(&broker);
    for e in &edges {
        e.wait_for("a relayed tick", |e| {
            e.metric("marketfeed_ticks_total") > 0.0
        });
    }
    Cluster {
        broker,
        publisher,
        edges,
    }
}

#[test]
fn every_edge_sends_the_same_seq_stream_and_the_same_bytes() {
    let c = cluster();
    let mut clients: Vec<Client> = c
        .edges
        .iter()
        .chain(std::iter::once(&c.publisher))
        .map(|n| connect(&n.addr).unwrap())
        .collect();
    let epochs: Vec<u64> = clients.iter_mut().map(Client::epoch).collect();
    assert!(epochs[0] > 0);
    assert!(epochs.iter().all(|&e| e == epochs[0]), "{epochs:?}");
    let mut seen: Vec<BTreeMap<u64, String>> = Vec::new();
    for client in &mut clients {
        let mut stream = BTreeMap::new();
        let mut last = None;
        while stream.len() < 15 {
            let (s, text) = client.snapshot();
            if let Some(prev) = last {
                assert_eq!(s.seq, prev + 1, "seq runs on");
            }
            last = Some(s.seq);
            stream.insert(s.seq, text);
        }
        seen.push(stream);
    }
    let common: Vec<u64> = seen[0]
        .keys()
        .filter(|seq| seen.iter().all(|s| s.contains_key(seq)))
        .copied()
        .collect();
    assert!(common.len() >= 10, "overlap {common:?}");
    for seq in common {
        assert_eq!(seen[0][&seq], seen[1][&seq], "edges differ at seq {seq}");
        assert_eq!(
            seen[0][&seq], seen[2][&seq],
            "edge and publisher differ at seq {seq}"
        );
    }
    // One message per tick, whatever the number of edges and clients:
    // each edge received what the publisher published (read after the
    // edges', so it can only be ahead, by the ticks in flight).
    let received: Vec<f64> = c
        .edges
        .iter()
        .map(|e| e.metric("marketfeed_bus_received_total"))
        .collect();
    let published = c.publisher.metric("marketfeed_bus_published_total");
    for r in received {
        assert!(r <= published + 1.0, "{r} received, {published} published");
        assert!(r + 10.0 >= published, "{r} received, {published} published");
    }
}

#[test]
fn clients_of_a_killed_edge_continue_on_the_other_without_seq_regression() {
    let mut c = cluster();
    let survivor = c.edges.pop().unwrap();
    let doomed = c.edges.pop().unwrap();
    let addrs = [doomed.addr.clone(), survivor.addr.clone()];
    let mut clients: Vec<(Client, u64, u64)> = (0..5)
        .map(|_| {
            let mut client = connect(&addrs[0]).unwrap();
            let epoch = client.epoch();
            let (s, _) = client.snapshot();
            (client, epoch, s.seq)
        })
        .collect();
    doomed.kill();
    let killed = Instant::now();
    for (client, epoch, last) in &mut clients {
        // Read until the socket breaks, keeping the newest seq.
        loop {
            match client.read() {
                Ok(Got::Snapshot(s, _)) => *last = s.seq,
                Ok(Got::Hello(_)) => {}
                Err(_) => break,
            }
        }
        // The native client's failover: the next URL, retried with a
        // short backoff.
        let mut moved = None;
        for attempt in 0..20u64 {
            match connect(&addrs[1]) {
                Ok(c) => {
                    moved = Some(c);
                    break;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50 * (attempt + 1))),
            }
        }
        let mut moved = moved.expect("the other edge accepts");
        assert_eq!(moved.epoch(), *epoch, "same stream on the other edge");
        let (first, _) = moved.snapshot();
        assert!(
            first.seq >= *last,
            "seq went back: {} after {}",
            first.seq,
            *last
        );
        let (next, _) = moved.snapshot();
        assert_eq!(next.seq, first.seq + 1);
        *client = moved;
        *last = next.seq;
    }
    assert!(
        killed.elapsed() < Duration::from_secs(5),
        "{:?}",
        killed.elapsed()
    );
    assert_eq!(survivor.metric("marketfeed_clients"), 5.0);
}

#[test]
fn a_broker_restart_turns_edges_stale_then_fresh_without_dropping_clients() {
    let mut c = cluster();
    let mut clients: Vec<Client> = c.edges.iter().map(|e| connect(&e.addr).unwrap()).collect();
    let mut last = Vec::new();
    for client in &mut clients {
        client.epoch();
        last.push(client.snapshot().0.seq);
    }
    c.broker.stop();
    for (client, last) in clients.iter_mut().zip(&mut last) {
        let stale = client.snapshot_where("stale", |s| s.stale);
        assert!(stale.seq >= *last, "the last state, marked stale");
        *last = stale.seq;
    }
    for e in &c.edges {
        assert_eq!(e.get("/readyz").0, 503);
        assert_eq!(e.metric("marketfeed_feed_stale"), 1.0);
        assert_eq!(e.metric("marketfeed_bus_connected"), 0.0);
    }
    c.broker.restart();
    for (client, last) in clients.iter_mut().zip(&last) {
        let fresh = client.snapshot_where("fresh data", |s| !s.stale);
        assert!(fresh.seq > *last);
    }
    for e in &c.edges {
        e.wait_for("ready again", |e| e.get("/readyz").0 == 200);
        assert_eq!(e.metric("marketfeed_feed_stale"), 0.0);
        assert_eq!(e.metric("marketfeed_bus_connected"), 1.0);
        assert_eq!(e.metric("marketfeed_clients"), 1.0);
        assert_eq!(e.metric("marketfeed_connections_accepted_total"), 1.0);
    }
}

#[test]
fn a_new_publisher_is_a_new_epoch_that_clients_see() {
    let c = cluster();
    let mut client = connect(&c.edges[0].addr).unwrap();
    let old = client.epoch();
    client.snapshot();
    c.publisher.kill();
    client.snapshot_where("stale", |s| s.stale);
    let standby = publisher(&c.broker);
    // The edge greets its clients again with the new epoch, then the new
    // stream's snapshots follow.
    let new = loop {
        match client.read().unwrap() {
            Got::Hello(epoch) => break epoch,
            Got::Snapshot(s, _) => assert!(s.stale, "an old-stream snapshot after the stale one"),
        }
    };
    assert!(new > old, "{new} after {old}");
    let (first, _) = client.snapshot();
    assert!(!first.stale);
    let (next, _) = client.snapshot();
    assert_eq!(next.seq, first.seq + 1);
    assert_eq!(c.edges[0].metric("marketfeed_bus_epochs_total"), 2.0);
    assert_eq!(c.edges[0].metric("marketfeed_clients"), 1.0);
    // A client arriving now is greeted with the new epoch at once.
    let mut late = connect(&c.edges[1].addr).unwrap();
    assert_eq!(late.epoch(), new);
    drop(standby);
}

#[test]
fn a_v2_client_sees_the_stream_go_stale_then_a_keyframe_of_the_new_epoch_and_its_deltas() {
    let c = cluster();
    let mut client = connect_offering(&c.edges[0].addr, Some("marketfeed.v2.bin")).unwrap();
    let old = loop {
        if let Bin::Hello(epoch) = client.read_bin() {
            if epoch != 0 {
                break epoch;
            }
        }
    };
    // The old stream's chain: a keyframe, then deltas that follow it.
    let mut at = loop {
        if let Bin::Keyframe(k) = client.read_bin() {
            break k.seq;
        }
    };
    for _ in 0..3 {
        match client.read_bin() {
            Bin::Delta { seq, base } => {
                assert_eq!(base, at);
                at = seq;
            }
            Bin::Keyframe(k) => at = k.seq,
            other => panic!("{other:?}"),
        }
    }
    c.publisher.kill();
    // The silent stream's last tick is restated, marked stale, as a
    // keyframe of the same `seq` (a delta could not carry it: its `seq`
    // would not advance).
    let stale = loop {
        match client.read_bin() {
            Bin::Keyframe(k) if k.stale => break k,
            Bin::Keyframe(k) => at = k.seq,
            Bin::Delta { seq, base } => {
                assert_eq!(base, at);
                at = seq;
            }
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(stale.seq, at, "the last tick, restated");
    let standby = publisher(&c.broker);
    let new = loop {
        if let Bin::Hello(epoch) = client.read_bin() {
            break epoch;
        }
    };
    assert!(new > old, "{new} after {old}");
    // The new stream numbers its ticks afresh (below `at`); the chain
    // starts over with a keyframe of it, and its deltas follow.
    let first = loop {
        match client.read_bin() {
            Bin::Keyframe(k) if !k.stale => break k,
            Bin::Keyframe(_) => {}
            other => panic!("a keyframe must start the new stream, got {other:?}"),
        }
    };
    assert!(
        first.seq < at,
        "the new stream starts over: {} vs {at}",
        first.seq
    );
    let mut at = first.seq;
    for _ in 0..3 {
        match client.read_bin() {
            Bin::Delta { seq, base } => {
                assert_eq!(base, at);
                at = seq;
            }
            Bin::Keyframe(k) => at = k.seq,
            other => panic!("{other:?}"),
        }
    }
    drop(standby);
}

#[test]
fn foreign_messages_on_the_subject_are_refused_counted_and_not_forwarded() {
    let c = cluster();
    let mut client = connect(&c.edges[0].addr).unwrap();
    let epoch = client.epoch();
    let (mut current, _) = client.snapshot();
    // A replayed tick of the current stream, marked so it would show.
    let mut replayed = current.clone();
    replayed.seq = 1;
    replayed.quotes[0].last = 1;
    let mut older = current.clone();
    older.seq = current.seq + 1_000_000;
    older.quotes[0].last = 1;
    // The envelope's version byte (after the two magic bytes) changed.
    let mut other_version = encode_tick(epoch, &older);
    other_version[2] = 7;
    let foreign: [(&[u8], &str); 6] = [
        (b"not a tick", "bad_encoding"),
        (br#"{"type":"snapshot","seq":99}"#, "bad_encoding"),
        (&other_version, "wrong_version"),
        // A publisher of the JSON envelope (version 1).
        (br#"{"v":1,"epoch":5,"snapshot":{}}"#, "wrong_version"),
        (&encode_tick(epoch, &replayed), "old_seq"),
        (&encode_tick(epoch - 1, &older), "old_epoch"),
    ];
    for (payload, _) in &foreign {
        c.broker.publish_raw(SUBJECT, payload);
    }
    for e in &c.edges {
        for (_, reason) in &foreign {
            let name = format!("marketfeed_bus_rejected_total{{reason=\"{reason}\"}}");
            e.wait_for(reason, |e| e.metric(&name) >= 1.0);
        }
        assert_eq!(
            e.metric("marketfeed_bus_rejected_total{reason=\"bad_encoding\"}"),
            2.0
        );
        assert_eq!(e.metric("marketfeed_bus_epochs_total"), 1.0);
    }
    for _ in 0..10 {
        let (s, _) = client.snapshot();
        assert_eq!(
            s.seq,
            current.seq + 1,
            "only the publisher's ticks, in order"
        );
        assert_ne!(s.quotes[0].last, 1);
        current = s;
    }
}
