//! Early answers on a kept-alive connection. A 416, 404, 401, 403, 413 or 400 given before the
//! request body is read must reach a client that is still writing that body, and leave the
//! connection usable for the next request (or say `Connection: close`, and still let the
//! client finish writing). The client here writes the body and reads the answer at once, as
//! Go's net/http does, and goes through each path many times on one connection: a server that
//! closes on an unread body breaks it at once or within a few rounds.

use std::time::Duration;

use berth_registry::config::{Action, AuthMode, Rule};
use test_support::registry::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

const MIB: usize = 1 << 20;
/// Rounds per path.
const ROUNDS: usize = 25;

/// An answer as it came over the wire.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }

    fn code(&self) -> String {
        error_code(&self.body)
    }
}

/// One HTTP/1.1 connection, kept alive across requests.
struct Conn {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Conn {
    async fn open(reg: &InProcessRegistry) -> Conn {
        let (reader, writer) = TcpStream::connect(reg.addr)
            .await
            .expect("connects")
            .into_split();
        Conn {
            reader: BufReader::new(reader),
            writer,
        }
    }

    /// Sends a request and reads the answer while the request is still being written. Fails
    /// if either side fails: a reset while writing (`broken pipe`), or no answer.
    async fn exchange(&mut self, request: &[u8]) -> std::io::Result<Answer> {
        let Conn { reader, writer } = self;
        let exchange = async {
            let (written, answer) = tokio::join!(writer.write_all(request), read_answer(reader));
            written.map_err(|e| std::io::Error::new(e.kind(), format!("writing the body: {e}")))?;
            answer
        };
        tokio::time::timeout(Duration::from_secs(20), exchange)
            .await
            .unwrap_or_else(|_| Err(std::io::Error::other("no answer within 20s")))
    }

    /// Whether the server has closed the connection (after what it sent).
    async fn closed_by_server(&mut self) -> bool {
        let mut rest = Vec::new();
        matches!(
            tokio::time::timeout(Duration::from_secs(15), self.reader.read_to_end(&mut rest)).await,
            Ok(Ok(_) | Err(_))
        )
    }
}

async fn read_answer(reader: &mut BufReader<OwnedReadHalf>) -> std::io::Result<Answer> {
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        return Err(std::io::Error::other("the server closed the connection"));
    }
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line in {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut answer = Answer {
        status,
        headers,
        body: String::new(),
    };
    let len: usize = answer
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).await?;
    answer.body = String::from_utf8_lossy(&body).into_owned();
    Ok(answer)
}

/// An early answer to expect.
struct Case<'a> {
    what: &'a str,
    /// The request line and headers; `{upload}` stands for an upload session's path.
    head: String,
    body: &'a [u8],
    status: u16,
    code: &'a str,
}

/// Sends `case` [`ROUNDS`] times on one connection (round `r` on `uploads[r]`), each time
/// followed by `next`, which must answer 200 on that connection.
async fn on_one_connection(
    reg: &InProcessRegistry,
    uploads: &[String],
    next: &str,
    case: &Case<'_>,
) {
    let mut conn = Conn::open(reg).await;
    for round in 0..ROUNDS {
        let what = case.what;
        let head = match uploads.get(round) {
            Some(upload) => case.head.replace("{upload}", upload),
            None => case.head.clone(),
        };
        let answer = conn
            .exchange(&request(&head, case.body))
            .await
            .unwrap_or_else(|e| panic!("{what}, round {round}: {e}"));
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (case.status, case.code),
            "{what}, round {round}: {answer:?}"
        );
        assert!(
            !answer.closes(),
            "{what}, round {round}: a {} MiB body is read, not a reason to close",
            case.body.len() / MIB
        );
        let next = conn
            .exchange(&request(next, b""))
            .await
            .unwrap_or_else(|e| panic!("{what}, round {round}: the next request: {e}"));
        assert_eq!(next.status, 200, "{what}, round {round}: {next:?}");
    }
}

const GET_BASE: &str = "GET /v2/ HTTP/1.1";
const UNKNOWN_UPLOAD: &str = "/v2/early/blobs/uploads/4b4f4b4f-0000-4000-8000-000000000000";

