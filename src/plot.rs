//! Small, dependency-free SVG plots for reports: lines, steps and points on linear or
//! logarithmic axes, with ticks, grid and a legend. The output is a self-contained `<svg>`
//! element (no scripts, no external fonts or links), safe to inline in an HTML page.

use std::fmt::Write as _;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Straight segments between points.
    Line,
    /// A staircase (for empirical distribution functions).
    Step,
    /// Markers only.
    Points,
    /// Dashed segments (for models drawn over measurements).
    Dashed,
}

/// One named series.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// (x, y) points in data units.
    pub points: Vec<(f64, f64)>,
    /// Drawing style.
    pub style: Style,
}

/// An axis.
#[derive(Debug, Clone)]
pub struct Axis {
    /// Label under (x) or beside (y) the axis.
    pub label: String,
    /// Logarithmic scale (base 10). Non-positive values are left out.
    pub log: bool,
}

/// A plot.
#[derive(Debug, Clone)]
pub struct Plot {
    /// Title above the plot.
    pub title: String,
    /// Horizontal axis.
    pub x: Axis,
    /// Vertical axis.
    pub y: Axis,
    /// Series, drawn in order.
    pub series: Vec<Series>,
}

const W: f64 = 720.0;
const H: f64 = 420.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 56.0;
const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// Escapes text for XML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

struct Scale {
    lo: f64,
    hi: f64,
    log: bool,
    from: f64,
    to: f64,
}

impl Scale {
    fn new(values: impl Iterator<Item = f64>, log: bool, from: f64, to: f64) -> Scale {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if !lo.is_finite() {
            (lo, hi) = if log { (1.0, 10.0) } else { (0.0, 1.0) };
        }
        if log {
            lo = 10f64.powf(lo.log10().floor());
            hi = 10f64.powf(hi.log10().ceil());
            if hi <= lo {
                hi = lo * 10.0;
            }
        } else {
            if hi <= lo {
                hi = lo + 1.0;
            }
            let step = nice_step((hi - lo) / 5.0);
            lo = (lo / step).floor() * step;
            hi = (hi / step).ceil() * step;
        }
        Scale {
            lo,
            hi,
            log,
            from,
            to,
        }
    }

    fn map(&self, v: f64) -> Option<f64> {
        if !v.is_finite() || (self.log && v <= 0.0) {
            return None;
        }
        let f = if self.log {
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        Some(self.from + f * (self.to - self.from))
    }

    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let (a, b) = (
                self.lo.log10().round() as i32,
                self.hi.log10().round() as i32,
            );
            let every = ((b - a) / 8).max(1);
            (a..=b)
                .step_by(every as usize)
                .map(|e| 10f64.powi(e))
                .collect()
        } else {
            let step = nice_step((self.hi - self.lo) / 5.0);
            let n = ((self.hi - self.lo) / step).round() as i64;
            (0..=n).map(|i| self.lo + i as f64 * step).collect()
        }
    }
}

fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    mag * if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    }
}

/// Formats a tick value compactly.
pub fn tick_label(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".into()
    } else if !(1e-3..1e6).contains(&a) {
        let e = a.log10().floor() as i32;
        let m = v / 10f64.powi(e);
        if (m - m.round()).abs() < 1e-9 && m.round() == 1.0 {
            format!("1e{e}")
        } else {
            format!("{m:.1}e{e}")
        }
    } else if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

