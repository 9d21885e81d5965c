//! `nats-server` processes for tests: one server, or a three-server
//! JetStream cluster, on 127.0.0.1 with temporary store directories.
//!
//! Each server runs under a small shell guard that reads its standard
//! input: when the test process ends, even by SIGKILL, the pipe closes and
//! the guard kills the server, so no server outlives its test. The guard
//! prints the server's pid first, for tests that SIGKILL a server.
//! Readiness is the server's own `/healthz` (JetStream included), polled.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// The largest message the test servers take (a 20,000-event commit of the
/// conformance suite is about 2 MB; nats-server's default is 1 MB).
pub const TEST_MAX_PAYLOAD: usize = 8 * 1024 * 1024;

/// One running `nats-server`.
pub struct NatsServer {
    /// Its name in the cluster (`n1`...).
    pub name: String,
    /// `nats://127.0.0.1:<port>`.
    pub url: String,
    monitor_port: u16,
    pid: u32,
    guard: Option<(Child, ChildStdin)>,
    dir: PathBuf,
    config: String,
}

/// A harness failure (the test cannot go on).
#[derive(Debug, thiserror::Error)]
#[error("nats-server harness: {0}")]
pub struct HarnessError(String);

fn err(e: impl std::fmt::Display) -> HarnessError {
    HarnessError(e.to_string())
}

/// A port free right now on 127.0.0.1.
fn free_port() -> Result<u16, HarnessError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(err)?;
    Ok(l.local_addr().map_err(err)?.port())
}

fn temp_dir(name: &str) -> Result<PathBuf, HarnessError> {
    let dir = std::env::temp_dir().join(format!(
        "switchboard-nats-{}-{name}-{}",
        std::process::id(),
        time::OffsetDateTime::now_utc().unix_timestamp_nanos()
    ));
    std::fs::create_dir_all(&dir).map_err(err)?;
    Ok(dir)
}

impl NatsServer {
    /// Starts one stand-alone JetStream server taking messages up to
    /// [`TEST_MAX_PAYLOAD`].
    pub fn start() -> Result<NatsServer, HarnessError> {
        NatsServer::start_with_max_payload(TEST_MAX_PAYLOAD)
    }

    /// Starts one stand-alone JetStream server taking messages up to
    /// `max_payload` bytes (nats-server's own default is 1 MiB).
    pub fn start_with_max_payload(max_payload: usize) -> Result<NatsServer, HarnessError> {
        let dir = temp_dir("single")?;
        let port = free_port()?;
        let monitor_port = free_port()?;
        let config = format!(
            "server_name: n1\nlisten: 127.0.0.1:{port}\nhttp: 127.0.0.1:{monitor_port}\n\
             max_payload: {max_payload}\njetstream {{ store_dir: \"{}\" }}\n",
            dir.join("store").display()
        );
        let mut server = NatsServer {
            name: "n1".into(),
            url: format!("nats://127.0.0.1:{port}"),
            monitor_port,
            pid: 0,
            guard: None,
            dir,
            config,
        };
        server.spawn()?;
        server.wait_ready(Duration::from_secs(30))?;
        Ok(server)
    }

    fn spawn(&mut self) -> Result<(), HarnessError> {
        let conf = self.dir.join("server.conf");
        std::fs::write(&conf, &self.config).map_err(err)?;
        let log = self.dir.join("server.log");
        let script = format!(
            "ns=$(command -v nats-server || echo /usr/sbin/nats-server); \
             \"$ns\" -c '{}' >>'{}' 2>&1 & p=$!; echo $p; read _; kill $p 2>/dev/null; wait $p",
            conf.display(),
            log.display()
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                HarnessError(format!(
                    "cannot run nats-server (apt-get install nats-server): {e}"
                ))
            })?;
        let stdin = child.stdin.take().ok_or_else(|| err("no stdin"))?;
        let stdout = child.stdout.take().ok_or_else(|| err("no stdout"))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map_err(err)?;
        self.pid = line
            .trim()
            .parse()
            .map_err(|_| HarnessError(format!("no server pid from the guard: {line:?}")))?;
        self.guard = Some((child, stdin));
        Ok(())
    }

    /// Polls `/healthz` until the server (and its JetStream) reports ok.
    pub fn wait_ready(&self, limit: Duration) -> Result<(), HarnessError> {
        let until = Instant::now() + limit;
        loop {
            if self.healthy() {
                return Ok(());
            }
            if Instant::now() > until {
                let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
                return Err(HarnessError(format!(
                    "{} not ready after {limit:?}; its log:\n{log}",
                    self.name
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn healthy(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.monitor_port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let request = "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        if s.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut response = String::new();
        let _ = s.read_to_string(&mut response);
        response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200")
    }

    /// Kills the server with SIGKILL (its store stays for a restart).
    pub fn kill9(&mut self) -> Result<(), HarnessError> {
        let status = Command::new("kill")
            .args(["-9", &self.pid.to_string()])
            .status()
            .map_err(err)?;
        if !status.success() {
            return Err(HarnessError(format!("kill -9 {} failed", self.pid)));
        }
        if let Some((mut child, stdin)) = self.guard.take() {
            drop(stdin);
            let _ = child.wait();
        }
        Ok(())
    }

    /// Starts the server again on the same ports and store.
    pub fn restart(&mut self) -> Result<(), HarnessError> {
        self.stop();
        self.spawn()
    }

    /// The server's pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    fn stop(&mut self) {
        if let Some((mut child, stdin)) = self.guard.take() {
            drop(stdin);
            let _ = child.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A three-server JetStream cluster on 127.0.0.1.
pub struct NatsCluster {
    /// The servers.
    pub servers: Vec<NatsServer>,
}

impl NatsCluster {
    /// Starts `n` servers routed to each other and waits until all of
    /// them report JetStream healthy.
    pub fn start(n: usize) -> Result<NatsCluster, HarnessError> {
        let ports: Vec<(u16, u16, u16)> = (0..n)
            .map(|_| Ok((free_port()?, free_port()?, free_port()?)))
            .collect::<Result<_, HarnessError>>()?;
        let routes: Vec<String> = ports
            .iter()
            .map(|(_, _, r)| format!("nats-route://127.0.0.1:{r}"))
            .collect();
        let mut servers = Vec::with_capacity(n);
        for (i, (port, monitor_port, route)) in ports.iter().enumerate() {
            let name = format!("n{}", i + 1);
            let dir = temp_dir(&name)?;
            let config = format!(
                "server_name: {name}\nlisten: 127.0.0.1:{port}\nhttp: 127.0.0.1:{monitor_port}\n\
                 max_payload: {TEST_MAX_PAYLOAD}\njetstream {{ store_dir: \"{}\" }}\n\
                 cluster {{ name: switchboard-test\n listen: 127.0.0.1:{route}\n routes: [{}] }}\n",
                dir.join("store").display(),
                routes.join(", ")
            );
            let mut server = NatsServer {
                name,
                url: format!("nats://127.0.0.1:{port}"),
                monitor_port: *monitor_port,
                pid: 0,
                guard: None,
                dir,
                config,
            };
            server.spawn()?;
            servers.push(server);
        }
        for s in &servers {
            s.wait_ready(Duration::from_secs(60))?;
        }
        Ok(NatsCluster { servers })
    }

    /// Every server's URL.
    pub fn urls(&self) -> Vec<String> {
        self.servers.iter().map(|s| s.url.clone()).collect()
    }
}
