//! Small line charts as standalone SVG, for the HTML report: a few
//! polylines on labelled axes are all it needs, and writing them keeps the
//! load tester free of a plotting stack and its fonts.

use std::fmt::Write;

/// One line of a chart.
pub struct Series<'a> {
    pub name: &'a str,
    pub color: &'a str,
    /// (x, y) in data units, in x order.
    pub points: Vec<(f64, f64)>,
}

/// What the axes say.
pub struct Axes<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    /// Where to put x tick labels (data units) and what they read.
    pub x_ticks: Vec<(f64, String)>,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 48.0;

/// An SVG element with `series` drawn on `axes`; y starts at 0.
pub fn line_chart(axes: &Axes<'_>, series: &[Series<'_>]) -> String {
    let all = || series.iter().flat_map(|s| s.points.iter());
    let x_min = all().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let x_max = all().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let y_max = nice_ceiling(all().map(|p| p.1).fold(0.0, f64::max));
    let (x_min, x_max) = if x_min.is_finite() && x_max > x_min {
        (x_min, x_max)
    } else {
        (0.0, 1.0)
    };
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let sx = |x: f64| LEFT + (x - x_min) / (x_max - x_min) * plot_w;
    let sy = |y: f64| TOP + plot_h - y / y_max * plot_h;

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}" font-family="sans-serif" font-size="12">"#,
        title = escape(axes.title)
    );
    let _ = write!(
        svg,
        r#"<text x="{LEFT}" y="20" font-size="14" font-weight="bold">{}</text>"#,
        escape(axes.title)
    );
    // Horizontal grid lines with their values.
    for step in 0..=4 {
        let value = y_max * f64::from(step) / 4.0;
        let y = sy(value);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{tx}" y="{ty:.1}" text-anchor="end">{value}</text>"##,
            x2 = WIDTH - RIGHT,
            tx = LEFT - 6.0,
            ty = y + 4.0,
            value = short(value)
        );
    }
    for (x, label) in &axes.x_ticks {
        let _ = write!(
            svg,
            r##"<line x1="{px:.1}" x2="{px:.1}" y1="{TOP}" y2="{bottom}" stroke="#eee"/><text x="{px:.1}" y="{ty}" text-anchor="middle">{label}</text>"##,
            px = sx(*x),
            bottom = TOP + plot_h,
            ty = TOP + plot_h + 16.0,
            label = escape(label)
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{cx}" y="{y}" text-anchor="middle">{}</text><text transform="translate(14 {cy}) rotate(-90)" text-anchor="middle">{}</text>"#,
        escape(axes.x_label),
        escape(axes.y_label),
        cx = LEFT + plot_w / 2.0,
        y = HEIGHT - 8.0,
        cy = TOP + plot_h / 2.0
    );
    for (n, line) in series.iter().enumerate() {
        let points: Vec<String> = line
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"><title>{name}</title></polyline><text x="{lx}" y="{ly}" fill="{color}">{name}</text>"#,
            color = line.color,
            points = points.join(" "),
            name = escape(line.name),
            lx = WIDTH - RIGHT - 160.0,
            ly = TOP + 14.0 + 14.0 * n as f64
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The smallest 1, 2 or 5 × 10^k at or above `value` (at least 1).
fn nice_ceiling(value: f64) -> f64 {
    if value <= 1.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&candidate| candidate >= value)
        .unwrap_or(10.0 * magnitude)
}

fn short(value: f64) -> String {
    if value >= 10_000.0 {
        format!("{:.0}k", value / 1_000.0)
    } else if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// Text safe inside SVG/HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_one_svg_with_a_polyline_per_series_inside_its_plot_area() {
        let axes = Axes {
            title: "latency <p99>",
            x_label: "percentile",
            y_label: "µs",
            x_ticks: vec![(0.0, "p0".into()), (2.0, "p99".into())],
        };
        let svg = line_chart(
            &axes,
            &[
                Series {
                    name: "a",
                    color: "#c00",
                    points: vec![(0.0, 10.0), (1.0, 20.0), (2.0, 130.0)],
                },
                Series {
                    name: "b",
                    color: "#00c",
                    points: vec![(0.0, 5.0), (2.0, 50.0)],
                },
            ],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("latency &lt;p99&gt;"), "titles are escaped");
        // y runs to the nice ceiling of 130 (200): the top point sits inside the plot.
        assert!(svg.contains(">200<"));
        for point in svg.split("points=\"").skip(1) {
            for pair in point.split('"').next().unwrap().split(' ') {
                let (x, y) = pair.split_once(',').unwrap();
                let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
                assert!((LEFT..=WIDTH - RIGHT).contains(&x) && (TOP..=HEIGHT - BOTTOM).contains(&y));
            }
        }
    }

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0.3), 1.0);
        assert_eq!(nice_ceiling(130.0), 200.0);
        assert_eq!(nice_ceiling(4_100.0), 5_000.0);
        assert_eq!(nice_ceiling(10_000.0), 10_000.0);
    }
}
