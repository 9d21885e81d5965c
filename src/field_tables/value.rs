//! The value type fields travel in: switchboard's postcard-friendly JSON.

pub use switchboard_events::{Fields, Value};
