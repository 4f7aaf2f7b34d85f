//! `latlab report` end to end: a real `lab --quick` run, calibrated for etcd, becomes one HTML
//! page that is well-formed, has one drawn SVG per expected plot, fetches nothing, escapes
//! every string it takes from the run's files, survives partial and broken runs, and renders
//! in headless Chromium without console errors or network requests.
//!
//! The run is measured once and shared; each test works on its own copy of it. Everything is
//! left in `target/tmp/report-test/` for a look afterwards (`browser/report.png` is the page
//! as Chromium drew it).

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

/// The binary under test, with a hard time limit.
fn latlab() -> Command {
    let mut c = Command::cargo_bin("latlab").expect("the latlab binary is built for tests");
    c.timeout(Duration::from_secs(120));
    c
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-test")
}

/// The shared run: `lab --quick`, then `calibrate --for etcd`. Measured once per test binary.
fn measured_run() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let root = root();
        let _ = std::fs::remove_dir_all(&root);
        let out = root.join("runs");
        std::fs::create_dir_all(&out).unwrap();
        let t = Instant::now();
        let o = latlab()
            .args(["lab", "--quick", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "lab failed: {}", stderr_of(&o));
        eprintln!("lab --quick took {:.1} s", t.elapsed().as_secs_f64());
        let run = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.is_dir())
            .expect("lab wrote a run directory");
        let o = latlab()
            .arg("calibrate")
            .arg(&run)
            .args(["--for", "etcd"])
            .output()
            .unwrap();
        assert!(o.status.success(), "calibrate failed: {}", stderr_of(&o));
        assert!(run.join("calibration-etcd.json").is_file());
        run
    })
}

