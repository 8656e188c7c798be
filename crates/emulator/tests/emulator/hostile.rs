//! A hostile or unlucky network: an empty key, dual-stack peers, wildcard binds, the
//! date window's edges, and descriptor exhaustion.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::Method;
use meridian_emulator::auth::{AuthError, MasterKey};
use meridian_emulator::{Emulator, EmulatorError, WELL_KNOWN_KEY};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::child::ready_line;
use crate::client::{ACCOUNT, Reply, TestClient, now_date, sign};

#[tokio::test]
async fn empty_key_is_refused_at_start() {
    for key in ["", "   "] {
        let refused = Emulator::builder().key(key).start().await;
        assert!(
            matches!(refused, Err(EmulatorError::EmptyKey)),
            "{key:?}: {refused:?}"
        );
    }
    let refused = Emulator::builder().key("not base64!").start().await;
    assert!(matches!(refused, Err(EmulatorError::InvalidKey)));

    for key in ["", "not base64!"] {
        let output = Command::new(env!("CARGO_BIN_EXE_meridian-emulator"))
            .args(["--port", "0", "--key", key])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{key:?} must not start");
        assert!(output.stdout.is_empty(), "no ready line for {key:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("master key is"),
            "a clear message for {key:?}: {stderr}"
        );
    }
}

/// An address of this machine that is not loopback, if it has one with a route.
fn non_loopback_v4() -> Option<Ipv4Addr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    match socket.local_addr().ok()?.ip() {
        IpAddr::V4(ip) if !ip.is_loopback() && !ip.is_unspecified() => Some(ip),
        _ => None,
    }
}

/// An admin `GET /_emulator/stats` sent to `host:port`.
async fn stats(client: &TestClient, host: impl std::fmt::Display, port: &str) -> Reply {
    let url = format!("http://{host}:{port}/_emulator/stats");
    client.admin(Method::GET, &url, None).await
}