/// The path of an upload location (absolute, as the test client keeps them).
fn path_of(location: &str) -> String {
    let rest = location.split_once("://").map_or(location, |(_, r)| r);
    rest[rest.find('/').expect("a path")..].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_answers_to_a_one_mib_body_keep_the_connection() {
    let reg = start().await;
    let chunk = random_bytes(MIB);
    // A manifest over the 4 MiB limit, refused by its Content-Length.
    let too_large = random_bytes(5 * MIB);
    let mut uploads = Vec::new();
    for _ in 0..ROUNDS {
        uploads.push(path_of(&start_upload(&reg, "early").await));
    }
    let cases = [
        // The conformance suite's case: each upload holds 0 bytes.
        Case {
            what: "PATCH out of order",
            head: format!(
                "PATCH {{upload}} HTTP/1.1\r\nContent-Range: {MIB}-{}",
                2 * MIB - 1
            ),
            body: &chunk,
            status: 416,
            code: "BLOB_UPLOAD_INVALID",
        },
        Case {
            what: "PATCH of an unknown upload",
            head: format!("PATCH {UNKNOWN_UPLOAD} HTTP/1.1"),
            body: &chunk,
            status: 404,
            code: "BLOB_UPLOAD_UNKNOWN",
        },
        Case {
            what: "PUT with a malformed digest",
            head: "PUT {upload}?digest=sha256:1234 HTTP/1.1".into(),
            body: &chunk,
            status: 400,
            code: "DIGEST_INVALID",
        },
        Case {
            what: "POST with a malformed digest",
            head: "POST /v2/early/blobs/uploads/?digest=sha256:1234 HTTP/1.1".into(),
            body: &chunk,
            status: 400,
            code: "DIGEST_INVALID",
        },
        Case {
            what: "manifest PUT by an invalid tag",
            head: "PUT /v2/early/manifests/-bad HTTP/1.1".into(),
            body: &chunk,
            status: 400,
            code: "MANIFEST_INVALID",
        },
        Case {
            what: "manifest PUT of 5 MiB",
            head: "PUT /v2/early/manifests/big HTTP/1.1\r\n\
                   Content-Type: application/vnd.oci.image.manifest.v1+json"
                .into(),
            body: &too_large,
            status: 413,
            code: "MANIFEST_INVALID",
        },
    ];
    for case in &cases {
        on_one_connection(&reg, &uploads, GET_BASE, case).await;
    }
    assert!(!manifest_exists(&reg, "early", "big").await);
    // The uploads answered 416 and 400 still take their first chunk.
    let r = send(
        reg.http
            .patch(reg.url(&uploads[0]))
            .header("content-range", format!("0-{}", MIB - 1))
            .body(chunk.clone()),
    )
    .await;
    expect_status(r, 202).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_and_denied_uploads_keep_the_connection() {
    let reg = start_with(|config, dir| {
        let htpasswd = dir.join("htpasswd");
        write_htpasswd(&htpasswd, &[("alice", "alice-pw"), ("bob", "bob-pw")]);
        config.auth.mode = AuthMode::Basic;
        config.auth.htpasswd = Some(htpasswd);
        config.auth.rules = vec![
            Rule {
                users: vec!["alice".into()],
                repositories: vec!["**".into()],
                actions: vec![Action::Pull, Action::Push],
            },
            Rule {
                users: vec!["bob".into()],
                repositories: vec!["**".into()],
                actions: vec![Action::Pull],
            },
        ];
    })
    .await;
    let chunk = random_bytes(MIB);
    let next = format!(
        "{GET_BASE}\r\nAuthorization: {}",
        basic("alice", "alice-pw")
    );
    let cases = [
        Case {
            what: "PATCH without credentials",
            head: format!("PATCH {UNKNOWN_UPLOAD} HTTP/1.1"),
            body: &chunk,
            status: 401,
            code: "UNAUTHORIZED",
        },
        Case {
            what: "POST with a wrong password",
            head: format!(
                "POST /v2/early/blobs/uploads/?digest=sha256:{} HTTP/1.1\r\nAuthorization: {}",
                "0".repeat(64),
                basic("alice", "wrong")
            ),
            body: &chunk,
            status: 401,
            code: "UNAUTHORIZED",
        },
        Case {
            what: "PATCH by a user who may only pull",
            head: format!(
                "PATCH {UNKNOWN_UPLOAD} HTTP/1.1\r\nAuthorization: {}",
                basic("bob", "bob-pw")
            ),
            body: &chunk,
            status: 403,
            code: "DENIED",
        },
    ];
    for case in &cases {
        on_one_connection(&reg, &[], &next, case).await;
    }
}

/// A body too large to read for the connection's sake is answered at once with `Connection:
/// close`; the server reads on while the client finishes writing, then closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_answers_to_a_large_body_close_after_the_client_finished() {
    let reg = start().await;
    let body = random_bytes(24 * MIB);
    for streamed in [false, true] {
        let mut conn = Conn::open(&reg).await;
        let head = format!("PATCH {UNKNOWN_UPLOAD} HTTP/1.1");
        let wire = if streamed {
            chunked_request(&head, &body)
        } else {
            request(&head, &body)
        };
        let answer = conn
            .exchange(&wire)
            .await
            .unwrap_or_else(|e| panic!("streamed {streamed}: {e}"));
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (404, "BLOB_UPLOAD_UNKNOWN")
        );
        assert!(answer.closes(), "streamed {streamed}: {answer:?}");
        assert!(conn.closed_by_server().await, "streamed {streamed}");
    }
    // And the registry still serves.
    let r = send(reg.get("/v2/")).await;
    expect_status(r, 200).await;
}

/// A client that waits for `100 Continue` gets the early answer instead, sends nothing, and is
/// told the connection closes (the server won't read a request past a body it skipped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_answer_to_expect_continue_sends_no_continue_and_closes() {
    let reg = start().await;
    let mut conn = Conn::open(&reg).await;
    let head = format!(
        "PATCH {UNKNOWN_UPLOAD} HTTP/1.1\r\n\
         Host: registry\r\nExpect: 100-continue\r\nContent-Length: {MIB}\r\n\r\n"
    );
    conn.writer.write_all(head.as_bytes()).await.unwrap();
    let answer = read_answer(&mut conn.reader).await.unwrap();
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (404, "BLOB_UPLOAD_UNKNOWN")
    );
    assert!(answer.closes(), "{answer:?}");
    assert!(conn.closed_by_server().await);
}

/// `head` (request line and headers, without the blank line), then `body`.
fn request(head: &str, body: &[u8]) -> Vec<u8> {
    let mut wire = format!(
        "{head}\r\nHost: registry\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    wire.extend_from_slice(body);
    wire
}

/// As [`request`], with the body in 64 KiB chunks of chunked encoding.
fn chunked_request(head: &str, body: &[u8]) -> Vec<u8> {
    let mut wire =
        format!("{head}\r\nHost: registry\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes();
    for piece in body.chunks(64 * 1024) {
        wire.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        wire.extend_from_slice(piece);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    wire
}
