//! The segment log runs the backend conformance suite, with the default
//! segment size and with tiny segments (so nearly every frame starts a new
//! segment file and every read crosses segment boundaries), both with the
//! pipelined writer, and with the default, unpipelined one (one thread
//! frames, writes, syncs and acknowledges).

use std::future::Future;
use switchboard_events::conformance::LogFactory;
use switchboard_events::{LogConfig, SegmentLog};

/// Segment logs in temporary data directories.
struct Segments {
    segment_bytes: u64,
    pipeline: bool,
    dirs: parking_lot::Mutex<Vec<tempfile::TempDir>>,
}

impl Segments {
    fn new(segment_bytes: u64) -> Segments {
        Segments {
            segment_bytes,
            pipeline: true,
            dirs: parking_lot::Mutex::new(Vec::new()),
        }
    }
}

impl LogFactory for Segments {
    type Log = SegmentLog;

    fn create(&self) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data").to_string_lossy().into_owned();
        self.dirs.lock().push(dir);
        data
    }

    fn open(&self, location: &str) -> impl Future<Output = SegmentLog> + Send {
        let mut config = LogConfig::new(location);
        config.segment_bytes = self.segment_bytes;
        config.pipeline = self.pipeline;
        async move { SegmentLog::open(config).expect("the log opens") }
    }
}

mod default_segments {
    use super::*;
    switchboard_events::conformance_suite!(Segments::new(
        switchboard_events::segment_log::DEFAULT_SEGMENT_BYTES
    ));
}

mod tiny_segments {
    use super::*;
    switchboard_events::conformance_suite!(Segments::new(4096));
}

mod unpipelined {
    use super::*;
    switchboard_events::conformance_suite!(Segments {
        pipeline: false,
        ..Segments::new(switchboard_events::segment_log::DEFAULT_SEGMENT_BYTES)
    });
}
