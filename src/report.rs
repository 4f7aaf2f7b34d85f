//! `latlab report`: one self-contained HTML page for a run directory.
//!
//! [`load`] reads the run directory (manifest, summary, every probe's `.hlog`, calibrations,
//! and whatever other JSON results are there); [`render`] turns that into the page without any
//! I/O, so the page is a function of the files alone and the same run always gives the same
//! bytes. The page has inline CSS and inline SVG plots ([`crate::plot`]), no scripts, and a
//! Content-Security-Policy that forbids every fetch: it reads the same from a laptop, a CI
//! artifact store or an air-gapped lab. Every string taken from a file is HTML-escaped.
//!
//! JSON the report does not know (a newer calibration, `model.json`, queue results) is shown
//! generically, as nested key/value tables in the file's own key order, rather than dropped.

use std::fmt::{self, Write as _};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use hdrhistogram::Histogram;
use latlab_probes::manifest::{LoopMode, ProbeSummary, SignedStats, Summary};
use latlab_probes::record::{new_histogram, read_hlog, Stats};
use latlab_probes::rundir::write_atomic;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::output::human_ns;
use crate::plot::{Axis, Plot, Series, Style};

/// Arguments of `latlab report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run directory to report on (written by `latlab lab` or `latlab probe rtt`).
    #[arg(value_name = "RUN_DIR")]
    pub run: PathBuf,
    /// Write the page here instead of RUN_DIR/report.html (`-`: to stdout).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Open the page in the desktop's browser (xdg-open) once it is written.
    #[arg(long)]
    pub open: bool,
}

/// Writes the report of `a.run`.
pub fn run(a: &ReportArgs) -> Result<()> {
    let started = Instant::now();
    let mut data = load(&a.run)?;
    let out = match &a.output {
        Some(p) if p.as_os_str() == "-" => None,
        Some(p) => Some(p.clone()),
        None => Some(a.run.join(REPORT_FILE)),
    };
    // A page written into the run directory under another name is not listed either.
    if let Some(name) = out
        .as_ref()
        .filter(|o| same_dir(o, &a.run))
        .and_then(|o| o.file_name())
    {
        data.files.retain(|(n, _)| name != n.as_str());
    }
    let page = render(&data);
    for p in &data.problems {
        eprintln!("warning: {p}");
    }
    let Some(out) = out else {
        print!("{page}");
        return Ok(());
    };
    write_atomic(&out, page.as_bytes()).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "report: {} ({} KiB, {} plots, {:.2} s)",
        out.display(),
        page.len().div_ceil(1024),
        page.matches("<svg").count(),
        started.elapsed().as_secs_f64()
    );
    if a.open {
        match std::process::Command::new("xdg-open").arg(&out).status() {
            Ok(s) if s.success() => {}
            Ok(s) => eprintln!("warning: xdg-open {} exited with {s}", out.display()),
            Err(e) => eprintln!(
                "warning: cannot run xdg-open: {e} (open {} in a browser yourself)",
                out.display()
            ),
        }
    }
    Ok(())
}

