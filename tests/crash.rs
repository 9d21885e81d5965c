//! Crash safety of the log: SIGKILL a process that is appending from many
//! writers, reopen, and find every acknowledged offset readable and intact.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use switchboard_events::verify::verify_records;
use switchboard_events::{Event, EventLog, LogConfig, SledLog};

#[test]
fn every_acknowledged_append_survives_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    for round in 0..3 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args([
                "log",
                "stress",
                "--writers",
                "16",
                "--appends",
                "0",
                "--batch",
                "3",
            ])
            .arg("--data-dir")
            .arg(&data)
            .env("SWITCHBOARD_LOG_LEVEL", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the appender");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Let it run, collecting acknowledgements, then kill it mid-flight.
        let mut acked: Vec<(u64, u64)> = Vec::new();
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(700 + 300 * round) {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(50)) {
                acked.push(parse(&line));
            }
        }
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        // Acknowledgements already printed before the kill count too.
        while let Ok(line) = rx.try_recv() {
            acked.push(parse(&line));
        }
        let _ = reader.join();
        assert!(
            acked.len() > 10,
            "round {round}: the appender made progress ({})",
            acked.len()
        );

        let log = SledLog::open(LogConfig::new(&data)).expect("reopens after SIGKILL");
        let max = acked.iter().map(|a| a.1).max().expect("some");
        assert!(
            log.head() >= max,
            "round {round}: head {} < acknowledged {max}",
            log.head()
        );
        for (first, last) in &acked {
            assert_eq!(last - first, 2, "a batch of 3 is contiguous");
            for offset in *first..=*last {
                let env = log
                    .get(offset)
                    .expect("reads")
                    .expect("acknowledged offset present");
                Event::from_envelope(&env).expect("decodes");
            }
        }
        let report = verify_records(log.raw_records(1), |_| {}).expect("whole log verifies");
        assert_eq!(report.count, log.head(), "dense from 1");
        assert_eq!(report.count % 3, 0, "batches landed whole");
        drop(log);
    }
}

fn parse(line: &str) -> (u64, u64) {
    let mut parts = line.split_whitespace();
    assert_eq!(parts.next(), Some("acked"), "line {line:?}");
    let a = parts.next().and_then(|s| s.parse().ok()).expect("first");
    let b = parts.next().and_then(|s| s.parse().ok()).expect("last");
    (a, b)
}
