//! Printing latency histograms the same way in every mode.

use hdrhistogram::Histogram;

/// One line: p50, p90, p99, p99.9 and max of a histogram of nanoseconds, in µs.
pub fn print_latencies(what: &str, latencies: &Histogram<u64>) {
    let us = |nanos: u64| nanos as f64 / 1_000.0;
    println!(
        "{what}: p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs",
        us(latencies.value_at_quantile(0.5)),
        us(latencies.value_at_quantile(0.9)),
        us(latencies.value_at_quantile(0.99)),
        us(latencies.value_at_quantile(0.999)),
        us(latencies.max())
    );
}