fn same_dir(file: &Path, dir: &Path) -> bool {
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match (parent.canonicalize(), dir.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// JSON in the file's own order.

/// A JSON value whose objects keep their keys in file order (serde_json's `Map` sorts them, and
/// the order a result's author chose — raft before leases — is part of how it reads).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// Any number (shown, never computed with, so f64 is enough).
    Number(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, keys in file order.
    Object(Vec<(String, Json)>),
}

static NULL: Json = Json::Null;

impl Json {
    /// The member `key` of an object (`Null` when absent or not an object).
    pub fn get(&self, key: &str) -> &Json {
        match self {
            Json::Object(m) => m.iter().find(|(k, _)| k == key).map_or(&NULL, |(_, v)| v),
            _ => &NULL,
        }
    }
    fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }
    fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(x) => Some(*x),
            _ => None,
        }
    }
    fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(a) => Some(a),
            _ => None,
        }
    }
    fn as_object(&self) -> Option<&[(String, Json)]> {
        match self {
            Json::Object(m) => Some(m),
            _ => None,
        }
    }
    fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }
    /// Objects and arrays.
    fn is_compound(&self) -> bool {
        matches!(self, Json::Object(_) | Json::Array(_))
    }
    /// The scalar as text (objects and arrays as `…`).
    fn text(&self) -> String {
        match self {
            Json::Null => "null".into(),
            Json::Bool(b) => b.to_string(),
            Json::Number(x) => fmt_num(*x),
            Json::String(s) => s.clone(),
            _ => "…".into(),
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Json;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_none<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
                Json::deserialize(d)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
                Ok(Json::Bool(b))
            }
            fn visit_i64<E>(self, x: i64) -> Result<Json, E> {
                Ok(Json::Number(x as f64))
            }
            fn visit_u64<E>(self, x: u64) -> Result<Json, E> {
                Ok(Json::Number(x as f64))
            }
            fn visit_f64<E>(self, x: f64) -> Result<Json, E> {
                Ok(Json::Number(x))
            }
            fn visit_str<E>(self, s: &str) -> Result<Json, E> {
                Ok(Json::String(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Json, E> {
                Ok(Json::String(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Json, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(Json::Array(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Json, A::Error> {
                let mut m = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, Json>()? {
                    m.push((k, v));
                }
                Ok(Json::Object(m))
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the run directory.

/// One probe: its summary and what its `.hlog` holds.
#[derive(Debug)]
pub struct ProbeData {
    /// The probe's entry in summary.json.
    pub summary: ProbeSummary,
    /// All intervals of the `.hlog` merged (`None` when the log could not be read).
    pub total: Option<Histogram<u64>>,
    /// Per-interval percentiles, intervals with no samples left out.
    pub intervals: Vec<IntervalStats>,
    /// Why the `.hlog` could not be read.
    pub hlog_error: Option<String>,
}

/// Percentiles of one `.hlog` interval, ns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntervalStats {
    /// Start, seconds from the log's start.
    pub start_s: f64,
    /// Length in seconds.
    pub length_s: f64,
    /// Samples in the interval.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
}

/// Everything the page shows, read from a run directory.
#[derive(Debug, Default)]
pub struct RunData {
    /// The run directory's name.
    pub dir_name: String,
    /// manifest.json (shown generically where its fields are unknown).
    pub manifest: Option<Json>,
    /// summary.json.
    pub summary: Option<Summary>,
    /// The probes of summary.json with their interval logs.
    pub probes: Vec<ProbeData>,
    /// `calibration-<target>.json` files: (file name, content).
    pub calibrations: Vec<(String, Json)>,
    /// Other JSON results (`model.json` first, then queue results and anything else).
    pub others: Vec<(String, Json)>,
    /// Small text files (exported configs): (file name, content).
    pub texts: Vec<(String, String)>,
    /// Every file of the directory: (name, bytes).
    pub files: Vec<(String, u64)>,
    /// Files that are missing or unreadable, one sentence each.
    pub problems: Vec<String>,
}

/// The page's default file name in the run directory.
pub const REPORT_FILE: &str = "report.html";

/// Text files larger than this are listed, not shown.
const MAX_TEXT_BYTES: u64 = 64 * 1024;

/// Reads a run directory. Missing or broken files become [`RunData::problems`]; only a
/// directory with neither a manifest nor a summary is an error.
pub fn load(dir: &Path) -> Result<RunData> {
    if !dir.is_dir() {
        bail!(
            "{} is not a directory (give a run directory written by `latlab lab` or `latlab probe rtt`)",
            dir.display()
        );
    }
    let manifest_path = dir.join("manifest.json");
    let summary_path = dir.join("summary.json");
    if !manifest_path.exists() && !summary_path.exists() {
        bail!(
            "{} is not a run directory: it has neither manifest.json nor summary.json",
            dir.display()
        );
    }
    let mut data = RunData {
        dir_name: dir
            .canonicalize()
            .unwrap_or_else(|_| dir.to_path_buf())
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        ..RunData::default()
    };
    data.manifest = read_json(&manifest_path, &mut data.problems);
    if let Ok(bytes) = fs::read(&summary_path) {
        match serde_json::from_slice::<Summary>(&bytes) {
            Ok(s) => data.summary = Some(s),
            Err(e) => data
                .problems
                .push(format!("summary.json is not a latlab summary: {e}")),
        }
    } else {
        data.problems.push("there is no summary.json".into());
    }
    if let Some(s) = &data.summary {
        for p in &s.probes {
            let pd = load_probe(dir, p);
            if let Some(e) = &pd.hlog_error {
                data.problems.push(format!("probe {}: {e}", p.name));
            }
            data.probes.push(pd);
        }
    }

    let mut entries: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(meta) = e.metadata() else { continue };
        // Not the report itself: the page must not depend on whether it was written before.
        if !meta.is_file() || name.starts_with('.') || name == REPORT_FILE {
            continue;
        }
        data.files.push((name.clone(), meta.len()));
        if name == "manifest.json" || name == "summary.json" {
            continue;
        }
        if name.ends_with(".json") {
            let Some(v) = read_json(&e.path(), &mut data.problems) else {
                continue;
            };
            if name.starts_with("calibration-") {
                data.calibrations.push((name, v));
            } else {
                data.others.push((name, v));
            }
        } else if !name.ends_with(".hlog")
            && !name.ends_with(".html")
            && meta.len() <= MAX_TEXT_BYTES
        {
            // Exported configs and notes; binary files (screenshots) are only listed.
            if let Some(text) = fs::read(e.path())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .filter(|t| !t.contains('\0'))
            {
                data.texts.push((name, text));
            }
        }
    }
    data.others.sort_by_key(|(n, _)| n != "model.json");
    Ok(data)
}

fn read_json(path: &Path, problems: &mut Vec<String>) -> Option<Json> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    match fs::read(path) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(v) => Some(v),
            Err(e) => {
                problems.push(format!("{name} is not valid JSON: {e}"));
                None
            }
        },
        Err(e) => {
            problems.push(format!("cannot read {name}: {e}"));
            None
        }
    }
}

fn load_probe(dir: &Path, p: &ProbeSummary) -> ProbeData {
    let mut out = ProbeData {
        summary: p.clone(),
        total: None,
        intervals: Vec::new(),
        hlog_error: None,
    };
    // The log must be a file of the run directory, not a path that leaves it.
    if p.hlog.is_empty() || p.hlog.contains(['/', '\\']) || p.hlog == ".." {
        out.hlog_error = Some(format!("its hlog {:?} is not a file name", p.hlog));
        return out;
    }
    let ivs = match read_hlog(&dir.join(&p.hlog)) {
        Ok(ivs) => ivs,
        Err(e) => {
            out.hlog_error = Some(format!("cannot read {}: {e}", p.hlog));
            return out;
        }
    };
    let mut total = new_histogram();
    // latlab writes interval times relative to the log's StartTime; other writers may use
    // epoch seconds, which would make a useless axis.
    let first = ivs.first().map_or(0.0, |iv| iv.0);
    let base = if first > 1e8 { first } else { 0.0 };
    for (start, len, h) in &ivs {
        if total.add(h).is_err() {
            out.hlog_error = Some(format!("{} holds incompatible histograms", p.hlog));
            return out;
        }
        if !h.is_empty() {
            out.intervals.push(IntervalStats {
                start_s: start - base,
                length_s: *len,
                count: h.len(),
                p50: h.value_at_quantile(0.5),
                p99: h.value_at_quantile(0.99),
                p999: h.value_at_quantile(0.999),
            });
        }
    }
    out.total = Some(total);
    out
}

// ---------------------------------------------------------------------------------------------
// Plot data.

/// P(X > x) of a latency histogram at each recorded bucket's highest value, as (x ns, P).
///
/// Each point is exact: every sample of a bucket is at most its highest equivalent value. The
/// step drawn through them holds the previous probability until the next bucket ends, so the
/// tail is never understated (the percentile rule's convention). In the last bucket P falls to
/// 0, off a log axis; the curve ends there flat, at the largest value.
pub fn ccdf(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    let n = h.len();
    if n == 0 {
        return Vec::new();
    }
    let mut pts = vec![(h.lowest_equivalent(h.min()) as f64, 1.0)];
    let mut at_or_below = 0u64;
    for v in h.iter_recorded() {
        at_or_below += v.count_at_value();
        let x = h.highest_equivalent(v.value_iterated_to()) as f64;
        let above = n - at_or_below;
        let y = if above == 0 {
            pts.last().map_or(1.0, |p| p.1)
        } else {
            above as f64 / n as f64
        };
        pts.push((x, y));
    }
    pts
}

/// Thins a decreasing step curve for drawing: a point within a factor `1 + rel` in x of the
/// first point of the last kept group replaces the group's last point, so each drop is drawn
/// at most `rel` later than it happens, never earlier, and the first and last points stay.
/// With rel = 0.5 % that is a third of a pixel on a 4-decade axis of a 720-pixel plot, and it
/// cuts a histogram of thousands of buckets to a few hundred points.
pub fn thin_steps(pts: &[(f64, f64)], rel: f64) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(pts.len().min(4096));
    // The x where the current group of merged points began.
    let mut anchor = f64::NEG_INFINITY;
    for &(x, y) in pts {
        if out.len() > 1 && x <= anchor * (1.0 + rel) {
            if let Some(last) = out.last_mut() {
                *last = (x, y);
            }
        } else {
            out.push((x, y));
            anchor = x;
        }
    }
    out
}

/// The unit latency axes use for values up to `max_ns`: the largest decade tick stays at most
/// 10⁴ of it, so its label fits the plot (µs up to 10 ms, ms up to 10 s, then s).
fn axis_unit(max_ns: f64) -> (&'static str, f64) {
    if max_ns <= 1e7 {
        ("µs", 1e3)
    } else if max_ns <= 1e10 {
        ("ms", 1e6)
    } else {
        ("s", 1e9)
    }
}

/// The drawn CCDF of `h`, x divided by `div`.
fn ccdf_drawn(h: &Histogram<u64>, div: f64) -> Vec<(f64, f64)> {
    thin_steps(&ccdf(h), 0.005)
        .into_iter()
        .map(|(x, y)| (x / div, y))
        .collect()
}

fn ccdf_plot(title: String, unit: &str, series: Vec<Series>) -> Plot {
    Plot {
        title,
        x: Axis {
            label: format!("RTT x ({unit}, log)"),
            log: true,
        },
        y: Axis {
            label: "P(RTT > x) (log)".into(),
            log: true,
        },
        series,
    }
}

// ---------------------------------------------------------------------------------------------
// Formatting.

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A number with about four significant digits, integers exact, tiny and huge in e-notation.
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let a = x.abs();
    if x == x.trunc() && a < 1e15 {
        return format!("{}", x as i64);
    }
    if !(1e-4..1e9).contains(&a) {
        let s = format!("{x:.3e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = m.trim_end_matches('0').trim_end_matches('.');
        return format!("{m}e{e}");
    }
    let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Microseconds with three decimals (exact to the nanosecond), for latency tables.
fn us3(ns: f64) -> String {
    format!("{:.3}", ns / 1000.0)
}

/// A value with the unit its key's suffix names (`*_ns`, `*_ms`, `*_s`, `*_hz`, `*_ppm`, …, as
/// results/README.md defines them): (label without the suffix, formatted value).
fn with_unit(key: &str, x: f64) -> (String, String) {
    const KNOWN: [(&str, &str); 4] = [
        ("tsc_hz", "TSC frequency"),
        ("budget_per_hour", "false-positive budget"),
        ("calibration_error_ppm", "TSC calibration error"),
        ("read_cost_ns", "clock read cost"),
    ];
    let label = |stem: &str| -> String {
        KNOWN
            .iter()
            .find(|(k, _)| *k == key)
            .map_or_else(|| stem.replace('_', " "), |(_, l)| l.to_string())
    };
    type Format = fn(f64) -> String;
    let suffixes: [(&str, Format); 8] = [
        ("_ns", human_ns),
        ("_ms", |x| format!("{} ms", fmt_num(x))),
        ("_us", |x| format!("{} µs", fmt_num(x))),
        ("_s", |x| format!("{} s", fmt_num(x))),
        ("_hz", |x| {
            if x >= 1e9 {
                format!("{:.6} GHz", x / 1e9)
            } else {
                format!("{}/s", fmt_num(x))
            }
        }),
        ("_ppm", |x| format!("{} ppm", fmt_num(x))),
        ("_bytes", |x| format!("{} B", fmt_num(x))),
        ("_per_hour", |x| format!("{} per hour", fmt_num(x))),
    ];
    for (suffix, f) in suffixes {
        if let Some(stem) = key.strip_suffix(suffix) {
            return (label(stem), f(x));
        }
    }
    (label(key), fmt_num(x))
}

/// The row label of `key`: without its unit suffix when the value is shown with the unit.
fn label_of(key: &str, v: &Json) -> String {
    let numeric = match v {
        Json::Number(_) => true,
        Json::Array(a) => !a.is_empty() && a.iter().all(|x| matches!(x, Json::Number(_))),
        _ => false,
    };
    if numeric {
        with_unit(key, 0.0).0
    } else {
        key.replace('_', " ")
    }
}

/// Any JSON value as HTML: objects as key/value tables, arrays of flat objects as tables.
fn json_html(key: &str, v: &Json) -> String {
    match v {
        Json::Null => r#"<span class="muted">—</span>"#.into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(x) => esc(&with_unit(key, *x).1),
        Json::String(s) => esc(s),
        Json::Array(items) if items.is_empty() => r#"<span class="muted">none</span>"#.into(),
        Json::Array(items) if items.iter().all(|i| !i.is_compound()) => items
            .iter()
            .map(|i| json_html(key, i))
            .collect::<Vec<_>>()
            .join(", "),
        Json::Array(items) => {
            let mut cols: Vec<&str> = Vec::new();
            let flat = items.iter().all(|i| {
                i.as_object().is_some_and(|o| {
                    for (k, _) in o {
                        if !cols.contains(&k.as_str()) {
                            cols.push(k);
                        }
                    }
                    o.iter().all(|(_, v)| !v.is_compound())
                })
            });
            if flat {
                let mut o = String::from(r#"<table class="data"><tr>"#);
                for c in &cols {
                    let _ = write!(o, "<th>{}</th>", esc(c));
                }
                o.push_str("</tr>");
                for i in items {
                    o.push_str("<tr>");
                    for c in &cols {
                        let _ = write!(o, "<td>{}</td>", json_html(c, i.get(c)));
                    }
                    o.push_str("</tr>");
                }
                o.push_str("</table>");
                o
            } else {
                let mut o = String::from("<ol>");
                for i in items {
                    let _ = write!(o, "<li>{}</li>", json_html(key, i));
                }
                o.push_str("</ol>");
                o
            }
        }
        Json::Object(map) if map.is_empty() => r#"<span class="muted">empty</span>"#.into(),
        Json::Object(map) => kv_table(map.iter().map(|(k, v)| (k.as_str(), v))),
    }
}

fn kv_table<'a>(rows: impl Iterator<Item = (&'a str, &'a Json)>) -> String {
    let mut o = String::from(r#"<table class="kv">"#);
    for (k, v) in rows {
        let _ = write!(
            o,
            r#"<tr><th title="{}">{}</th><td>{}</td></tr>"#,
            esc(k),
            esc(&label_of(k, v)),
            json_html(k, v)
        );
    }
    o.push_str("</table>");
    o
}

fn badge(text: &str, class: &str) -> String {
    format!(r#"<span class="badge {class}">{}</span>"#, esc(text))
}

fn status_badge(status: &str) -> String {
    let class = match status {
        "complete" => "ok",
        "partial" | "running" | "interrupted" => "bad",
        s if s.starts_with("failed") => "bad",
        _ => "",
    };
    badge(status, class)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

// ---------------------------------------------------------------------------------------------
// The page.

const CSS: &str = r#"
:root{--fg:#1b2330;--muted:#5d6776;--line:#dde2e8;--bg:#f5f6f8;--card:#fff;--accent:#1f5f9f;
--warn:#6b4500;--warnbg:#fff5da;--warnline:#e3ac1c;--bad:#9b1111;--badbg:#fde8e8;--ok:#1b6a2b;--okbg:#e3f3e6}
*{box-sizing:border-box}
html{background:var(--bg)}
body{margin:0;color:var(--fg);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1240px;margin:0 auto;padding:28px 28px 72px}
h1{font-size:25px;margin:0 0 2px}
h2{font-size:19px;margin:40px 0 14px;padding-bottom:6px;border-bottom:2px solid var(--line)}
h3{font-size:16px;margin:0 0 10px}
h2 code,h3 code{font-size:.92em}
h4{font-size:13.5px;margin:14px 0 6px;color:var(--muted)}
a{color:var(--accent);text-decoration:none}
a:hover{text-decoration:underline}
p{margin:8px 0}
.sub{color:var(--muted);margin:0 0 12px;overflow-wrap:anywhere}
.muted{color:var(--muted)}
.small{font-size:12.5px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 20px;margin:16px 0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:16px;margin:16px 0}
.cards>.card{margin:0}
.cards>.card.wide{grid-column:1/-1}
.plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px;margin-top:14px}
.plots.one{grid-template-columns:minmax(0,940px);justify-content:center}
figure{margin:0}
figure svg{display:block;width:100%;height:auto;border:1px solid var(--line);border-radius:8px}
figure svg text{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
figcaption{color:var(--muted);font-size:12.5px;margin-top:6px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:4px 9px;text-align:left;vertical-align:top;border-bottom:1px solid var(--line)}
tr:last-child>th,tr:last-child>td{border-bottom:none}
table.data{width:100%}
table.data th{background:#f0f2f5;font-weight:600;white-space:nowrap;border-bottom:1px solid #c9cfd8}
table.data td.n,table.data th.n{text-align:right}
table.data td:first-child{white-space:nowrap}
table.data tr:nth-child(even) td{background:#fafbfc}
table.kv{width:100%}
table.kv th{width:1%;white-space:nowrap;font-weight:600;color:var(--muted)}
table.kv td{overflow-wrap:anywhere}
.badge{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:600;
background:#eaedf1;color:var(--muted);margin:0 4px 2px 0;vertical-align:middle}
.badge.ok{background:var(--okbg);color:var(--ok)}
.badge.bad{background:var(--badbg);color:var(--bad)}
.banner{padding:14px 18px;border-radius:10px;font-weight:600;margin:16px 0;background:var(--badbg);
color:var(--bad);border:1px solid #f0b4b4}
.warn{background:var(--warnbg);color:var(--warn);border-left:4px solid var(--warnline);
padding:8px 12px;border-radius:4px;margin:8px 0}
.warn ul{margin:4px 0;padding-left:20px}
pre{background:#f2f4f7;border:1px solid var(--line);border-radius:6px;padding:10px 12px;margin:6px 0;
white-space:pre-wrap;overflow-wrap:anywhere;font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
nav.toc{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:10px 18px;margin:16px 0;
display:flex;flex-wrap:wrap;gap:4px 18px}
nav.toc a{white-space:nowrap}
details{margin:10px 0}
summary{cursor:pointer;color:var(--accent);font-weight:600}
.param{border-left:4px solid var(--accent)}
.param .formula{background:#eef4fb}
.two{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:0 24px}
ul.notes{margin:4px 0;padding-left:20px}
footer{margin-top:48px;color:var(--muted);font-size:12.5px}
"#;

/// The page.
pub fn render(d: &RunData) -> String {
    let m = d.manifest.as_ref().unwrap_or(&NULL);
    let run_id = m
        .get("run_id")
        .as_str()
        .or(d.summary.as_ref().map(|s| s.run_id.as_str()))
        .unwrap_or(&d.dir_name)
        .to_string();
    let status = m
        .get("status")
        .as_str()
        .map(str::to_string)
        .or_else(|| {
            let s = d.summary.as_ref()?;
            serde_json::to_value(s.status)
                .ok()?
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".into());
    let mut o = String::with_capacity(256 * 1024);
    let _ = write!(
        o,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="generator" content="latlab {}">
<title>latlab report: {}</title>
<style>{CSS}</style>
</head>
<body>
<main>
"#,
        esc(env!("CARGO_PKG_VERSION")),
        esc(&run_id)
    );
    let _ = write!(
        o,
        r#"<h1>latlab report {}</h1><p class="sub"><code>{}</code> · <code>latlab {}</code> on <b>{}</b>{}</p>"#,
        status_badge(&status),
        esc(&run_id),
        esc(m.get("command").as_str().unwrap_or("?")),
        esc(m.get("host").get("hostname").as_str().unwrap_or("?")),
        m.get("started_at")
            .as_str()
            .map(|t| format!(", started {}", esc(t)))
            .unwrap_or_default()
    );
    o.push_str(&banners(d, &status));

    o.push_str(
        r##"<nav class="toc"><a href="#context">Context</a><a href="#overview">All probes</a>"##,
    );
    for (i, p) in d.probes.iter().enumerate() {
        let _ = write!(o, r##"<a href="#probe-{i}">{}</a>"##, esc(&p.summary.name));
    }
    if !d.calibrations.is_empty() {
        o.push_str(r##"<a href="#calibration">Calibration</a>"##);
    }
    if !d.others.is_empty() {
        o.push_str(r##"<a href="#other">Other results</a>"##);
    }
    o.push_str(r##"<a href="#files">Files</a></nav>"##);

    o.push_str(&context_section(d));
    o.push_str(&overview_section(d));
    for (i, p) in d.probes.iter().enumerate() {
        o.push_str(&probe_section(i, p));
    }
    if !d.calibrations.is_empty() {
        o.push_str(r#"<h2 id="calibration">Calibration</h2><p class="muted">Timing parameters derived from this run's RTT histograms by <code>latlab calibrate</code>, each with its measured inputs, model and formula, and its predicted false-positive rate and detection latency.</p>"#);
        for (name, v) in &d.calibrations {
            o.push_str(&calibration_html(name, v));
        }
    }
    if !d.others.is_empty() {
        o.push_str(r#"<h2 id="other">Other results</h2>"#);
        for (name, v) in &d.others {
            let what = if name == "model.json" {
                " — the queueing model fitted to this run"
            } else {
                ""
            };
            let _ = write!(
                o,
                r#"<div class="card"><h3><code>{}</code>{what}</h3><div class="scroll">{}</div></div>"#,
                esc(name),
                json_html("", v)
            );
        }
    }
    o.push_str(&files_section(d));
    let _ = write!(
        o,
        "<footer>Written by <code>latlab report</code> {} from the files of this run directory. Latencies are in µs unless a unit is given. Percentiles follow the run's percentile rule: HdrHistogram with 3 significant digits, each percentile the highest value of its bucket.</footer>\n</main>\n</body>\n</html>\n",
        esc(env!("CARGO_PKG_VERSION"))
    );
    o
}

fn banners(d: &RunData, status: &str) -> String {
    let mut o = String::new();
    match status {
        "partial" => o.push_str(r#"<div class="banner">Partial run: it was interrupted or a probe failed. Everything below covers only what was measured.</div>"#),
        "running" => o.push_str(r#"<div class="banner">Unfinished run: its manifest still says “running”, so the run was killed or crashed. The summary holds the probes that finished before that.</div>"#),
        _ => {}
    }
    let unfinished: Vec<String> = d
        .probes
        .iter()
        .filter(|p| p.summary.status != "complete")
        .map(|p| format!("{}: {}", esc(&p.summary.name), esc(&p.summary.status)))
        .collect();
    if !unfinished.is_empty() {
        let _ = write!(
            o,
            r#"<div class="banner">Probes that did not complete: {}</div>"#,
            unfinished.join("; ")
        );
    }
    if !d.problems.is_empty() {
        o.push_str(r#"<div class="warn"><b>Missing or unreadable:</b><ul>"#);
        for p in &d.problems {
            let _ = write!(o, "<li>{}</li>", esc(p));
        }
        o.push_str("</ul></div>");
    }
    o
}

fn context_section(d: &RunData) -> String {
    let mut o = String::from(r#"<h2 id="context">Context</h2>"#);
    let Some(Json::Object(fields)) = &d.manifest else {
        o.push_str(r#"<div class="warn">No readable manifest.json: the host, clock and placement of this run are unknown.</div>"#);
        return o;
    };
    let m = d.manifest.as_ref().unwrap_or(&NULL);
    let mut run = String::from(r#"<table class="kv">"#);
    for k in ["run_id", "command", "started_at", "finished_at", "status"] {
        let v = m.get(k);
        let cell = match (k, v.as_str()) {
            ("status", Some(s)) => status_badge(s),
            _ => json_html(k, v),
        };
        let _ = write!(
            run,
            "<tr><th>{}</th><td>{cell}</td></tr>",
            k.replace('_', " ")
        );
    }
    if let Some(argv) = m.get("argv").as_array() {
        let line: Vec<String> = argv.iter().map(Json::text).collect();
        let _ = write!(
            run,
            "<tr><th>command line</th><td><code>{}</code></td></tr>",
            esc(&line.join(" "))
        );
    }
    let tool = m.get("tool");
    if !tool.is_null() {
        let s = |k: &str| tool.get(k).as_str().unwrap_or("?").to_string();
        let _ = write!(
            run,
            "<tr><th>tool</th><td>{} {} (commit <code>{}</code>)</td></tr>",
            esc(&s("name")),
            esc(&s("version")),
            esc(&s("git_commit"))
        );
    }
    run.push_str("</table>");
    let _ = write!(
        o,
        r#"<div class="cards"><div class="card wide"><h3>Run</h3>{run}</div>"#
    );
    for (k, title) in [
        ("host", "Host"),
        ("clock", "Clock"),
        ("placement", "Placement"),
    ] {
        let v = m.get(k);
        let mut body = json_html(k, v);
        if k == "placement" && v.get("pinned") == &Json::Bool(false) {
            body.push_str(r#"<div class="warn">Threads were not pinned: the results depend on the scheduler.</div>"#);
        }
        let _ = write!(o, r#"<div class="card"><h3>{title}</h3>{body}</div>"#);
    }
    o.push_str("</div>");
    const SHOWN: [&str; 11] = [
        "$schema",
        "run_id",
        "command",
        "argv",
        "started_at",
        "finished_at",
        "status",
        "tool",
        "host",
        "clock",
        "placement",
    ];
    let rest: Vec<_> = fields
        .iter()
        .filter(|(k, _)| !SHOWN.contains(&k.as_str()))
        .collect();
    if !rest.is_empty() {
        let _ = write!(
            o,
            r#"<details><summary>Configuration and other manifest fields</summary><div class="card scroll">{}</div></details>"#,
            kv_table(rest.into_iter().map(|(k, v)| (k.as_str(), v)))
        );
    }
    o
}

fn stats_row(label: &str, s: &Stats) -> String {
    let mut o = format!(
        r#"<tr><td>{}</td><td class="n">{}</td>"#,
        esc(label),
        s.count
    );
    for v in [s.min, s.p50, s.p90, s.p99, s.p99_9, s.p99_99, s.max] {
        let _ = write!(o, r#"<td class="n">{}</td>"#, us3(v as f64));
    }
    let _ = write!(
        o,
        r#"<td class="n">{}</td><td class="n">{}</td></tr>"#,
        us3(s.mean),
        us3(s.stddev)
    );
    o
}

fn signed_row(label: &str, s: &SignedStats) -> String {
    format!(
        r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td colspan="5" class="muted" style="text-align:center">—</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
        esc(label),
        s.count,
        us3(s.min as f64),
        us3(s.max as f64),
        us3(s.mean),
        us3(s.stddev)
    )
}

const STATS_HEADER: &str = r#"<tr><th>µs</th><th class="n">count</th><th class="n">min</th><th class="n">p50</th><th class="n">p90</th><th class="n">p99</th><th class="n">p99.9</th><th class="n">p99.99</th><th class="n">max</th><th class="n">mean</th><th class="n">stddev</th></tr>"#;

fn load_text(p: &ProbeSummary) -> String {
    match p.rate_hz {
        Some(r) => format!(
            "{} /s {}, achieved {} /s",
            fmt_num(r),
            p.schedule,
            fmt_num(p.achieved_rate_hz.round())
        ),
        None => format!("closed loop, {} /s", fmt_num(p.achieved_rate_hz.round())),
    }
}

fn overview_section(d: &RunData) -> String {
    let mut o = String::from(r#"<h2 id="overview">All probes</h2>"#);
    let Some(s) = &d.summary else {
        o.push_str(r#"<div class="warn">No readable summary.json: there are no probe results to show.</div>"#);
        return o;
    };
    if s.probes.is_empty() {
        o.push_str(r#"<p class="muted">The summary lists no probes.</p>"#);
        return o;
    }
    o.push_str(r#"<div class="card scroll"><table class="data"><tr><th>probe</th><th>path</th><th>load</th><th class="n">sent</th><th class="n">lost</th><th class="n">p50 µs</th><th class="n">p99 µs</th><th class="n">p99.9 µs</th><th class="n">max µs</th><th>status</th></tr>"#);
    for (i, pd) in d.probes.iter().enumerate() {
        let p = &pd.summary;
        let _ = write!(
            o,
            r##"<tr><td><a href="#probe-{i}">{}</a></td><td>{} {}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td>{}</td></tr>"##,
            esc(&p.name),
            esc(&p.proto),
            esc(&p.reply),
            esc(&load_text(p)),
            p.sent,
            p.lost,
            us3(p.rtt.p50 as f64),
            us3(p.rtt.p99 as f64),
            us3(p.rtt.p99_9 as f64),
            us3(p.rtt.max as f64),
            status_badge(&p.status)
        );
    }
    o.push_str("</table></div>");
    let drawn: Vec<(&str, &Histogram<u64>)> = d
        .probes
        .iter()
        .filter_map(|p| Some((p.summary.name.as_str(), p.total.as_ref()?)))
        .filter(|(_, h)| !h.is_empty())
        .collect();
    if !drawn.is_empty() {
        let max = drawn.iter().map(|(_, h)| h.max()).max().unwrap_or(1);
        let (unit, div) = axis_unit(max as f64);
        let series = drawn
            .iter()
            .map(|(name, h)| Series {
                label: name.to_string(),
                points: ccdf_drawn(h, div),
                style: Style::Step,
            })
            .collect();
        let plot = ccdf_plot("RTT of every probe: P(RTT > x)".into(), unit, series);
        o.push_str(r#"<div class="plots one">"#);
        o.push_str(&figure(&plot, "Complementary CDF of each probe's RTT from every bucket of its .hlog (open-loop probes: from the intended send time). Further right is slower; the lower right is the tail — where a curve crosses 10⁻³ is its p99.9."));
        o.push_str("</div>");
    }
    o
}

fn figure(plot: &Plot, caption: &str) -> String {
    format!(
        "<figure>{}<figcaption>{}</figcaption></figure>",
        plot.to_svg(),
        esc(caption)
    )
}

fn probe_section(i: usize, pd: &ProbeData) -> String {
    let p = &pd.summary;
    let mut o = format!(
        r#"<h2 id="probe-{i}">Probe <code>{}</code> {}</h2>"#,
        esc(&p.name),
        status_badge(&p.status)
    );
    let kind = serde_json::to_value(p.datapath.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let _ = write!(
        o,
        r#"<p>{}{}{}{} {} to <code>{}</code>; {} B messages; {} s measured after {} warm-up probes; timeout {} s.</p>"#,
        badge(&p.proto, ""),
        badge(&p.reply, ""),
        badge(
            if p.mode == LoopMode::Open {
                "open loop"
            } else {
                "closed loop"
            },
            ""
        ),
        badge(&kind, ""),
        esc(&load_text(p)),
        esc(&p.target),
        p.size_bytes,
        fmt_num(p.duration_s),
        p.warmup,
        fmt_num(p.timeout_s),
    );
    if !p.datapath.notes.is_empty() {
        o.push_str(r#"<div class="warn"><b>Datapath notes:</b><ul>"#);
        for n in &p.datapath.notes {
            let _ = write!(o, "<li>{}</li>", esc(n));
        }
        o.push_str("</ul></div>");
    }
    let loss = if p.sent > 0 {
        format!("{:.4} %", 100.0 * p.lost as f64 / p.sent as f64)
    } else {
        "—".into()
    };
    let _ = write!(
        o,
        r#"<div class="card scroll"><h4>Counts (warm-up excluded)</h4><table class="data"><tr><th class="n">sent</th><th class="n">received</th><th class="n">lost</th><th class="n">loss</th><th class="n">late</th><th class="n">reordered</th><th class="n">duplicates</th><th class="n">malformed</th></tr><tr><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{loss}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr></table>"#,
        p.sent, p.received, p.lost, p.late, p.reordered, p.duplicates, p.malformed
    );
    o.push_str(r#"<h4>Latency</h4><table class="data">"#);
    o.push_str(STATS_HEADER);
    let open = p.mode == LoopMode::Open;
    o.push_str(&stats_row(
        if open { "RTT (corrected)" } else { "RTT" },
        &p.rtt,
    ));
    let optional = [
        ("RTT (uncorrected)", &p.rtt_uncorrected),
        ("network RTT", &p.network_rtt),
        ("reflector residence", &p.reflector_residence),
        ("kernel RX to user", &p.rx_kernel_to_user),
    ];
    for (label, s) in optional {
        if let Some(s) = s {
            o.push_str(&stats_row(label, s));
        }
    }
    if let Some(c) = &p.clock_offset {
        o.push_str(&signed_row("clock offset", c));
    }
    o.push_str("</table>");
    let mut notes = vec!["RTT is t4 − t1 on the probe's clock"];
    if open {
        notes.push("corrected: from each probe's intended send time (coordinated omission accounted for); uncorrected: from its actual send time");
    }
    if p.network_rtt.is_some() {
        notes.push("network RTT: the RTT minus the reflector's residence t3 − t2");
    }
    if p.clock_offset.is_some() {
        notes.push("clock offset: the reflector's clock relative to the probe's, ((t2 − t1) + (t3 − t4)) / 2");
    }
    let _ = write!(
        o,
        r#"<p class="muted small">{}.</p></div>"#,
        notes.join("; ")
    );

    let Some(total) = pd.total.as_ref().filter(|h| !h.is_empty()) else {
        let why = pd
            .hlog_error
            .clone()
            .unwrap_or_else(|| "the interval log holds no samples".into());
        let _ = write!(o, r#"<div class="warn">No plots: {}.</div>"#, esc(&why));
        return o;
    };
    o.push_str(r#"<div class="plots">"#);
    let (unit, div) = axis_unit(total.max() as f64);
    let plot = ccdf_plot(
        format!("{}: P(RTT > x)", p.name),
        unit,
        vec![Series {
            label: format!("{} samples", total.len()),
            points: ccdf_drawn(total, div),
            style: Style::Step,
        }],
    );
    o.push_str(&figure(&plot, &format!("Complementary CDF from all {} samples in {} (every histogram bucket). The curve ends at 1/N, one sample: below that the run holds no evidence.", total.len(), p.hlog)));

    // Percentiles per interval, each held flat over its interval.
    let (tunit, tdiv) = axis_unit(pd.intervals.iter().map(|iv| iv.p999).max().unwrap_or(1) as f64);
    let mut lines: [Vec<(f64, f64)>; 3] = Default::default();
    for iv in &pd.intervals {
        for (line, v) in lines.iter_mut().zip([iv.p50, iv.p99, iv.p999]) {
            line.push((iv.start_s, v as f64 / tdiv));
            line.push((iv.start_s + iv.length_s, v as f64 / tdiv));
        }
    }
    let [p50, p99, p999] = lines;
    let line = |label: &str, points| Series {
        label: label.into(),
        points,
        style: Style::Line,
    };
    let time_plot = Plot {
        title: format!("{}: percentiles over time", p.name),
        x: Axis {
            label: "time since the start of measurement (s)".into(),
            log: false,
        },
        y: Axis {
            label: format!("RTT ({tunit}, log)"),
            log: true,
        },
        series: vec![line("p50", p50), line("p99", p99), line("p99.9", p999)],
    };
    o.push_str(&figure(&time_plot, &format!("p50, p99 and p99.9 of each .hlog interval ({} with samples), held flat over the interval. A line that rises or jumps is a change in the path during the run, which one distribution for the whole run hides.", plural(pd.intervals.len(), "interval", "intervals"))));

    if let (LoopMode::Open, Some(u)) = (p.mode, &p.rtt_uncorrected) {
        let n = u.count.max(1) as f64;
        let (unit, div) = axis_unit(total.max().max(u.max) as f64);
        let mut unc: Vec<(f64, f64)> = Vec::new();
        for (v, q) in [
            (u.p50, 0.5),
            (u.p90, 0.1),
            (u.p99, 0.01),
            (u.p99_9, 1e-3),
            (u.p99_99, 1e-4),
            (u.max, 1.0 / n),
        ] {
            // Only while the percentile has samples behind it (q ≥ 1/N).
            if q >= 1.0 / n && unc.last().is_none_or(|l| l.1 > q) {
                unc.push((v as f64 / div, q));
            }
        }
        let plot = ccdf_plot(
            format!("{}: coordinated omission", p.name),
            unit,
            vec![
                Series {
                    label: "corrected (intended send)".into(),
                    points: ccdf_drawn(total, div),
                    style: Style::Step,
                },
                Series {
                    label: "uncorrected (actual send)".into(),
                    points: unc,
                    style: Style::Dashed,
                },
            ],
        );
        o.push_str(&figure(&plot, "Open loop: the RTT from each probe's intended send time (all buckets) against the RTT from its actual send time (the summary's p50 … p99.99, and the max at 1/N). Where the dashed line runs left of the solid one, timing from the actual send would hide the latency of a stalled sender."));
    }
    o.push_str("</div>");
    o
}

/// The keys of a derivation laid out specially; any other key is shown generically.
const DERIVATION_KEYS: [&str; 11] = [
    "parameter",
    "measured",
    "model",
    "target",
    "formula",
    "result",
    "false_positive_rate_per_hour",
    "false_positive_probability",
    "detection_latency_ns",
    "evidence",
    "notes",
];

fn calibration_html(file: &str, v: &Json) -> String {
    let target = v.get("target").as_str().unwrap_or(file);
    let mut o = format!(
        r#"<div class="card"><h3>Calibration for <code>{}</code> <span class="muted">({})</span></h3>"#,
        esc(target),
        esc(file)
    );
    let Json::Object(map) = v else {
        let _ = write!(o, "{}</div>", json_html("", v));
        return o;
    };
    o.push_str(&kv_table(
        map.iter()
            .filter(|(k, v)| !v.is_compound() && !v.is_null() && k != "target")
            .map(|(k, v)| (k.as_str(), v)),
    ));
    if let Some(w) = v.get("warnings").as_array().filter(|w| !w.is_empty()) {
        o.push_str(r#"<div class="warn"><b>Warnings</b><ul>"#);
        for x in w {
            let _ = write!(o, "<li>{}</li>", json_html("", x));
        }
        o.push_str("</ul></div>");
    }
    o.push_str("</div>");
    for (k, v) in map {
        if k != "warnings" && v.is_compound() {
            o.push_str(&param_blocks(k, v));
        }
    }
    let absent: Vec<&str> = map
        .iter()
        .filter(|(_, v)| v.is_null())
        .map(|(k, _)| k.as_str())
        .collect();
    if !absent.is_empty() {
        let _ = write!(
            o,
            r#"<p class="muted">Not derived for this target: {}.</p>"#,
            esc(&absent.join(", "))
        );
    }
    o
}

/// Whether `v` holds a derivation anywhere below it.
fn has_derivation(v: &Json) -> bool {
    match v {
        Json::Object(m) => m
            .iter()
            .any(|(k, c)| (k == "derivation" && matches!(c, Json::Object(_))) || has_derivation(c)),
        _ => false,
    }
}

/// One card per object with a `derivation`; anything without one below it is shown whole.
fn param_blocks(path: &str, v: &Json) -> String {
    let Json::Object(m) = v else {
        return format!(
            r#"<div class="card"><h3><code>{}</code></h3>{}</div>"#,
            esc(path),
            json_html(path, v)
        );
    };
    let der = v.get("derivation");
    if !matches!(der, Json::Object(_)) {
        if !has_derivation(v) {
            return format!(
                r#"<div class="card param"><h3><code>{}</code></h3>{}</div>"#,
                esc(path),
                json_html(path, v)
            );
        }
        // A group (`rpc`): its own loose values first, then one card per member.
        let loose: Vec<_> = m.iter().filter(|(_, c)| !has_derivation(c)).collect();
        let mut o = String::new();
        if !loose.is_empty() {
            let _ = write!(
                o,
                r#"<div class="card"><h3><code>{}</code></h3>{}</div>"#,
                esc(path),
                kv_table(loose.into_iter().map(|(k, v)| (k.as_str(), v)))
            );
        }
        for (k, c) in m.iter().filter(|(_, c)| has_derivation(c)) {
            o.push_str(&param_blocks(&format!("{path}.{k}"), c));
        }
        return o;
    }
    let title = der.get("parameter").as_str().unwrap_or(path);
    let mut o = format!(
        r#"<div class="card param"><h3>{} <span class="muted">(<code>{}</code>)</span></h3><div class="two"><div>"#,
        esc(title),
        esc(path)
    );
    // Left: the values as exported, the prediction, the computed results.
    let values: Vec<_> = m.iter().filter(|(k, _)| k != "derivation").collect();
    if !values.is_empty() {
        let _ = write!(
            o,
            "<h4>Values</h4>{}",
            kv_table(values.into_iter().map(|(k, v)| (k.as_str(), v)))
        );
    }
    let mut pred = String::new();
    if let Some(r) = der.get("false_positive_rate_per_hour").as_f64() {
        let _ = write!(
            pred,
            "<tr><th>false positives</th><td>{} per hour</td></tr>",
            esc(&fmt_num(r))
        );
    }
    if let Some(p) = der.get("false_positive_probability").as_f64() {
        let _ = write!(
            pred,
            "<tr><th>false-positive probability</th><td>{} per event</td></tr>",
            esc(&fmt_num(p))
        );
    }
    if let Some(d) = der.get("detection_latency_ns").as_f64() {
        let _ = write!(
            pred,
            "<tr><th>detection latency</th><td>{}</td></tr>",
            esc(&human_ns(d))
        );
    }
    if !pred.is_empty() {
        let _ = write!(o, r#"<h4>Predicted</h4><table class="kv">{pred}</table>"#);
    }
    if !der.get("result").is_null() {
        let _ = write!(o, "<h4>Result</h4>{}", measurements(der.get("result")));
    }
    o.push_str("</div><div>");
    // Right: what went in, and how.
    if !der.get("measured").is_null() {
        let _ = write!(
            o,
            "<h4>Measured inputs</h4>{}",
            measurements(der.get("measured"))
        );
    }
    for (k, title) in [("model", "Model"), ("target", "Target")] {
        if !der.get(k).is_null() {
            let _ = write!(o, "<h4>{title}</h4><p>{}</p>", json_html(k, der.get(k)));
        }
    }
    o.push_str("</div></div>");
    if let Some(f) = der.get("formula").as_str() {
        let _ = write!(
            o,
            r#"<h4>Formula</h4><pre class="formula">{}</pre>"#,
            esc(f)
        );
    }
    let ev = der.get("evidence");
    let message = ev.get("message").as_str();
    if !ev.is_null() {
        if let Some(msg) = message {
            let _ = write!(
                o,
                r#"<div class="warn"><b>Evidence:</b> {}</div>"#,
                esc(msg)
            );
        } else if ev.get("extrapolated") == &Json::Bool(true) {
            o.push_str(r#"<div class="warn"><b>Evidence:</b> the prediction extrapolates beyond the measured samples.</div>"#);
        }
        let _ = write!(
            o,
            "<details><summary>Evidence</summary>{}</details>",
            json_html("evidence", ev)
        );
    }
    // Notes, less the evidence message already shown above.
    let notes: Vec<&Json> = der
        .get("notes")
        .as_array()
        .unwrap_or_default()
        .iter()
        .filter(|n| n.as_str().is_none() || n.as_str() != message)
        .collect();
    if !notes.is_empty() {
        o.push_str(r#"<h4>Notes</h4><ul class="notes">"#);
        for n in notes {
            let _ = write!(o, "<li>{}</li>", json_html("", n));
        }
        o.push_str("</ul>");
    }
    if let Json::Object(fields) = der {
        let extra: Vec<_> = fields
            .iter()
            .filter(|(k, _)| !DERIVATION_KEYS.contains(&k.as_str()))
            .collect();
        if !extra.is_empty() {
            let _ = write!(
                o,
                "<h4>More</h4>{}",
                kv_table(extra.into_iter().map(|(k, v)| (k.as_str(), v)))
            );
        }
    }
    o.push_str("</div>");
    o
}

/// `[{name, value, unit}, …]` as a table, each value in its unit (ns in a readable one);
/// anything else generically.
fn measurements(v: &Json) -> String {
    let items = v.as_array().unwrap_or_default();
    let shaped = !items.is_empty()
        && items.iter().all(|i| {
            i.as_object().is_some_and(|o| o.len() == 3)
                && i.get("name").as_str().is_some()
                && i.get("unit").as_str().is_some()
        });
    if !shaped {
        return json_html("", v);
    }
    let mut o = String::from(r#"<table class="kv">"#);
    for i in items {
        let unit = i.get("unit").as_str().unwrap_or_default();
        let value = match i.get("value").as_f64() {
            Some(x) if unit == "ns" => human_ns(x),
            Some(x) if unit.is_empty() => fmt_num(x),
            Some(x) => format!("{} {unit}", fmt_num(x)),
            None => i.get("value").text(),
        };
        let _ = write!(
            o,
            "<tr><th>{}</th><td>{}</td></tr>",
            esc(i.get("name").as_str().unwrap_or_default()),
            esc(&value)
        );
    }
    o.push_str("</table>");
    o
}

fn files_section(d: &RunData) -> String {
    let mut o = String::from(
        r#"<h2 id="files">Files</h2><div class="card scroll"><table class="data"><tr><th>file</th><th class="n">bytes</th></tr>"#,
    );
    for (name, len) in &d.files {
        let _ = write!(
            o,
            r#"<tr><td><code>{}</code></td><td class="n">{len}</td></tr>"#,
            esc(name)
        );
    }
    o.push_str("</table>");
    for (name, text) in &d.texts {
        let _ = write!(
            o,
            "<details><summary>{}</summary><pre>{}</pre></details>",
            esc(name),
            esc(text)
        );
    }
    o.push_str("</div>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use latlab_probes::record::record_ns;

    fn json(s: &str) -> Json {
        serde_json::from_str(s).expect("test JSON parses")
    }

    #[test]
    fn escaping_covers_every_markup_character() {
        assert_eq!(
            esc(r#"<script>alert('x' & "y")</script>"#),
            "&lt;script&gt;alert(&#39;x&#39; &amp; &quot;y&quot;)&lt;/script&gt;"
        );
        let html = json_html("", &json(r#"{"<k>": ["<v>", {"a": "&"}]}"#));
        assert!(!html.contains("<k>") && !html.contains("<v>"), "{html}");
        assert!(
            html.contains("&lt;k&gt;") && html.contains("&amp;"),
            "{html}"
        );
    }

    #[test]
    fn objects_keep_their_key_order() {
        let v = json(r#"{"raft": 1, "akka": {"z": 1, "a": 2}, "clock": null}"#);
        let keys: Vec<&str> = v
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(keys, ["raft", "akka", "clock"]);
        let html = json_html("", &v);
        assert!(html.find("raft").unwrap() < html.find("akka").unwrap());
        assert!(html.find(">z<").unwrap() < html.find(">a<").unwrap());
        assert_eq!(v.get("akka").get("a"), &Json::Number(2.0));
        assert!(v.get("missing").get("deeper").is_null());
    }

    #[test]
    fn ccdf_is_exact_at_bucket_ends() {
        // 1..=1000 µs, one sample each: P(X > k µs) = (1000 − k)/1000 at the end of k's bucket.
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            record_ns(&mut h, v * 1000);
        }
        let pts = ccdf(&h);
        assert_eq!(pts[0], (1000.0, 1.0));
        assert_eq!(pts.len(), 1001);
        for (k, &(x, p)) in pts.iter().enumerate().skip(1).take(999) {
            let k = k as u64;
            assert_eq!(x as u64, h.highest_equivalent(k * 1000));
            assert!((p - (1000 - k) as f64 / 1000.0).abs() < 1e-12, "{k}: {p}");
        }
        // The last bucket ends the curve flat at the maximum, not at P = 0.
        assert_eq!(pts[1000].0 as u64, h.highest_equivalent(1_000_000));
        assert_eq!(pts[1000].1, pts[999].1);
        assert!(ccdf(&new_histogram()).is_empty());
    }

    #[test]
    fn thinning_keeps_the_ends_and_never_draws_a_drop_early() {
        let pts: Vec<(f64, f64)> = (0..=1000)
            .map(|i| (1000.0 + i as f64, 1.0 - i as f64 / 1000.0))
            .collect();
        let thin = thin_steps(&pts, 0.005);
        assert!(thin.len() < 200, "{}", thin.len());
        assert_eq!(thin[0], pts[0]);
        assert_eq!(thin.last(), pts.last());
        for &(x, y) in &pts {
            // The drawn step is never below the true curve (the tail is not understated) ...
            let drawn = thin.iter().rev().find(|p| p.0 <= x).map_or(1.0, |p| p.1);
            assert!(drawn >= y - 1e-12, "at {x}: drawn {drawn} < {y}");
            // ... and reaches each true value within 0.5 % in x.
            let reached = thin.iter().find(|p| p.1 <= y + 1e-12).unwrap();
            assert!(
                reached.0 <= x * 1.005 + 1e-9,
                "{y} at {x} is drawn at {}",
                reached.0
            );
        }
    }

    #[test]
    fn numbers_and_units_read_well() {
        assert_eq!(fmt_num(3.0), "3");
        assert_eq!(fmt_num(0.0066492430441250205), "0.006649");
        assert_eq!(fmt_num(2599998160.04), "2.6e9");
        assert_eq!(fmt_num(1e-7), "1e-7");
        assert_eq!(fmt_num(8.4208), "8.421");
        assert_eq!(fmt_num(12.5766585), "12.58");
        assert_eq!(
            with_unit("read_cost_ns", 8.4208),
            ("clock read cost".into(), "8.4 ns".into())
        );
        assert_eq!(with_unit("election_timeout_ms", 15.0).1, "15 ms");
        assert_eq!(with_unit("tsc_hz", 2.6e9).1, "2.600000 GHz");
        assert_eq!(
            with_unit("logical_cpus", 2.0),
            ("logical cpus".into(), "2".into())
        );
        assert_eq!(axis_unit(9e6), ("µs", 1e3));
        assert_eq!(axis_unit(2.4e7), ("ms", 1e6));
        assert_eq!(plural(1, "interval", "intervals"), "1 interval");
    }

    #[test]
    fn unknown_json_is_shown_not_dropped() {
        let v = json(
            r#"{"fit": {"family": "gamma", "shape": 2.5, "mean_ns": 12000.0},
                "points": [{"x": 1, "y": 2}, {"x": 3, "y": 4}],
                "nested": [[1, 2], {"z": null}]}"#,
        );
        let html = json_html("", &v);
        for s in [
            "gamma",
            "2.5",
            "12.00 µs",
            "<th>x</th>",
            "<td>4</td>",
            "nested",
        ] {
            assert!(html.contains(s), "{s} missing from {html}");
        }
    }

    #[test]
    fn a_derivation_becomes_a_card_with_every_part() {
        let v = json(
            r#"{
            "target": "etcd",
            "budget_per_hour": 1e-4,
            "warnings": ["too <few> samples"],
            "raft": {
                "election_timeout_ms": 15,
                "derivation": {
                    "parameter": "election timeout",
                    "measured": [{"name": "rtt p99", "value": 10935.0, "unit": "ns"}],
                    "model": "iid delays",
                    "target": "1e-4/h",
                    "formula": "E = min{E : rate(E) ≤ budget}",
                    "result": [{"name": "election timeout", "value": 15.0, "unit": "ms"}],
                    "false_positive_rate_per_hour": 3.9e-6,
                    "false_positive_probability": null,
                    "detection_latency_ns": 15510621.0,
                    "evidence": {"extrapolated": true, "message": "run longer"},
                    "notes": ["ticks", "run longer"],
                    "brand_new_field": "shown anyway"
                }
            },
            "rpc": {"rto": {"rto_ns": 1000, "derivation": {"parameter": "rto"}}, "extra": 7},
            "akka": null
        }"#,
        );
        let html = calibration_html("calibration-etcd.json", &v);
        for s in [
            "election timeout",
            "10.94 µs",
            "iid delays",
            "E = min{E : rate(E) ≤ budget}",
            "15 ms",
            "3.9e-6 per hour",
            "15.51 ms",
            "run longer",
            "ticks",
            "shown anyway",
            "too &lt;few&gt; samples",
            "Not derived for this target: akka",
            "rpc.rto",
            "1.00 µs",
            ">7<",
        ] {
            assert!(html.contains(s), "{s:?} missing from {html}");
        }
        // The evidence message is shown once, as a warning, not again among the notes.
        assert_eq!(html.matches("run longer").count(), 2, "{html}"); // warning + details
    }
}
