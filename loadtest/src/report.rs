//! What a run measured: printed, written as `summary.json` and
//! `report.html` (with the latency percentile curve and throughput and p99
//! over time), and compared with another run's summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::check::Consistency;
use crate::client::Http;
use crate::scenario::Scenario;
use crate::svg::{Axes, Series, escape, line_chart};

/// One run's figures (`summary.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub scenario: Scenario,
    pub http: Http,
    pub connections: usize,
    /// Requests per second scheduled (open loop); `None`: closed loop.
    pub rate: Option<f64>,
    /// Seconds measured (after the warm-up).
    pub seconds: u64,
    pub started_unix_ms: u64,
    pub server: String,
    /// Requests answered inside the measured window.
    pub requests: u64,
    pub per_second: f64,
    /// Every request, from its intended send time (open loop) or its send (closed loop).
    pub latency_us: Percentiles,
    /// The same per kind of request.
    pub kinds: BTreeMap<String, KindFigures>,
    /// Open loop: how late requests left against the schedule (the load
    /// generator's own lag, included in the latencies).
    pub send_lag_us: Option<Percentiles>,
    /// Requests sent again after a transport failure (same id: idempotent).
    pub transport_retries: u64,
    /// (quantile, µs) along the whole distribution.
    pub curve: Vec<(f64, f64)>,
    /// Throughput and p99 per second of the measured window.
    pub timeline: Vec<Second>,
    pub consistency: Consistency,
}

/// Latency percentiles in microseconds.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Percentiles {
    /// Of a histogram of nanoseconds.
    pub fn of(histogram: &Histogram<u64>) -> Percentiles {
        let us = |nanos: u64| nanos as f64 / 1_000.0;
        Percentiles {
            p50: us(histogram.value_at_quantile(0.5)),
            p90: us(histogram.value_at_quantile(0.9)),
            p99: us(histogram.value_at_quantile(0.99)),
            p999: us(histogram.value_at_quantile(0.999)),
            max: us(histogram.max()),
        }
    }
}

/// One kind of request's figures.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct KindFigures {
    pub requests: u64,
    pub latency_us: Percentiles,
}

/// One second of the measured window.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Second {
    pub second: u64,
    pub requests: u64,
    pub p99_us: f64,
}

/// The quantiles the curve is drawn through.
const CURVE: [f64; 13] = [
    0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99999, 1.0,
];

/// (quantile, µs) along `histogram`.
pub fn curve(histogram: &Histogram<u64>) -> Vec<(f64, f64)> {
    CURVE
        .iter()
        .map(|&q| (q, histogram.value_at_quantile(q) as f64 / 1_000.0))
        .collect()
}

/// A quantile as "nines" (0.99 → 2), the percentile plot's x axis; the
/// maximum is drawn at 5.
fn nines(quantile: f64) -> f64 {
    if quantile >= 1.0 {
        5.0
    } else {
        (-(1.0 - quantile).log10()).min(5.0)
    }
}

fn line(what: &str, p: &Percentiles) -> String {
    format!(
        "{what}: p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs",
        p.p50, p.p90, p.p99, p.p999, p.max
    )
}

/// The summary on standard output.
pub fn print(summary: &Summary) {
    println!(
        "requests {} ({:?}) in {} s: {:.0} req/s",
        summary.requests, summary.scenario, summary.seconds, summary.per_second
    );
    println!("{}", line("all requests, request to reply", &summary.latency_us));
    for (kind, figures) in &summary.kinds {
        println!("{} ({} requests)", line(kind, &figures.latency_us), figures.requests);
    }
    if let Some(lag) = &summary.send_lag_us {
        println!("{}", line("open loop send lag (included above)", lag));
    }
    if summary.transport_retries > 0 {
        println!("transport retries: {}", summary.transport_retries);
    }
    let consistency = &summary.consistency;
    println!(
        "consistency: {} player(s), {} acknowledged movement(s), {} mismatch(es)",
        consistency.players,
        consistency.acknowledged,
        consistency.mismatches.len()
    );
    if consistency.read_model_wait_ms > 0 {
        println!(
            "the check waited {:.1} s for the server's read model to catch up",
            consistency.read_model_wait_ms as f64 / 1000.0
        );
    }
}

/// Writes `summary.json` and `report.html` into `dir`.
pub fn write(dir: &Path, summary: &Summary) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let json = serde_json::to_string_pretty(summary)?;
    std::fs::write(dir.join("summary.json"), json).context("writing summary.json")?;
    std::fs::write(dir.join("report.html"), html(summary)).context("writing report.html")?;
    Ok(())
}