/// A private copy of the shared run, for a test that changes it or writes into it.
fn copy_of_run(name: &str) -> PathBuf {
    let src = measured_run();
    let dst = root().join(name).join(src.file_name().unwrap());
    let _ = std::fs::remove_dir_all(&dst);
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        if e.path().is_file() {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
    dst
}

fn stderr_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

/// Runs `latlab report` on `run` and returns the page (from RUN/report.html).
fn report(run: &Path) -> String {
    let t = Instant::now();
    let o = latlab().arg("report").arg(run).output().unwrap();
    let took = t.elapsed();
    assert!(o.status.success(), "report failed: {}", stderr_of(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("report.html"), "{stdout}");
    eprintln!("latlab report took {:.3} s: {stdout}", took.as_secs_f64());
    // The brief for a typical run: no progress bar needed, because it is this quick.
    assert!(took < Duration::from_secs(2), "report took {took:?}");
    std::fs::read_to_string(run.join("report.html")).unwrap()
}

/// Plots expected for `summary`: all probes' CCDFs on one axis, then per probe with samples
/// its CCDF and percentiles over time, and for open loop with an uncorrected RTT the
/// corrected-vs-uncorrected plot.
fn expected_plots(summary: &Value, without_log: &[&str]) -> usize {
    let probes = summary["probes"].as_array().unwrap();
    let drawn: Vec<&Value> = probes
        .iter()
        .filter(|p| p["rtt"]["count"].as_u64() > Some(0))
        .filter(|p| !without_log.contains(&p["name"].as_str().unwrap()))
        .collect();
    let open = drawn
        .iter()
        .filter(|p| p["mode"] == "open" && !p["rtt_uncorrected"].is_null())
        .count();
    usize::from(!drawn.is_empty()) + 2 * drawn.len() + open
}

const VOID: [&str; 14] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

/// A strict well-formedness check (stricter than browsers and python's html.parser): every
/// element closed, in order, except HTML's void elements; attribute values quoted; every `&`
/// an entity; no `<` outside markup. A page that passes parses the same everywhere.
fn check_well_formed(html: &str) -> Result<(), String> {
    let b = html.as_bytes();
    let mut stack: Vec<String> = Vec::new();
    let mut i = 0;
    let ctx = |i: usize| {
        let mut s = i.saturating_sub(60);
        while !html.is_char_boundary(s) {
            s -= 1;
        }
        let mut e = (i + 60).min(html.len());
        while !html.is_char_boundary(e) {
            e -= 1;
        }
        format!("at byte {i}: …{}…", &html[s..e])
    };
    let check_entity = |i: usize| -> Result<(), String> {
        let rest = &html[i..];
        let ok = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]
            .iter()
            .any(|e| rest.starts_with(e));
        if ok {
            Ok(())
        } else {
            Err(format!("bare & {}", ctx(i)))
        }
    };
    if !html.starts_with("<!DOCTYPE html>") {
        return Err("no <!DOCTYPE html> first".into());
    }
    while i < b.len() {
        match b[i] {
            b'&' => {
                check_entity(i)?;
                i += 1;
            }
            b'<' if html[i..].starts_with("<!DOCTYPE") || html[i..].starts_with("<!--") => {
                let end = if html[i..].starts_with("<!--") {
                    "-->"
                } else {
                    ">"
                };
                i += html[i..]
                    .find(end)
                    .ok_or_else(|| format!("unclosed {}", ctx(i)))?
                    + end.len();
            }
            b'<' if b.get(i + 1) == Some(&b'/') => {
                let end = i + html[i..]
                    .find('>')
                    .ok_or_else(|| format!("unclosed {}", ctx(i)))?;
                let name = html[i + 2..end].trim().to_ascii_lowercase();
                match stack.pop() {
                    Some(open) if open == name => {}
                    other => {
                        return Err(format!("</{name}> closes {other:?} {}", ctx(i)));
                    }
                }
                i = end + 1;
            }
            b'<' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'-') {
                    j += 1;
                }
                if j == start {
                    return Err(format!("a '<' that starts no tag {}", ctx(i)));
                }
                let name = html[start..j].to_ascii_lowercase();
                // Attributes: name="value" or name (boolean); values may hold '>' but not '<'.
                let mut self_closing = false;
                loop {
                    while j < b.len() && b[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    match b.get(j) {
                        None => return Err(format!("unclosed <{name}> {}", ctx(i))),
                        Some(b'>') => {
                            j += 1;
                            break;
                        }
                        Some(b'/') if b.get(j + 1) == Some(&b'>') => {
                            self_closing = true;
                            j += 2;
                            break;
                        }
                        _ => {}
                    }
                    let a = j;
                    while j < b.len() && !b" =>/".contains(&b[j]) && !b[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    if j == a {
                        return Err(format!("bad attribute in <{name}> {}", ctx(j)));
                    }
                    if b.get(j) == Some(&b'=') {
                        j += 1;
                        let q = b[j];
                        if q != b'"' && q != b'\'' {
                            return Err(format!("unquoted attribute value {}", ctx(j)));
                        }
                        let close = j
                            + 1
                            + html[j + 1..]
                                .find(q as char)
                                .ok_or_else(|| format!("unclosed attribute {}", ctx(j)))?;
                        for (k, c) in html[j + 1..close].char_indices() {
                            match c {
                                '<' => return Err(format!("'<' in attribute {}", ctx(j + 1 + k))),
                                '&' => check_entity(j + 1 + k)?,
                                _ => {}
                            }
                        }
                        j = close + 1;
                    }
                }
                i = j;
                if name == "style" || name == "script" {
                    let end = format!("</{name}>");
                    i += html[i..]
                        .find(&end)
                        .ok_or_else(|| format!("unclosed <{name}>"))?
                        + end.len();
                } else if !self_closing && !VOID.contains(&name.as_str()) {
                    stack.push(name);
                }
            }
            _ => i += 1,
        }
    }
    if stack.is_empty() {
        Ok(())
    } else {
        Err(format!("unclosed at the end: {stack:?}"))
    }
}

/// The `<svg>` elements of a page.
fn svgs(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(s) = rest.find("<svg") {
        let e = s + rest[s..].find("</svg>").expect("every svg is closed") + 6;
        out.push(&rest[s..e]);
        rest = &rest[e..];
    }
    out
}

/// Whether a plot has at least one path with a real line in it (a move and a draw).
fn has_drawn_path(svg: &str) -> bool {
    svg.match_indices(" d=\"").any(|(i, m)| {
        let d = &svg[i + m.len()..];
        let d = &d[..d.find('"').unwrap()];
        d.starts_with('M') && (d.contains(" L") || d.contains(" H"))
    })
}

/// Every check that holds for any page: well-formed, nothing fetched or run, plots drawn.
fn check_page(html: &str, plots: usize) {
    check_well_formed(html).unwrap_or_else(|e| panic!("the page is not well-formed: {e}"));
    let without_ns = html.replace(r#"xmlns="http://www.w3.org/2000/svg""#, "");
    // Text from files is escaped, so a quote after `src=` can only be markup.
    for bad in [
        "http://", "https://", "src=\"", "<script", "<link", "<iframe", "<object",
    ] {
        assert!(!without_ns.contains(bad), "the page contains {bad:?}");
    }
    let css = &html[html.find("<style>").unwrap()..html.find("</style>").unwrap()];
    assert!(
        !css.contains("url(") && !css.contains("@import"),
        "the CSS fetches"
    );
    for (i, _) in html.match_indices("href=\"") {
        assert_eq!(
            &html[i + 6..i + 7],
            "#",
            "a link leaves the page: {}",
            &html[i..i + 60]
        );
    }
    assert!(html.contains("Content-Security-Policy"));
    let svgs = svgs(html);
    assert_eq!(svgs.len(), plots, "plots drawn");
    for s in &svgs {
        assert!(
            has_drawn_path(s),
            "a plot without a drawn line: {}",
            &s[..200]
        );
        assert!(!s.contains("NaN") && !s.contains("inf"), "{s}");
    }
}

fn escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[test]
fn report_of_a_lab_run_shows_context_probes_plots_and_calibration() {
    let run = copy_of_run("full");
    let page = report(&run);
    let manifest = read_json(&run.join("manifest.json"));
    let summary = read_json(&run.join("summary.json"));
    let calibration = read_json(&run.join("calibration-etcd.json"));
    check_page(&page, expected_plots(&summary, &[]));

    // Context.
    for ptr in [
        "/run_id",
        "/host/hostname",
        "/host/kernel_release",
        "/clock/source",
        "/placement/relation",
        "/tool/git_commit",
    ] {
        let v = manifest.pointer(ptr).and_then(Value::as_str).unwrap();
        assert!(page.contains(&escaped(v)), "{ptr} = {v:?} missing");
    }
    let read_cost = manifest["clock"]["read_cost_ns"].as_f64().unwrap();
    assert!(
        page.contains(&format!("{read_cost:.1} ns")),
        "clock read cost"
    );
    if manifest["status"] == "complete" {
        assert!(
            !page.contains(r#"class="banner""#),
            "a complete run has no banner"
        );
    }

    // Every probe with its counts and percentiles (µs, 3 decimals).
    for p in summary["probes"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        assert!(page.contains(&format!("Probe <code>{}</code>", escaped(name))));
        let sent = p["sent"].as_u64().unwrap();
        assert!(
            page.contains(&format!(r#"<td class="n">{sent}</td>"#)),
            "{name} sent"
        );
        let p99 = p["rtt"]["p99"].as_u64().unwrap();
        assert!(
            page.contains(&format!("{:.3}", p99 as f64 / 1000.0)),
            "{name} p99"
        );
    }
    assert!(page.contains("coordinated omission"));

    // The calibration with its derivations, warnings included.
    assert!(page.contains("Calibration for <code>etcd</code>"));
    let raft = &calibration["raft"]["derivation"];
    for key in ["parameter", "model", "formula"] {
        let text = raft[key].as_str().unwrap();
        assert!(page.contains(&escaped(text)), "raft {key} missing");
    }
    for m in raft["measured"].as_array().unwrap() {
        assert!(page.contains(&escaped(m["name"].as_str().unwrap())));
    }
    for w in calibration["warnings"].as_array().unwrap() {
        assert!(page.contains(&escaped(w.as_str().unwrap())), "warning {w}");
    }
    assert!(page.contains("detection latency") && page.contains("per hour"));
    // The exported config is shown too.
    let yaml = std::fs::read_to_string(run.join("etcd.yaml")).unwrap();
    assert!(page.contains(&escaped(&yaml)));

    // The page is a function of the files: the same run gives the same bytes.
    assert_eq!(report(&run), page);
}

#[test]
fn report_escapes_every_string_it_takes_from_files() {
    let run = copy_of_run("escape");
    let evil = r#"<script>alert("x")</script>&'"#;
    let mut summary = read_json(&run.join("summary.json"));
    summary["probes"][0]["name"] = evil.into();
    summary["probes"][1]["datapath"]["notes"] = serde_json::json!([format!("note {evil}")]);
    write_json(&run.join("summary.json"), &summary);
    let mut manifest = read_json(&run.join("manifest.json"));
    manifest["host"]["hostname"] = "<img src=x onerror=alert(1)>".into();
    manifest["config"]["<b>key</b>"] = evil.into();
    write_json(&run.join("manifest.json"), &manifest);
    let mut cal = read_json(&run.join("calibration-etcd.json"));
    cal["warnings"]
        .as_array_mut()
        .unwrap()
        .push(format!("warn {evil}").into());
    cal["raft"]["derivation"]["formula"] = format!("E < 2·h && {evil}").into();
    write_json(&run.join("calibration-etcd.json"), &cal);
    std::fs::write(run.join("odd <name>.txt"), format!("text {evil}")).unwrap();

    let page = report(&run);
    check_page(&page, expected_plots(&summary, &[]));
    for raw in ["<script", "<img", "<b>key", "<name>"] {
        assert!(!page.contains(raw), "{raw:?} reached the page unescaped");
    }
    for text in [
        evil.to_string(),
        "<img src=x onerror=alert(1)>".into(),
        "<b>key</b>".into(),
        format!("warn {evil}"),
        format!("E < 2·h && {evil}"),
        format!("note {evil}"),
        "odd <name>.txt".into(),
        format!("text {evil}"),
    ] {
        assert!(page.contains(&escaped(&text)), "{text:?} missing (escaped)");
    }
}

#[test]
fn report_survives_partial_runs_missing_logs_and_unknown_results() {
    let run = copy_of_run("partial");
    let mut manifest = read_json(&run.join("manifest.json"));
    manifest["status"] = "partial".into();
    manifest["finished_at"] = Value::Null;
    write_json(&run.join("manifest.json"), &manifest);
    let mut summary = read_json(&run.join("summary.json"));
    summary["status"] = "partial".into();
    summary["probes"][1]["status"] = "interrupted".into();
    write_json(&run.join("summary.json"), &summary);
    let gone = summary["probes"][2]["name"].as_str().unwrap().to_string();
    std::fs::remove_file(run.join(summary["probes"][2]["hlog"].as_str().unwrap())).unwrap();
    for e in std::fs::read_dir(&run).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("calibration-")
        {
            std::fs::remove_file(p).unwrap();
        }
    }
    write_json(
        &run.join("model.json"),
        &serde_json::json!({
            "model": "M/M/1",
            "fit": {"family": "exponential", "rate_hz": 125000.0, "ks_statistic": 0.0123},
            "predicted": [{"load": 0.5, "p99_ns": 36840}, {"load": 0.9, "p99_ns": 184200}],
        }),
    );
    write_json(
        &run.join("queue-codel.json"),
        &serde_json::json!({"aqm": "codel", "target_ns": 5_000_000, "drops": 17}),
    );
    std::fs::write(run.join("broken.json"), "{ not json").unwrap();

    let page = report(&run);
    check_page(&page, expected_plots(&summary, &[&gone]));
    assert!(page.contains("Partial run"), "no partial banner");
    assert!(page.contains("Probes that did not complete"));
    assert!(
        page.contains(&format!("probe {gone}: cannot read")),
        "missing hlog"
    );
    assert!(page.contains("broken.json is not valid JSON"));
    assert!(!page.contains("Calibration for"));
    for s in [
        "model.json",
        "M/M/1",
        "exponential",
        "125000/s",
        "0.0123",
        "36.84 µs",
        "184.20 µs",
    ] {
        assert!(page.contains(s), "model.json: {s} missing");
    }
    for s in ["queue-codel.json", "codel", "5.00 ms", "17"] {
        assert!(page.contains(s), "queue results: {s} missing");
    }
    // model.json comes first among the other results.
    assert!(page.find("model.json").unwrap() < page.find("queue-codel.json").unwrap());

    // A run killed before its first probe finished: a manifest saying "running", no summary.
    let early = root().join("partial").join("early");
    std::fs::create_dir_all(&early).unwrap();
    let mut manifest = read_json(&measured_run().join("manifest.json"));
    manifest["status"] = "running".into();
    write_json(&early.join("manifest.json"), &manifest);
    let page = report(&early);
    check_page(&page, 0);
    assert!(page.contains("Unfinished run") && page.contains("there is no summary.json"));
}

#[test]
fn report_writes_where_it_is_told_and_refuses_what_is_not_a_run() {
    let run = copy_of_run("output");
    let o = latlab()
        .arg("report")
        .arg(&run)
        .args(["-o", "-"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    let page = String::from_utf8(o.stdout).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
    assert!(
        !run.join("report.html").exists(),
        "-o - writes only to stdout"
    );

    let elsewhere = root().join("output").join("elsewhere.html");
    latlab()
        .arg("report")
        .arg(&run)
        .arg("-o")
        .arg(&elsewhere)
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), page);

    let o = latlab()
        .args(["report", "/nonexistent/run"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr_of(&o).contains("is not a directory"),
        "{}",
        stderr_of(&o)
    );
    let empty = root().join("output").join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = latlab().arg("report").arg(&empty).output().unwrap();
    assert!(!o.status.success());
    assert!(
        stderr_of(&o).contains("not a run directory"),
        "{}",
        stderr_of(&o)
    );
}

// ---------------------------------------------------------------------------------------------
// A real browser.

/// Skips (returns None after saying why) or, under LATLAB_REQUIRE_TOOLS=1, fails.
fn require<T>(found: Option<T>, why: &str) -> Option<T> {
    if found.is_none() {
        if std::env::var("LATLAB_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{why} (LATLAB_REQUIRE_TOOLS=1; run scripts/test-deps.sh)");
        }
        eprintln!("skipping: {why} (scripts/test-deps.sh installs it)");
    }
    found
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

fn chromium() -> Option<PathBuf> {
    std::env::var_os("CHROMIUM").map(PathBuf::from).or_else(|| {
        ["chromium", "chromium-browser"]
            .iter()
            .find_map(|n| on_path(n))
    })
}

/// Where scripts/test-deps.sh installs playwright-core.
fn playwright_node_modules() -> Option<PathBuf> {
    let dir = std::env::var_os("LATLAB_NODE_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("latlab/node"))
        })
        .or_else(|| {
            std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/latlab/node"))
        })?;
    let nm = dir.join("node_modules");
    nm.join("playwright-core/package.json")
        .is_file()
        .then_some(nm)
}

/// Runs `cmd` with a time limit; the child is killed when it overruns.
fn run_limited(cmd: &mut StdCommand, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let o = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut v).unwrap();
        v
    });
    let e = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut v).unwrap();
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} ran past {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: o.join().unwrap(),
        stderr: e.join().unwrap(),
    }
}

