//! Progress of long log operations (migration, index rebuild), reported to
//! whoever opened the log: the binary draws a bar, tests stay silent.

use std::sync::Arc;

/// One progress report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressEvent<'a> {
    /// A step begins; `total` is in the step's unit (records or bytes).
    Start {
        /// What is being done, for people.
        what: &'a str,
        /// How much there is to do.
        total: u64,
    },
    /// How much of the current step is done.
    Advance(u64),
    /// The current step is done.
    Finish,
}

/// A receiver of progress reports.
pub type ProgressFn = dyn Fn(ProgressEvent<'_>) + Send + Sync;

/// Where progress goes (nowhere by default).
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<ProgressFn>>);

impl Progress {
    /// Reports to `f`.
    pub fn to(f: impl Fn(ProgressEvent<'_>) + Send + Sync + 'static) -> Progress {
        Progress(Some(Arc::new(f)))
    }

    /// Reports nothing.
    pub fn none() -> Progress {
        Progress(None)
    }

    /// Reports one event.
    pub fn report(&self, event: ProgressEvent<'_>) {
        if let Some(f) = &self.0 {
            f(event);
        }
    }

    /// Starts a step.
    pub fn start(&self, what: &str, total: u64) {
        self.report(ProgressEvent::Start { what, total });
    }

    /// Advances the current step.
    pub fn advance(&self, done: u64) {
        self.report(ProgressEvent::Advance(done));
    }

    /// Ends the current step.
    pub fn finish(&self) {
        self.report(ProgressEvent::Finish);
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(reported)"
        } else {
            "Progress(none)"
        })
    }
}
