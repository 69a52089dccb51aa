//! `berth registry serve` against slow clients, as a separate process with a low descriptor
//! limit: 2,000 connections trickling their headers from one address must not keep other
//! clients out, and are closed once the header timeout passes.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use test_support::{BerthRegistry, run_ok};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const BIN: &str = env!("CARGO_BIN_EXE_berth");
const TRICKLERS: usize = 2000;
const PER_PEER: usize = 32;
const HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /v2/` from 127.0.0.1, answered in full within a few seconds; returns the status line.
async fn get_v2(addr: SocketAddr) -> String {
    let exchange = async {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(b"GET /v2/ HTTP/1.1\r\nHost: registry\r\nConnection: close\r\n\r\n")
            .await?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await?;
        std::io::Result::Ok(
            String::from_utf8_lossy(&out)
                .lines()
                .next()
                .unwrap_or("")
                .to_string(),
        )
    };
    match tokio::time::timeout(Duration::from_secs(3), exchange).await {
        Ok(Ok(line)) => line,
        Ok(Err(e)) => format!("failed: {e}"),
        Err(_) => "no answer within 3s".to_string(),
    }
}

/// A connection from 127.0.0.2 that has started a request's headers.
async fn trickler(addr: SocketAddr) -> Option<TcpStream> {
    let socket = TcpSocket::new_v4().ok()?;
    socket.bind("127.0.0.2:0".parse().unwrap()).ok()?;
    let mut s = tokio::time::timeout(Duration::from_secs(2), socket.connect(addr))
        .await
        .ok()?
        .ok()?;
    s.write_all(b"GET /v2/ HTTP/1.1\r\nX-Slow: ").await.ok()?;
    Some(s)
}

/// Whether the server closed the connection (what it sent before closing is read and dropped).
fn closed_by_server(s: &TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match s.try_read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_connections_dont_starve_other_clients() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[limits]\nheader_timeout = \"{}s\"\nconnections_per_peer = {PER_PEER}\n",
        HEADER_TIMEOUT.as_secs()
    );
    let reg = BerthRegistry::start(BIN, &dir.path().join("root"), Some(&config));
    let pid = reg.pid().expect("the registry runs");
    run_ok(Command::new("prlimit").args([&format!("--pid={pid}"), "--nofile=256:256"]));
    let addr: SocketAddr = reg.addr.parse().unwrap();
    assert_eq!(get_v2(addr).await, "HTTP/1.1 200 OK");
    let started = Instant::now();

    // All at once, so a server that stops accepting costs seconds, not one timeout each.
    let connecting: Vec<_> = (0..TRICKLERS)
        .map(|_| tokio::spawn(trickler(addr)))
        .collect();
    let mut tricklers = Vec::new();
    for c in connecting {
        tricklers.extend(c.await.unwrap());
    }
    assert!(
        tricklers.len() > 256,
        "only {} connections opened: the attack must pass the server's descriptor limit",
        tricklers.len()
    );
    // One more header byte on each, every 300ms, while the legitimate clients come.
    let stop = Arc::new(AtomicBool::new(false));
    let trickling = {
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for s in &mut tricklers {
                    let _ = s.try_write(b"a");
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            tricklers
        })
    };

    for i in 0..20 {
        assert_eq!(get_v2(addr).await, "HTTP/1.1 200 OK", "legitimate GET {i}");
    }
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    assert!(
        fds < PER_PEER + 64,
        "{fds} descriptors open: one address holds at most {PER_PEER} connections"
    );

    // Past the header timeout, every trickling connection has been closed by the server.
    tokio::time::sleep(HEADER_TIMEOUT + Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let tricklers = trickling.await.unwrap();
    let open = tricklers.iter().filter(|s| !closed_by_server(s)).count();
    assert_eq!(
        open, 0,
        "trickling connections still open past the header timeout"
    );
    assert_eq!(get_v2(addr).await, "HTTP/1.1 200 OK");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the attack is over in seconds, not {:?}",
        started.elapsed()
    );
}