/// Chromium with the flags for a quiet, isolated, offline headless run.
fn headless(chromium: &Path, profile: &Path) -> StdCommand {
    let mut c = StdCommand::new(chromium);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

#[test]
fn report_renders_in_chromium_without_console_errors_or_requests() {
    let Some(chromium) = require(chromium(), "no chromium on PATH (or CHROMIUM)") else {
        return;
    };
    let run = copy_of_run("browser");
    let page = report(&run);
    let plots = expected_plots(&read_json(&run.join("summary.json")), &[]);
    let html = run.join("report.html");
    let url = format!("file://{}", html.display());
    let profiles = tempfile::tempdir().unwrap();

    // The DOM Chromium built holds every plot, drawn.
    let t = Instant::now();
    let o = run_limited(
        headless(&chromium, &profiles.path().join("dom"))
            .arg("--dump-dom")
            .arg(&url),
        Duration::from_secs(90),
    );
    assert!(o.status.success(), "chromium --dump-dom: {}", stderr_of(&o));
    let dom = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        dom.matches("<svg").count(),
        plots,
        "plots in the rendered DOM"
    );
    assert_eq!(
        svgs(&dom).iter().filter(|s| has_drawn_path(s)).count(),
        plots
    );
    assert!(dom.contains("Calibration for"));
    eprintln!("chromium --dump-dom: {:.1} s", t.elapsed().as_secs_f64());

    // A screenshot, kept in the run directory.
    let png = run.join("report.png");
    let o = run_limited(
        headless(&chromium, &profiles.path().join("shot"))
            .arg(format!("--screenshot={}", png.display()))
            .arg("--window-size=1280,4000")
            .arg(&url),
        Duration::from_secs(90),
    );
    assert!(
        o.status.success(),
        "chromium --screenshot: {}",
        stderr_of(&o)
    );
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let dim = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!((dim(16), dim(20)), (1280, 4000), "screenshot size");
    assert!(
        bytes.len() > 50_000,
        "a {} byte screenshot is blank",
        bytes.len()
    );

    // Console errors and network requests, seen from inside the browser.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/report-browser-check.mjs");
    if let (Some(node), Some(modules)) = (on_path("node"), playwright_node_modules()) {
        let o = run_limited(
            StdCommand::new(node)
                .arg(&script)
                .arg(&html)
                .args(["--expect-svgs", &plots.to_string()])
                .env("NODE_PATH", modules)
                .env("CHROMIUM", &chromium),
            Duration::from_secs(120),
        );
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "browser check failed:\n{out}\n{}",
            stderr_of(&o)
        );
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["svgs"].as_u64(), Some(plots as u64));
        assert_eq!(v["requests"], serde_json::json!([]));
        assert_eq!(v["consoleErrors"], serde_json::json!([]));
    } else {
        let why = "node or playwright-core missing: checking console errors with Chromium's log \
                   instead (network requests show only as CSP refusals)";
        if std::env::var("LATLAB_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{why} (LATLAB_REQUIRE_TOOLS=1; run scripts/test-deps.sh)");
        }
        eprintln!("{why}");
        let o = run_limited(
            headless(&chromium, &profiles.path().join("log"))
                .args(["--enable-logging=stderr", "--v=0", "--dump-dom"])
                .arg(&url),
            Duration::from_secs(90),
        );
        let log = stderr_of(&o);
        for line in log.lines() {
            assert!(
                !line.contains("CONSOLE") && !line.contains("Refused to"),
                "console: {line}"
            );
        }
    }
    assert!(page.len() > 10_000);
}

/// The well-formedness check itself rejects what it should (it guards every test above).
#[test]
fn well_formedness_check_rejects_broken_pages() {
    let ok = r#"<!DOCTYPE html><html><head><meta charset="utf-8"><style>a>b{}</style></head><body><p title="a &amp; b">x &lt; y<br><svg><path d="M1,2"/></svg></p></body></html>"#;
    check_well_formed(ok).unwrap();
    for bad in [
        ok.replace("</p>", ""),
        ok.replace("&lt;", "<"),
        ok.replace("&amp;", "&"),
        ok.replace(r#"title="a &amp; b""#, "title=ab"),
        ok.replace("<p ", "<div "),
        ok.replace("<!DOCTYPE html>", ""),
    ] {
        assert!(check_well_formed(&bad).is_err(), "accepted: {bad}");
    }
    assert!(has_drawn_path(r#"<svg><path d="M1,2 L3,4"/></svg>"#));
    assert!(!has_drawn_path(r#"<svg><path d="M1,2"/></svg>"#));
}