#[tokio::test]
async fn ipv4_mapped_loopback_may_use_admin() {
    // A dual-stack listener sees an IPv4 client as `::ffff:a.b.c.d`.
    let emulator = Emulator::builder()
        .bind(IpAddr::V6(Ipv6Addr::UNSPECIFIED))
        .start()
        .await
        .expect("this test needs IPv6 (dual-stack `::`)");
    let port = emulator
        .global_endpoint()
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let client = TestClient::new(emulator.key());
    for host in ["127.0.0.1", "[::1]"] {
        let reply = stats(&client, host, &port).await;
        assert_eq!(reply.status, 200, "{host} is loopback");
    }
    // A mapped non-loopback address is still refused.
    if let Some(ip) = non_loopback_v4() {
        let reply = stats(&client, ip, &port).await;
        assert_eq!(reply.status, 403, "{ip} is not loopback");
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn wildcard_bind_advertises_a_reachable_host() {
    for bind in [
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    ] {
        let emulator = Emulator::builder().bind(bind).start().await.unwrap();
        let client = TestClient::new(emulator.key());
        assert!(
            emulator.global_endpoint().starts_with("http://127.0.0.1:"),
            "{bind}: {}",
            emulator.global_endpoint()
        );
        let doc = client
            .get(&emulator.global_endpoint(), ACCOUNT)
            .await
            .json();
        let mut endpoints = Vec::new();
        for field in ["readableLocations", "writableLocations"] {
            for location in doc[field].as_array().unwrap() {
                endpoints.push(
                    location["databaseAccountEndpoint"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                );
            }
        }
        assert_eq!(endpoints.len(), 4);
        for endpoint in endpoints {
            assert!(
                endpoint.starts_with("http://127.0.0.1:"),
                "{bind}: {endpoint}"
            );
            assert_eq!(
                client.get(&endpoint, ACCOUNT).await.status,
                200,
                "{endpoint}"
            );
        }
        emulator.shutdown().await;
    }

    // An explicit host wins; IPv6 literals are bracketed; nonsense is refused.
    let named = Emulator::builder()
        .advertise_host("localhost")
        .start()
        .await
        .unwrap();
    assert!(named.global_endpoint().starts_with("http://localhost:"));
    let doc = named.account_document();
    assert!(
        doc["readableLocations"][0]["databaseAccountEndpoint"]
            .as_str()
            .unwrap()
            .starts_with("http://localhost:")
    );
    named.shutdown().await;
    let v6 = Emulator::builder()
        .bind(IpAddr::V6(Ipv6Addr::LOCALHOST))
        .start()
        .await
        .unwrap();
    assert!(v6.global_endpoint().starts_with("http://[::1]:"));
    let client = TestClient::new(v6.key());
    assert_eq!(client.get(&v6.global_endpoint(), ACCOUNT).await.status, 200);
    v6.shutdown().await;
    let refused = Emulator::builder().advertise_host("a/b@c").start().await;
    assert!(matches!(refused, Err(EmulatorError::Config(_))));
}

#[tokio::test]
async fn date_window_is_symmetric() {
    // Deterministic: the verifier at chosen instants, including fractions of a second
    // (which an HTTP date cannot carry).
    use base64::Engine;
    let key = MasterKey::from_base64(WELL_KNOWN_KEY).unwrap();
    assert!(
        !base64::engine::general_purpose::STANDARD
            .decode(WELL_KNOWN_KEY)
            .unwrap()
            .is_empty()
    );
    let base = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    for fraction_ms in [0, 1, 500, 999] {
        let now = base + Duration::from_millis(fraction_ms);
        let verify = |offset: i64| {
            let at = if offset >= 0 {
                base + Duration::from_secs(offset.unsigned_abs())
            } else {
                base - Duration::from_secs(offset.unsigned_abs())
            };
            let date = httpdate::fmt_http_date(at);
            let auth = sign(WELL_KNOWN_KEY, "GET", "", "", &date);
            key.verify("GET", "", "", Some(&auth), Some(&date), now)
        };
        for offset in [-900, -899, 0, 899, 900] {
            assert_eq!(verify(offset), Ok(()), "{offset:+} s at +{fraction_ms} ms");
        }
        for offset in [-901, 901, -3600, 3600] {
            assert_eq!(
                verify(offset),
                Err(AuthError::StaleDate),
                "{offset:+} s at +{fraction_ms} ms"
            );
        }
    }

    // Over the wire, clear of the edges: both sides behave alike.
    let (emulator, client) = crate::start().await;
    let url = emulator.global_endpoint();
    let status = |offset: i64| {
        let client = client.clone();
        let url = url.clone();
        let key = emulator.key().to_string();
        async move {
            let now = SystemTime::now();
            let at = if offset >= 0 {
                now + Duration::from_secs(offset.unsigned_abs())
            } else {
                now - Duration::from_secs(offset.unsigned_abs())
            };
            let date = httpdate::fmt_http_date(at);
            let auth = sign(&key, "GET", "", "", &date);
            let headers = [
                ("x-ms-date", date.as_str()),
                ("authorization", auth.as_str()),
            ];
            client.get_status_with(&url, &headers).await
        }
    };
    assert_eq!(status(-880).await, 200);
    assert_eq!(status(880).await, 200);
    assert_eq!(status(-920).await, 403);
    assert_eq!(status(920).await, 403);
    emulator.shutdown().await;
}

/// A signed `GET /` on a fresh connection; waits up to 60 s for the whole answer.
async fn signed_get_status(addr: SocketAddr, key: &str) -> Result<u16, String> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let date = now_date();
        let auth = sign(key, "GET", "", "", &date);
        let request = format!(
            "GET / HTTP/1.1\r\nhost: {addr}\r\nx-ms-date: {date}\r\nauthorization: {auth}\r\nconnection: close\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .await
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&answer);
        text.split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("no status line in {:?}", &text[..text.len().min(80)]))
    };
    tokio::time::timeout(Duration::from_secs(60), exchange)
        .await
        .map_err(|_| "no answer within 60 s".to_string())?
}

/// Opens `count` connections that never send a byte.
async fn hold_idle(addr: SocketAddr, count: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        held.push(
            tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
                .await
                .expect("connects (into the backlog at worst)")
                .unwrap(),
        );
    }
    held
}

fn addr_of(endpoint: &str) -> SocketAddr {
    endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

/// A running child and the thread draining its stderr (a pipe nobody reads would fill
/// and block the child's logging).
struct Limited {
    child: Child,
    stderr: std::thread::JoinHandle<String>,
}

/// The emulator binary with `ulimit -n` lowered for it alone, and its ready line.
fn spawn_limited(nofile: u32, args: &[&str]) -> (Limited, Value) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_meridian-emulator"))
        .args(["--port", "0", "--regions", "West US"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    });
    let line = ready_line(&mut child);
    let ready = serde_json::from_str(&line).expect("a JSON ready line");
    (Limited { child, stderr }, ready)
}

/// Stops the child and returns its stderr.
fn stop(mut limited: Limited) -> String {
    let _ = limited.child.kill();
    let _ = limited.child.wait();
    limited.stderr.join().unwrap_or_default()
}

