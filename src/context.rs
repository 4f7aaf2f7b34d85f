//! What every measuring command does around its probes: calibrate the clock, create the run
//! directory, write the manifest first (status running) and again at the end.

use std::time::SystemTime;

use anyhow::{Context, Result};
use latlab_probes::clock::ClockInfo;
use latlab_probes::manifest::{HostInfo, Manifest, Summary, ToolInfo, MANIFEST_SCHEMA};
use latlab_probes::rundir::write_json;
use latlab_probes::{Clock, RunDir, RunStatus};
use latlab_topology::{Placement, Topology};

/// A measuring run in progress.
pub struct RunContext {
    pub clock: Clock,
    pub clock_info: ClockInfo,
    pub dir: RunDir,
    pub manifest: Manifest,
    pub summary: Summary,
}

pub fn tool_info() -> ToolInfo {
    ToolInfo {
        name: "latlab".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        git_commit: env!("LATLAB_GIT_COMMIT").into(),
    }
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

impl RunContext {
    /// Calibrates the clock and creates the run directory under `root`.
    pub fn start(
        root: &std::path::Path,
        kind: &str,
        command: &str,
        placement: Placement,
        config: serde_json::Value,
    ) -> Result<RunContext> {
        let clock = Clock::best();
        let clock_info = clock.info();
        let topo = Topology::detect();
        let dir = RunDir::create(root, kind).context("creating the run directory")?;
        let manifest = Manifest {
            schema: MANIFEST_SCHEMA.into(),
            run_id: dir.id().to_string(),
            command: command.into(),
            argv: std::env::args().collect(),
            started_at: now_rfc3339(),
            finished_at: None,
            status: RunStatus::Running,
            tool: tool_info(),
            host: HostInfo::detect(&topo),
            clock: clock_info.clone(),
            placement,
            config,
        };
        write_json(&dir.file("manifest.json"), &manifest).context("writing manifest.json")?;
        let summary = Summary::new(dir.id());
        Ok(RunContext {
            clock,
            clock_info,
            dir,
            manifest,
            summary,
        })
    }

    /// Writes summary.json (after each probe, so a crash loses at most the probe in flight).
    pub fn save_summary(&self) -> Result<()> {
        write_json(&self.dir.file("summary.json"), &self.summary).context("writing summary.json")
    }

    /// Marks the run complete or partial and writes both files.
    pub fn finish(&mut self, status: RunStatus) -> Result<()> {
        self.manifest.status = status;
        self.manifest.finished_at = Some(now_rfc3339());
        self.summary.status = status;
        self.save_summary()?;
        write_json(&self.dir.file("manifest.json"), &self.manifest).context("writing manifest.json")
    }
}

impl RunContext {
    /// Removes the run directory of a run that measured nothing (e.g. a typo in the target).
    pub fn abandon(self) {
        let _ = std::fs::remove_dir_all(self.dir.path());
    }
}