impl Plot {
    /// Renders the plot as one `<svg>` element.
    pub fn to_svg(&self) -> String {
        let xs = Scale::new(
            self.series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.0)),
            self.x.log,
            LEFT,
            W - RIGHT,
        );
        let ys = Scale::new(
            self.series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1)),
            self.y.log,
            H - BOTTOM,
            TOP,
        );
        let mut o = String::new();
        let _ = write!(
            o,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" font-family="sans-serif" font-size="12" role="img" aria-label="{}">"#,
            escape(&self.title)
        );
        let _ = write!(o, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
        let _ = write!(
            o,
            r#"<text x="{}" y="20" text-anchor="middle" font-size="14" font-weight="bold">{}</text>"#,
            W / 2.0,
            escape(&self.title)
        );
        for t in xs.ticks() {
            if let Some(x) = xs.map(t) {
                let _ = write!(
                    o,
                    r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{}" stroke="#e5e5e5"/><text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"##,
                    H - BOTTOM,
                    H - BOTTOM + 16.0,
                    tick_label(t)
                );
            }
        }
        for t in ys.ticks() {
            if let Some(y) = ys.map(t) {
                let _ = write!(
                    o,
                    r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                    W - RIGHT,
                    LEFT - 6.0,
                    y + 4.0,
                    tick_label(t)
                );
            }
        }
        let _ = write!(
            o,
            r##"<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="none" stroke="#333"/>"##,
            W - LEFT - RIGHT,
            H - TOP - BOTTOM
        );
        let _ = write!(
            o,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            (LEFT + W - RIGHT) / 2.0,
            H - 14.0,
            escape(&self.x.label)
        );
        let _ = write!(
            o,
            r#"<text x="16" y="{0}" text-anchor="middle" transform="rotate(-90 16 {0})">{1}</text>"#,
            (TOP + H - BOTTOM) / 2.0,
            escape(&self.y.label)
        );
        for (i, s) in self.series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter_map(|&(x, y)| Some((xs.map(x)?, ys.map(y)?)))
                .collect();
            if pts.is_empty() {
                continue;
            }
            match s.style {
                Style::Points => {
                    for (x, y) in &pts {
                        let _ = write!(
                            o,
                            r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{color}"/>"#
                        );
                    }
                }
                Style::Line | Style::Dashed | Style::Step => {
                    let mut d = String::new();
                    for (j, (x, y)) in pts.iter().enumerate() {
                        if j == 0 {
                            let _ = write!(d, "M{x:.1},{y:.1}");
                        } else if s.style == Style::Step {
                            let _ = write!(d, " H{x:.1} V{y:.1}");
                        } else {
                            let _ = write!(d, " L{x:.1},{y:.1}");
                        }
                    }
                    let dash = if s.style == Style::Dashed {
                        r#" stroke-dasharray="6 4""#
                    } else {
                        ""
                    };
                    let _ = write!(
                        o,
                        r#"<path d="{d}" fill="none" stroke="{color}" stroke-width="1.8"{dash}/>"#
                    );
                }
            }
            let ly = TOP + 14.0 + 16.0 * i as f64;
            let lx = W - RIGHT - 220.0;
            let _ = write!(
                o,
                r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
                lx + 18.0,
                lx + 24.0,
                ly + 4.0,
                escape(&s.label)
            );
        }
        o.push_str("</svg>");
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axes_drop_non_positive_points_and_render_every_series() {
        let p = Plot {
            title: "a < b".into(),
            x: Axis {
                label: "latency (µs)".into(),
                log: true,
            },
            y: Axis {
                label: "P(X > x)".into(),
                log: true,
            },
            series: vec![
                Series {
                    label: "measured".into(),
                    points: vec![(0.0, 1.0), (1.0, 1.0), (10.0, 0.1), (100.0, 0.001)],
                    style: Style::Step,
                },
                Series {
                    label: "model".into(),
                    points: vec![(1.0, 1.0), (100.0, 0.002)],
                    style: Style::Dashed,
                },
            ],
        };
        let svg = p.to_svg();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("a &lt; b"));
        assert_eq!(svg.matches("<path").count(), 2);
        assert!(svg.contains("stroke-dasharray"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(nice_step(0.37), 0.5);
        assert_eq!(nice_step(130.0), 200.0);
        assert_eq!(tick_label(1e-6), "1e-6");
        assert_eq!(tick_label(2500.0), "2500");
        assert_eq!(tick_label(0.25), "0.25");
    }
}