/// The HTML report: the figures and three charts, self-contained.
pub fn html(summary: &Summary) -> String {
    let title = format!(
        "croupier-loadtest: {:?}, {} connection(s), {}",
        summary.scenario,
        summary.connections,
        summary.rate.map_or("closed loop".to_string(), |rate| format!(
            "open loop at {rate:.0} req/s"
        ))
    );
    let percentiles = line_chart(
        &Axes {
            title: "Latency by percentile",
            x_label: "percentile",
            y_label: "latency (µs)",
            x_ticks: [
                (0.0, "p0"),
                (1.0, "p90"),
                (2.0, "p99"),
                (3.0, "p99.9"),
                (4.0, "p99.99"),
                (5.0, "max"),
            ]
            .map(|(x, label)| (x, label.to_string()))
            .to_vec(),
        },
        &[Series {
            name: "all requests",
            color: "#1f6feb",
            points: summary.curve.iter().map(|&(q, us)| (nines(q), us)).collect(),
        }],
    );
    let seconds_ticks: Vec<(f64, String)> = summary
        .timeline
        .iter()
        .step_by((summary.timeline.len() / 10).max(1))
        .map(|s| (s.second as f64, s.second.to_string()))
        .collect();
    let throughput = line_chart(
        &Axes {
            title: "Throughput over time",
            x_label: "second",
            y_label: "requests/s",
            x_ticks: seconds_ticks.clone(),
        },
        &[Series {
            name: "req/s",
            color: "#2da44e",
            points: summary
                .timeline
                .iter()
                .map(|s| (s.second as f64, s.requests as f64))
                .collect(),
        }],
    );
    let p99 = line_chart(
        &Axes {
            title: "p99 latency over time",
            x_label: "second",
            y_label: "p99 (µs)",
            x_ticks: seconds_ticks,
        },
        &[Series {
            name: "p99",
            color: "#cf222e",
            points: summary.timeline.iter().map(|s| (s.second as f64, s.p99_us)).collect(),
        }],
    );
    let mut rows = String::new();
    let mut row = |what: &str, requests: u64, p: &Percentiles| {
        let _ = write!(
            rows,
            "<tr><th scope=\"row\">{}</th><td>{requests}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td></tr>",
            escape(what),
            p.p50,
            p.p90,
            p.p99,
            p.p999,
            p.max
        );
    };
    row("all", summary.requests, &summary.latency_us);
    for (kind, figures) in &summary.kinds {
        row(kind, figures.requests, &figures.latency_us);
    }
    let consistency = &summary.consistency;
    let verdict = if consistency.mismatches.is_empty() {
        format!(
            "every one of {} player balances equals what the {} acknowledged movements imply",
            consistency.players, consistency.acknowledged
        )
    } else {
        format!(
            "{} player balance(s) differ from the acknowledged replies",
            consistency.mismatches.len()
        )
    };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:sans-serif;max-width:760px;margin:1em auto;padding:0 1em}}table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:4px;text-align:right}}th[scope=row]{{text-align:left}}svg{{width:100%;height:auto}}</style>
</head><body>
<h1>{title}</h1>
<p>{requests} requests in {seconds} s measured: <strong>{per_second:.0} req/s</strong> over {http:?} against {server}.</p>
<p>Consistency: {verdict}.</p>
<table><thead><tr><th scope="col">kind</th><th scope="col">requests</th><th scope="col">p50 µs</th><th scope="col">p90 µs</th><th scope="col">p99 µs</th><th scope="col">p99.9 µs</th><th scope="col">max µs</th></tr></thead><tbody>{rows}</tbody></table>
<figure>{percentiles}</figure>
<figure>{throughput}</figure>
<figure>{p99}</figure>
</body></html>
"#,
        title = escape(&title),
        requests = summary.requests,
        seconds = summary.seconds,
        per_second = summary.per_second,
        http = summary.http,
        server = escape(&summary.server),
    )
}

fn read(path: &Path) -> Result<Summary> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a croupier-loadtest summary", path.display()))
}

/// Prints b's figures over a's, side by side.
pub fn compare(a: &Path, b: &Path) -> Result<()> {
    let (a, b) = (read(a)?, read(b)?);
    println!("{:<16} {:>12} {:>12} {:>8}", "figure", "a", "b", "b / a");
    let row = |name: &str, x: f64, y: f64| {
        let ratio = if x == 0.0 {
            "-".to_string()
        } else {
            format!("{:.2}", y / x)
        };
        println!("{name:<16} {x:>12.1} {y:>12.1} {ratio:>8}");
    };
    row("req/s", a.per_second, b.per_second);
    for (name, x, y) in [
        ("p50 µs", a.latency_us.p50, b.latency_us.p50),
        ("p90 µs", a.latency_us.p90, b.latency_us.p90),
        ("p99 µs", a.latency_us.p99, b.latency_us.p99),
        ("p99.9 µs", a.latency_us.p999, b.latency_us.p999),
        ("max µs", a.latency_us.max, b.latency_us.max),
    ] {
        row(name, x, y);
    }
    for (kind, figures) in &a.kinds {
        if let Some(other) = b.kinds.get(kind) {
            row(&format!("{kind} p50 µs"), figures.latency_us.p50, other.latency_us.p50);
            row(&format!("{kind} p99 µs"), figures.latency_us.p99, other.latency_us.p99);
        }
    }
    if a.scenario != b.scenario || a.connections != b.connections || a.rate != b.rate || a.http != b.http {
        println!(
            "note: the runs differ in set-up (a: {:?}, {} conn., {:?}, rate {:?}; b: {:?}, {} conn., {:?}, rate {:?})",
            a.scenario, a.connections, a.http, a.rate, b.scenario, b.connections, b.http, b.rate
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nines_spread_the_tail() {
        assert_eq!(nines(0.0), 0.0);
        assert!((nines(0.99) - 2.0).abs() < 1e-9);
        assert!((nines(0.999) - 3.0).abs() < 1e-9);
        assert_eq!(nines(1.0), 5.0);
    }
}
