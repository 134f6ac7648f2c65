//! Programs aleph did not write, run as test peers: Python's `socket` and
//! `ssl` modules, `openssl`. A peer server is started on a free port, waited
//! for until its port accepts, and killed when its handle drops. A program
//! that is not installed fails the test with a message naming
//! `scripts/install-test-peers.sh`; nothing is skipped.
//!
//! aleph-cli's tests include this file too (`#[path]`), so it uses only std
//! and tokio. The fixture scripts live in `aleph/tests/peers/`.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

/// The longest a peer may take to start, or a client peer to finish.
pub const PEER_LIMIT: Duration = Duration::from_secs(10);

/// What installs every peer the tests run.
pub const INSTALL: &str = "scripts/install-test-peers.sh";

/// A fixture script from `aleph/tests/peers/`, from either crate's tests.
pub fn fixture(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../aleph/tests/peers")
        .join(name);
    assert!(path.is_file(), "fixture {} is missing", path.display());
    path
}

/// Where `program` is on `PATH`; fails the test if it is not installed.
#[track_caller]
pub fn require(program: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;

    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| {
                path.metadata()
                    .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
            })
    });
    match found {
        Some(path) => path,
        None => panic!("test peer `{program}` is not installed (not on PATH): run {INSTALL}"),
    }
}

/// A port that was free a moment ago: bind port 0, read the port, close.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("bind 127.0.0.1:0")
}

/// A directory of its own under the system's temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "aleph-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `contents` to `name` in the directory and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.join(name);
        std::fs::write(&path, contents)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A throw-away CA, a server certificate (localhost, 127.0.0.1, ::1) and a
/// client certificate, all made by `openssl req` / `openssl x509` through
/// `gen-certs.sh`.
#[derive(Debug)]
pub struct Certs {
    dir: TempDir,
}

impl Certs {
    pub async fn generate() -> Certs {
        require("openssl");
        let dir = TempDir::new("certs");
        let output = run(
            "sh",
            [fixture("gen-certs.sh").as_os_str(), dir.path().as_os_str()],
            b"",
        )
        .await;
        assert!(
            output.status.success(),
            "gen-certs.sh failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        Certs { dir }
    }

    /// The directory, as `echo_server.py --tls` wants it.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The CA certificate that signed both leaves.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The server's leaf and the CA, leaf first.
    pub fn server_chain(&self) -> PathBuf {
        self.dir.join("server-chain.pem")
    }

    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }

    /// The client's leaf alone (CN=test client, extended key usage clientAuth).
    pub fn client_cert(&self) -> PathBuf {
        self.dir.join("client.pem")
    }

    /// The client's leaf and the CA, leaf first.
    pub fn client_chain(&self) -> PathBuf {
        self.dir.join("client-chain.pem")
    }

    pub fn client_key(&self) -> PathBuf {
        self.dir.join("client.key")
    }
}

/// A server program running as a peer, killed (and reaped) on drop.
#[derive(Debug)]
pub struct PeerServer {
    child: Child,
    port: u16,
    what: String,
    log: PathBuf,
    dir: TempDir,
}

impl PeerServer {
    /// Starts `program` with `args`, where `@PORT@` stands for a free port,
    /// and waits until that port accepts connections.
    ///
    /// Fails the test if the program is not installed, exits early three
    /// times (another process may take the port between our probe and its
    /// bind; each attempt gets a new port), or does not listen within
    /// [`PEER_LIMIT`]. Its stdout and stderr are shown in those failures.
    pub async fn start<S: AsRef<OsStr>>(program: &str, args: &[S]) -> PeerServer {
        PeerServer::start_in(program, args, |_dir, _port| {}).await
    }