/// A child limited to `nofile` descriptors, run with `args`: the status of a signed GET /
/// sent while `idle` idle connections are held, and the child's stderr once stopped.
async fn served_past_idle(
    nofile: u32,
    idle: usize,
    args: &[&str],
) -> (Result<u16, String>, String) {
    let (child, ready) = spawn_limited(nofile, args);
    let global = addr_of(ready["global"].as_str().unwrap());
    let key = ready["key"].as_str().unwrap().to_string();
    let held = hold_idle(global, idle).await;
    let served = signed_get_status(global, &key).await;
    drop(held);
    (served, stop(child))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_survives_descriptor_exhaustion() {
    // 1. In process: with `max_connections` idle connections held (and more waiting in
    //    the backlog), a signed GET / is still served once the idle ones time out.
    let emulator = Emulator::builder()
        .regions(["West US"])
        .max_connections(4)
        .idle_timeout(Duration::from_millis(500))
        .start()
        .await
        .unwrap();
    let global = addr_of(&emulator.global_endpoint());
    let held = hold_idle(global, 12).await;
    assert_eq!(signed_get_status(global, emulator.key()).await, Ok(200));
    drop(held);
    emulator.shutdown().await;

    // 2. A child whose descriptor limit (64) is far below the idle connections thrown
    //    at it (150): the default connection limit (half the descriptor limit) keeps it
    //    from ever running out, so `accept` never fails and the GET is served.
    let (served, stderr) = served_past_idle(64, 150, &["--idle-timeout", "500ms"]).await;
    assert_eq!(served, Ok(200), "stderr: {stderr}");
    assert!(
        !stderr.contains("accept failed"),
        "the default limit keeps descriptors in hand: {stderr}"
    );

    // 3. A connection limit above the descriptor limit: accept fails with EMFILE; the
    //    loop backs off and logs at most once per second, and still serves.
    let started = std::time::Instant::now();
    let args = ["--idle-timeout", "500ms", "--max-connections", "1000"];
    let (served, stderr) = served_past_idle(64, 150, &args).await;
    let elapsed = started.elapsed().as_secs();
    assert_eq!(served, Ok(200), "stderr: {stderr}");
    let warnings = stderr.matches("accept failed").count() as u64;
    eprintln!("descriptor exhaustion: {warnings} accept warnings in {elapsed} s");
    assert!(
        warnings >= 1,
        "descriptors did run out (else this case proves nothing): {stderr}"
    );
    assert!(
        warnings <= elapsed + 1,
        "{warnings} accept warnings in {elapsed} s: at most one per second"
    );
}

#[tokio::test]
async fn inputs_signed_like_the_fuzz_target_reach_the_data_plane() {
    // The request-handling fuzz target signs with `MasterKey::sign` over
    // `Resource::signing_parts`; an in-process request signed that way is served.
    use meridian_emulator::Resource;
    let emulator = Emulator::builder().start().await.unwrap();
    let key = MasterKey::from_base64(emulator.key()).unwrap();
    let request = |method: &str, path: &str, body: &str| {
        let (kind, link) = Resource::parse(path).unwrap().signing_parts();
        let date = now_date();
        let authorization = key.sign(method, kind, &link, &date);
        assert_eq!(
            authorization,
            sign(emulator.key(), method, kind, &link, &date)
        );
        http::Request::builder()
            .method(method)
            .uri(path)
            .header("x-ms-date", date)
            .header("authorization", authorization)
            .body(bytes::Bytes::from(body.to_string()))
            .unwrap()
    };
    let created = emulator
        .handle(request("POST", "/dbs", r#"{"id":"fuzz"}"#), 1 << 20)
        .await;
    assert_eq!(created.status(), 201);
    let read = emulator
        .handle(request("GET", "/dbs/fuzz", ""), 1 << 20)
        .await;
    assert_eq!(read.status(), 200);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_connection_limit_of_one_still_serves_every_listener() {
    // A listener nobody connects to holds no slot, so even a limit of one serves every
    // listener in turn.
    let emulator = Emulator::builder()
        .max_connections(1)
        .start()
        .await
        .unwrap();
    let client = TestClient::new(emulator.key());
    let mut endpoints = vec![emulator.global_endpoint()];
    endpoints.extend(emulator.regions().into_iter().map(|r| r.endpoint));
    assert_eq!(endpoints.len(), 4);
    for _ in 0..2 {
        for endpoint in &endpoints {
            assert_eq!(
                client.get(endpoint, ACCOUNT).await.status,
                200,
                "{endpoint}"
            );
        }
    }
    emulator.shutdown().await;
}
