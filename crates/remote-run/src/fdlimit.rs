//! Keeping a wide fan-out inside the open-file limit. Each host in flight
//! holds about four descriptors here (two pipes being read, and briefly the
//! child's ends while it starts); running out mid-run would turn healthy
//! hosts into spawn failures, so parallelism is lowered up front instead.

/// Descriptors each running host needs, with room to spare.
const PER_HOST: u64 = 4;
/// Left for stdin/stdout/stderr, the output file and the runtime.
const RESERVED: u64 = 32;

/// The soft `Max open files` limit from /proc/self/limits.
fn soft_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_soft_limit(&limits)
}

fn parse_soft_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `parallel`, lowered (with a warning) to what the descriptor limit allows.
pub fn bounded_parallelism(parallel: usize) -> usize {
    let Some(limit) = soft_limit() else {
        return parallel;
    };
    let allowed = (limit.saturating_sub(RESERVED) / PER_HOST).max(1) as usize;
    if parallel > allowed {
        secops_common::warn!(
            "--parallel {parallel} needs about {} open files but the limit is {limit}; running {allowed} at once (raise it with ulimit -n)",
            parallel as u64 * PER_HOST + RESERVED
        );
        return allowed;
    }
    parallel
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_soft_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max processes             63408                63408                processes\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(parse_soft_limit(limits), Some(1024));
        assert_eq!(
            parse_soft_limit("Max open files  unlimited  unlimited  files"),
            None
        );
    }
}