    /// As [`start`](Self::start), with `prepare` called first with the
    /// peer's own directory and its port (to write a configuration file
    /// there); `@DIR@` in `args` stands for that directory.
    pub async fn start_in<S: AsRef<OsStr>>(
        program: &str,
        args: &[S],
        prepare: impl Fn(&TempDir, u16),
    ) -> PeerServer {
        let path = require(program);
        let mut last_failure = String::new();
        for _attempt in 0..3 {
            let dir = TempDir::new("peer");
            let log = dir.join("output.log");
            let port = free_port();
            let port_text = port.to_string();
            prepare(&dir, port);
            let dir_text = dir.path().display().to_string();
            let args: Vec<_> = args
                .iter()
                .map(|arg| match arg.as_ref().to_str() {
                    Some(text) => text
                        .replace("@PORT@", &port_text)
                        .replace("@DIR@", &dir_text)
                        .into(),
                    None => arg.as_ref().to_owned(),
                })
                .collect();
            let what = format!("{program} {}", display_args(&args));
            let output = std::fs::File::create(&log).expect("create the peer's log");
            let child = Command::new(&path)
                .args(&args)
                .stdin(Stdio::null())
                .stdout(output.try_clone().expect("clone the log handle"))
                .stderr(output)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start `{what}`: {e} (run {INSTALL})"));
            let mut peer = PeerServer {
                child,
                port,
                what,
                log,
                dir,
            };
            match peer.wait_until_listening().await {
                Ok(()) => return peer,
                Err(failure) => last_failure = failure,
            }
        }
        panic!("{last_failure}");
    }

    /// Polls: a foreign process announces its readiness by no event we can
    /// await, so connect attempts every 10 ms (each a few µs on loopback).
    async fn wait_until_listening(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + PEER_LIMIT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "peer `{}` exited before listening ({status}); its output:\n{}",
                    self.what,
                    self.output()
                ));
            }
            if tokio::net::TcpStream::connect(self.addr()).await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                panic!(
                    "peer `{}` did not listen on {} within {PEER_LIMIT:?}; its output:\n{}",
                    self.what,
                    self.addr(),
                    self.output()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The peer's own directory (its configuration and logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// What the peer printed so far (stdout and stderr).
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for PeerServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `echo_server.py` (plain TCP) and waits for it.
pub async fn python_echo_server() -> PeerServer {
    let script = fixture("echo_server.py");
    PeerServer::start("python3", &[script.as_os_str(), OsStr::new("@PORT@")]).await
}

/// Starts `echo_server.py --tls` with the server certificate of `certs`,
/// requiring a client certificate when `mtls`.
pub async fn python_tls_echo_server(certs: &Certs, mtls: bool) -> PeerServer {
    let script = fixture("echo_server.py");
    let mut args = vec![
        script.as_os_str(),
        OsStr::new("@PORT@"),
        OsStr::new("--tls"),
        certs.dir().as_os_str(),
    ];
    if mtls {
        args.push(OsStr::new("--mtls"));
    }
    PeerServer::start("python3", &args).await
}

/// Runs `program args` to completion with `input` on its stdin, failing the
/// test if it is not installed or takes longer than [`PEER_LIMIT`] (it is
/// killed then).
pub async fn run<I, S>(program: &str, args: I, input: &[u8]) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let path = require(program);
    let mut child = tokio::process::Command::new(path)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e} (run {INSTALL})"));
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    // Written on a task of its own: a peer that echoes fills its stdout
    // while we are still writing its stdin.
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&input).await;
    });
    let output = match tokio::time::timeout(PEER_LIMIT, child.wait_with_output()).await {
        Ok(output) => output.unwrap_or_else(|e| panic!("waiting for {program}: {e}")),
        Err(_) => panic!("{program} did not finish within {PEER_LIMIT:?}"),
    };
    let _ = writer.await;
    output
}

