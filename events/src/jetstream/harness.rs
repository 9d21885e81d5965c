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

/// Why a server did not come up.
enum StartError {
    /// It died before it was ready; most often another process took one of
    /// its ports between [`free_port`] releasing it and the server binding
    /// it (the machine is shared), so starting again on fresh ports helps.
    Died(String),
    /// Anything else (no binary, not ready in time).
    Other(HarnessError),
}

impl StartError {
    fn into_harness(self) -> HarnessError {
        match self {
            StartError::Died(why) => HarnessError(why),
            StartError::Other(e) => e,
        }
    }
}

impl From<HarnessError> for StartError {
    fn from(e: HarnessError) -> StartError {
        StartError::Other(e)
    }
}

/// Polls every server's `/healthz` until all report ok; a server that
/// died meanwhile ends the wait at once ([`StartError::Died`]), whichever
/// server it is.
fn wait_all_ready(servers: &[NatsServer], limit: Duration) -> Result<(), StartError> {
    let until = Instant::now() + limit;
    let mut ready = vec![false; servers.len()];
    loop {
        for (s, ready) in servers.iter().zip(ready.iter_mut()) {
            *ready = *ready || s.healthy();
            if !*ready && !s.running() {
                return Err(StartError::Died(format!(
                    "{} exited before it was ready; its log:\n{}",
                    s.name,
                    s.log()
                )));
            }
        }
        if ready.iter().all(|r| *r) {
            return Ok(());
        }
        if let Some(s) = servers
            .iter()
            .zip(&ready)
            .find_map(|(s, r)| (!r && Instant::now() > until).then_some(s))
        {
            return Err(StartError::Other(HarnessError(format!(
                "{} not ready after {limit:?}; its log:\n{}",
                s.name,
                s.log()
            ))));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// How many times a start is tried on fresh ports when a server dies
/// before it is ready.
const START_ATTEMPTS: usize = 5;

/// Runs `start` until it succeeds, fails otherwise than by a server dying,
/// or [`START_ATTEMPTS`] attempts have died (logged to stderr, which the
/// test prints on failure).
fn with_fresh_ports<T>(
    what: &str,
    mut start: impl FnMut() -> Result<T, StartError>,
) -> Result<T, HarnessError> {
    let mut attempt = 1;
    loop {
        match start() {
            Ok(started) => return Ok(started),
            Err(StartError::Died(why)) if attempt < START_ATTEMPTS => {
                eprintln!("{what}: attempt {attempt} failed, starting again on fresh ports: {why}");
                attempt += 1;
            }
            Err(e) => return Err(e.into_harness()),
        }
    }
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
        with_fresh_ports("nats-server", || NatsServer::try_start(max_payload))
    }

    fn try_start(max_payload: usize) -> Result<NatsServer, StartError> {
        let mut server = NatsServer::single(free_port()?, free_port()?, max_payload)?;
        server.spawn()?;
        server.wait_ready_or_died(Duration::from_secs(30))?;
        Ok(server)
    }

    /// A stand-alone server's configuration (not started).
    fn single(
        port: u16,
        monitor_port: u16,
        max_payload: usize,
    ) -> Result<NatsServer, HarnessError> {
        let dir = temp_dir("single")?;
        let config = format!(
            "server_name: n1\nlisten: 127.0.0.1:{port}\nhttp: 127.0.0.1:{monitor_port}\n\
             max_payload: {max_payload}\njetstream {{ store_dir: \"{}\" }}\n",
            dir.join("store").display()
        );
        let server = NatsServer {
            name: "n1".into(),
            url: format!("nats://127.0.0.1:{port}"),
            monitor_port,
            pid: 0,
            guard: None,
            dir,
            config,
        };
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
    /// Gives up early when the server has died (it could not bind a port,
    /// for instance): the error says so, and [`StartError::Died`] lets a
    /// caller start again on fresh ports.
    pub fn wait_ready(&self, limit: Duration) -> Result<(), HarnessError> {
        self.wait_ready_or_died(limit)
            .map_err(StartError::into_harness)
    }

    fn wait_ready_or_died(&self, limit: Duration) -> Result<(), StartError> {
        wait_all_ready(std::slice::from_ref(self), limit)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// Whether the server process is still running: not gone and not a
    /// zombie (the guard shell reaps it only when the test ends), and its
    /// log shows no fatal error (nats-server logs `[FTL]` before exiting,
    /// e.g. when another process took its port).
    fn running(&self) -> bool {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid));
        let alive = match stat {
            // The state follows the parenthesised command name.
            Ok(stat) => stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z" && state != "X"),
            // No /proc (not Linux): judge by the log alone.
            Err(_) => !std::path::Path::new("/proc/self").exists(),
        };
        alive && !self.log().contains("[FTL]")
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
    ///
    /// A server that dies before it is ready (a port taken by another
    /// process in the meantime) makes the whole cluster start again on
    /// fresh ports, a bounded number of times.
    pub fn start(n: usize) -> Result<NatsCluster, HarnessError> {
        with_fresh_ports("nats cluster", || NatsCluster::try_start(n))
    }

    fn try_start(n: usize) -> Result<NatsCluster, StartError> {
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
        // Dropping `servers` on an error stops the ones that did start.
        wait_all_ready(&servers, Duration::from_secs(60))?;
        Ok(NatsCluster { servers })
    }

    /// Every server's URL.
    pub fn urls(&self) -> Vec<String> {
        self.servers.iter().map(|s| s.url.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_whose_port_is_taken_is_reported_dead_at_once() {
        // Given another process holding the port the server is told to use,
        let taken = TcpListener::bind("127.0.0.1:0").expect("a port");
        let port = taken.local_addr().expect("its address").port();
        let mut server =
            NatsServer::single(port, free_port().expect("a port"), TEST_MAX_PAYLOAD).expect("dir");
        server.spawn().expect("nats-server runs");
        // when waiting for it (with a limit far beyond the test's time),
        // then the wait ends as soon as it died, saying why.
        match server.wait_ready_or_died(Duration::from_secs(600)) {
            Err(StartError::Died(why)) => assert!(why.contains("[FTL]"), "{why}"),
            Err(StartError::Other(e)) => panic!("not reported dead: {e}"),
            Ok(()) => panic!("ready on a taken port"),
        }
    }

    #[test]
    fn a_start_whose_server_died_is_tried_again_a_bounded_number_of_times() {
        // Given starts that die twice, then succeed: the third is returned.
        let mut tries = 0;
        let started = with_fresh_ports("test", || {
            tries += 1;
            if tries < 3 {
                Err(StartError::Died("port taken".into()))
            } else {
                Ok(tries)
            }
        });
        assert_eq!(started.expect("started"), 3);
        // Given starts that always die: given up after START_ATTEMPTS.
        let mut tries = 0;
        let started: Result<(), _> = with_fresh_ports("test", || {
            tries += 1;
            Err(StartError::Died("port taken".into()))
        });
        assert!(started.is_err());
        assert_eq!(tries, START_ATTEMPTS);
        // Given another failure: not tried again.
        let mut tries = 0;
        let started: Result<(), _> = with_fresh_ports("test", || {
            tries += 1;
            Err(StartError::Other(HarnessError("no binary".into())))
        });
        assert!(started.is_err());
        assert_eq!(tries, 1);
    }
}
