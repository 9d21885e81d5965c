//! CPU time from `/proc/.../stat`, shared by the benches that report it.

use std::time::Duration;

/// utime + stime from a `/proc/.../stat` line (USER_HZ = 100 on Linux).
pub fn stat_cpu(stat: &str) -> Duration {
    // Fields after the parenthesised command name, which may contain spaces.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); utime and stime are fields 14 and 15.
    let ticks = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(14) + ticks(15)) * 10)
}