/// Runs `python3 client.py HOST PORT extra...` with `input`, returning what it printed.
pub async fn python_client(addr: SocketAddr, extra: &[&OsStr], input: &[u8]) -> Vec<u8> {
    let script = fixture("client.py");
    let host = addr.ip().to_string();
    let port = addr.port().to_string();
    let mut args = vec![script.as_os_str(), OsStr::new(&host), OsStr::new(&port)];
    args.extend_from_slice(extra);
    let output = run("python3", &args, input).await;
    assert!(
        output.status.success(),
        "client.py failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn display_args(args: &[std::ffi::OsString]) -> String {
    args.iter()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// nginx as an origin server (`nginx-origin.conf.in`): HTTP/1.1, h2c and
/// TLS with ALPN h2 and http/1.1, static files from its `www/`, gzip for
/// text, fixed answers at `/plain`, `/missing` (404), `/redirect` (302 to
/// `/plain`) and `/loop` (302 to itself), redirects `/302to`, `/303to` and
/// `/307to` to the URL in the query's `to`, stub_status at `/nginx_status`,
/// and an access log naming each request's connection so that keep-alive
/// reuse can be seen.
#[derive(Debug)]
pub struct Nginx {
    pub server: PeerServer,
    /// The h2c (prior knowledge) port.
    pub h2c_port: u16,
    /// The TLS port (certificate for localhost, 127.0.0.1 and ::1).
    pub tls_port: u16,
}

impl Nginx {
    /// Starts nginx with the server certificate of `certs`, and `files`
    /// (name, contents) in its `www/`.
    pub async fn start(certs: &Certs, files: &[(&str, &[u8])]) -> Nginx {
        let template = std::fs::read_to_string(fixture("nginx-origin.conf.in"))
            .expect("read nginx-origin.conf.in");
        let ports = std::sync::Mutex::new((0, 0));
        let server = PeerServer::start_in(
            "nginx",
            &[
                "-p",
                "@DIR@/",
                "-c",
                "nginx.conf",
                "-e",
                "stderr",
                "-g",
                "daemon off;",
            ],
            |dir, port| {
                let (h2c, tls) = (free_port(), free_port());
                *ports.lock().unwrap() = (h2c, tls);
                let config = template
                    .replace("@DIR@", &dir.path().display().to_string())
                    .replace("@CERTS@", &certs.dir().display().to_string())
                    .replace("@PORT@", &port.to_string())
                    .replace("@PORT2@", &h2c.to_string())
                    .replace("@PORT3@", &tls.to_string());
                dir.write("nginx.conf", config);
                // nginx does not make its temp dir; its worker (nobody) reads www/.
                std::fs::create_dir_all(dir.join("tmp")).expect("mkdir tmp");
                std::fs::create_dir_all(dir.join("www")).expect("mkdir www");
                for (name, contents) in files {
                    dir.write(&format!("www/{name}"), contents);
                }
                use std::os::unix::fs::PermissionsExt;
                let open = std::fs::Permissions::from_mode(0o755);
                std::fs::set_permissions(dir.path(), open).expect("chmod the peer dir");
            },
        )
        .await;
        let (h2c_port, tls_port) = *ports.lock().unwrap();
        Nginx {
            server,
            h2c_port,
            tls_port,
        }
    }

    /// `http://127.0.0.1:PORT/path` (HTTP/1.1).
    pub fn http_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.server.port())
    }

    /// `http://127.0.0.1:H2C_PORT/path` (HTTP/2 with prior knowledge only).
    pub fn h2c_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.h2c_port)
    }

    /// `https://localhost:TLS_PORT/path`.
    pub fn https_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.tls_port)
    }

    /// The access log so far: one line per request, "CONNECTION REQUESTS
    /// PROTOCOL METHOD URI STATUS" (REQUESTS counts the requests of that
    /// connection). nginx writes a line when the request is done.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.server.dir().join("access.log")).unwrap_or_default()
    }
}

/// Starts hypercorn (HTTP/1.1 and h2c; TLS with ALPN h2 when `certs` are
/// given) serving `asgi_app.py`: `/` says hello, `/bytes/N`, `POST /echo`.
pub async fn hypercorn(certs: Option<&Certs>) -> PeerServer {
    let app = fixture("asgi_app.py")
        .parent()
        .expect("the fixture dir")
        .join("asgi_app:app");
    let mut args: Vec<std::ffi::OsString> = ["--workers", "0", "--bind", "127.0.0.1:@PORT@"]
        .iter()
        .map(Into::into)
        .collect();
    if let Some(certs) = certs {
        args.push("--certfile".into());
        args.push(certs.server_chain().into());
        args.push("--keyfile".into());
        args.push(certs.server_key().into());
    }
    args.push(app.into());
    PeerServer::start("hypercorn", &args).await
}

/// Starts Python's `http.server` serving the files of `root` (HTTP/1.0 by
/// default: one request per connection).
pub async fn python_http_server(root: &Path) -> PeerServer {
    PeerServer::start(
        "python3",
        &[
            OsStr::new("-m"),
            OsStr::new("http.server"),
            OsStr::new("@PORT@"),
            OsStr::new("--bind"),
            OsStr::new("127.0.0.1"),
            OsStr::new("--directory"),
            root.as_os_str(),
        ],
    )
    .await
}
