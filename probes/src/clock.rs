//! The probe's clock: the cheapest stable one, with its own cost measured.
//!
//! On x86_64 with an invariant TSC (CPUID 0x8000_0007 EDX bit 8, or the kernel's
//! `constant_tsc` + `nonstop_tsc` flags) the clock is `rdtsc`, converted to nanoseconds by a
//! frequency calibrated against `CLOCK_MONOTONIC_RAW`. Elsewhere it is `CLOCK_MONOTONIC_RAW`
//! itself. Either way [`Clock::info`] says which, what a read costs, its resolution, and — for
//! the TSC — how far the calibration can be off, because the observer is part of the result.
//!
//! Raw readings are *ticks*; differences are converted with [`Clock::delta_ns`]. Wall-clock
//! time for STAMP timestamps comes from one `CLOCK_REALTIME` reading taken at calibration plus
//! the monotonic elapsed time, so a wall-clock step during a run cannot distort the RTT.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::sys;

/// Which clock provides ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClockSource {
    /// The x86 time-stamp counter, invariant, calibrated against CLOCK_MONOTONIC_RAW.
    Tsc,
    /// `clock_gettime(CLOCK_MONOTONIC_RAW)`, ticks are nanoseconds.
    MonotonicRaw,
}

/// What is known about the clock, for the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClockInfo {
    /// The clock that times probes.
    pub source: ClockSource,
    /// Whether the CPU reports an invariant TSC (CPUID, or /proc/cpuinfo flags).
    pub tsc_invariant: bool,
    /// The kernel's current clocksource (`/sys/devices/system/clocksource/clocksource0`).
    pub kernel_clocksource: Option<String>,
    /// Calibrated TSC frequency in Hz (TSC source only).
    pub tsc_hz: Option<f64>,
    /// Bound on the frequency calibration error, in parts per million (TSC source only):
    /// the larger of the reading brackets' bound and the spread between repeated calibrations.
    pub calibration_error_ppm: Option<f64>,
    /// Mean cost of one clock read, in nanoseconds, measured at start.
    pub read_cost_ns: f64,
    /// Size of one tick in nanoseconds (TSC period, or clock_getres for CLOCK_MONOTONIC_RAW).
    pub resolution_ns: f64,
    /// Smallest non-zero difference seen between two back-to-back reads, in nanoseconds.
    pub min_step_ns: f64,
}

/// A calibrated clock. Cheap to copy; share one per run.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    source: ClockSource,
    /// ns = ticks * mult >> 32.
    mult: u64,
    base_ticks: u64,
    base_unix_ns: u64,
    tsc_hz: Option<f64>,
    calibration_error_ppm: Option<f64>,
    tsc_invariant: bool,
}

const CAL_WINDOWS: usize = 3;

impl Clock {
    /// The best clock on this machine: an invariant TSC when there is one, calibrated over
    /// about 60 ms; otherwise CLOCK_MONOTONIC_RAW.
    pub fn best() -> Clock {
        let invariant = tsc_invariant();
        if invariant && cfg!(target_arch = "x86_64") {
            Self::calibrate_tsc(Duration::from_millis(20))
        } else {
            Self::monotonic_raw_with(invariant)
        }
    }

    /// CLOCK_MONOTONIC_RAW, whatever the CPU offers.
    pub fn monotonic_raw() -> Clock {
        Self::monotonic_raw_with(tsc_invariant())
    }

    fn monotonic_raw_with(tsc_invariant: bool) -> Clock {
        let base_ticks = sys::clock_ns(libc::CLOCK_MONOTONIC_RAW);
        let base_unix_ns = sys::clock_ns(libc::CLOCK_REALTIME);
        Clock {
            source: ClockSource::MonotonicRaw,
            mult: 1 << 32,
            base_ticks,
            base_unix_ns,
            tsc_hz: None,
            calibration_error_ppm: None,
            tsc_invariant,
        }
    }

    /// Calibrates the TSC against CLOCK_MONOTONIC_RAW over [`CAL_WINDOWS`] windows of `window`.
    fn calibrate_tsc(window: Duration) -> Clock {
        // One reading: (tsc midpoint, raw ns, bracket width in ticks).
        let read = || {
            let mut best = (0u64, 0u64, u64::MAX);
            for _ in 0..16 {
                let a = sys::rdtsc();
                let ns = sys::clock_ns(libc::CLOCK_MONOTONIC_RAW);
                let b = sys::rdtsc();
                if b.wrapping_sub(a) < best.2 {
                    best = (a + (b - a) / 2, ns, b - a);
                }
            }
            best
        };
        let start = read();
        let real = sys::clock_ns(libc::CLOCK_REALTIME);
        let raw = sys::clock_ns(libc::CLOCK_MONOTONIC_RAW);
        // The wall-clock time of the start reading.
        let base_unix_ns = real.saturating_sub(raw.saturating_sub(start.1));
        let mut freqs = Vec::with_capacity(CAL_WINDOWS);
        let mut bracket_ppm: f64 = 0.0;
        let mut prev = start;
        for _ in 0..CAL_WINDOWS {
            let until = prev.1 + window.as_nanos() as u64;
            while sys::clock_ns(libc::CLOCK_MONOTONIC_RAW) < until {
                std::hint::spin_loop();
            }
            let now = read();
            let dt_ticks = now.0 - prev.0;
            let dt_ns = now.1 - prev.1;
            freqs.push(dt_ticks as f64 * 1e9 / dt_ns as f64);
            bracket_ppm = bracket_ppm.max((now.2 + prev.2) as f64 / dt_ticks as f64 * 1e6);
            prev = now;
        }
        // The whole span gives the frequency; the windows give the spread.
        let hz = (prev.0 - start.0) as f64 * 1e9 / (prev.1 - start.1) as f64;
        let (lo, hi) = freqs
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &f| (lo.min(f), hi.max(f)));
        let spread_ppm = (hi - lo) / hz * 1e6;
        Clock {
            source: ClockSource::Tsc,
            mult: ((1e9 * (1u64 << 32) as f64) / hz).round() as u64,
            base_ticks: start.0,
            base_unix_ns,
            tsc_hz: Some(hz),
            calibration_error_ppm: Some(bracket_ppm.max(spread_ppm)),
            tsc_invariant: true,
        }
    }

    /// The clock providing ticks.
    pub fn source(&self) -> ClockSource {
        self.source
    }

    /// Reads the clock, in ticks.
    #[inline(always)]
    pub fn now(&self) -> u64 {
        match self.source {
            ClockSource::Tsc => sys::rdtsc(),
            ClockSource::MonotonicRaw => sys::clock_ns(libc::CLOCK_MONOTONIC_RAW),
        }
    }

    /// Converts a tick count (a difference of readings) to nanoseconds.
    #[inline(always)]
    pub fn delta_ns(&self, ticks: u64) -> u64 {
        ((ticks as u128 * self.mult as u128) >> 32) as u64
    }

    /// Converts nanoseconds to ticks (for deadlines and schedules).
    #[inline]
    pub fn ns_to_ticks(&self, ns: u64) -> u64 {
        (((ns as u128) << 32) / self.mult as u128) as u64
    }

    /// Nanoseconds from `earlier` to `later` (0 if `later` is before `earlier`).
    #[inline(always)]
    pub fn elapsed_ns(&self, earlier: u64, later: u64) -> u64 {
        self.delta_ns(later.saturating_sub(earlier))
    }

    /// Wall-clock time of a reading, in ns since the Unix epoch.
    pub fn unix_ns(&self, ticks: u64) -> u64 {
        if ticks >= self.base_ticks {
            self.base_unix_ns + self.delta_ns(ticks - self.base_ticks)
        } else {
            self.base_unix_ns
                .saturating_sub(self.delta_ns(self.base_ticks - ticks))
        }
    }

    /// The current wall-clock time as this clock sees it (ns since the Unix epoch).
    pub fn now_unix_ns(&self) -> u64 {
        self.unix_ns(self.now())
    }

    /// Measures this clock's read cost and resolution (takes a few milliseconds).
    pub fn info(&self) -> ClockInfo {
        const N: u64 = 200_000;
        let t0 = sys::clock_ns(libc::CLOCK_MONOTONIC_RAW);
        let mut acc = 0u64;
        for _ in 0..N {
            acc = acc.wrapping_add(std::hint::black_box(self.now()));
        }
        std::hint::black_box(acc);
        let read_cost_ns = (sys::clock_ns(libc::CLOCK_MONOTONIC_RAW) - t0) as f64 / N as f64;
        let mut min_step = u64::MAX;
        for _ in 0..10_000 {
            let a = self.now();
            let b = self.now();
            if b > a {
                min_step = min_step.min(b - a);
            }
        }
        let tick_ns = match self.source {
            ClockSource::Tsc => 1e9 / self.tsc_hz.unwrap_or(1e9),
            ClockSource::MonotonicRaw => sys::clock_res_ns(libc::CLOCK_MONOTONIC_RAW) as f64,
        };
        ClockInfo {
            source: self.source,
            tsc_invariant: self.tsc_invariant,
            kernel_clocksource: std::fs::read_to_string(
                "/sys/devices/system/clocksource/clocksource0/current_clocksource",
            )
            .ok()
            .map(|s| s.trim().to_string()),
            tsc_hz: self.tsc_hz,
            calibration_error_ppm: self.calibration_error_ppm,
            read_cost_ns,
            resolution_ns: tick_ns,
            min_step_ns: if min_step == u64::MAX {
                0.0
            } else {
                min_step as f64 * self.mult as f64 / (1u64 << 32) as f64
            },
        }
    }
}

/// Whether this CPU's TSC is invariant (CPUID, confirmed by the kernel's flags when present).
pub fn tsc_invariant() -> bool {
    if !cfg!(target_arch = "x86_64") {
        return false;
    }
    if sys::cpuid_invariant_tsc() {
        return true;
    }
    // Some hypervisors hide the CPUID bit but the kernel still reports both flags.
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| {
            s.lines().find(|l| l.starts_with("flags")).is_some_and(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.contains(&"constant_tsc") && f.contains(&"nonstop_tsc")
            })
        })
        .unwrap_or(false)
}

/// Wall-clock time now (`CLOCK_REALTIME`), ns since the Unix epoch: what STAMP timestamps carry.
#[inline(always)]
pub fn wall_ns() -> u64 {
    sys::clock_ns(libc::CLOCK_REALTIME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_clock_agrees_with_monotonic_raw_over_a_sleep() {
        let c = Clock::best();
        let t0 = c.now();
        let r0 = sys::clock_ns(libc::CLOCK_MONOTONIC_RAW);
        std::thread::sleep(Duration::from_millis(30));
        let t1 = c.now();
        let r1 = sys::clock_ns(libc::CLOCK_MONOTONIC_RAW);
        let ours = c.elapsed_ns(t0, t1) as f64;
        let raw = (r1 - r0) as f64;
        // Within 0.1% plus the two reads' skew.
        assert!(
            (ours - raw).abs() < raw * 1e-3 + 20_000.0,
            "ours {ours} raw {raw}"
        );
    }

    #[test]
    fn tick_conversions_round_trip() {
        let c = Clock::best();
        for ns in [0u64, 1_000, 1_000_000, 3_600_000_000_000] {
            let back = c.delta_ns(c.ns_to_ticks(ns));
            assert!(
                back.abs_diff(ns) <= 1 + ns / 1_000_000_000,
                "{ns} -> {back}"
            );
        }
    }

    #[test]
    fn wall_clock_is_close_to_realtime() {
        let c = Clock::best();
        let ours = c.now_unix_ns();
        let real = sys::clock_ns(libc::CLOCK_REALTIME);
        assert!(ours.abs_diff(real) < 5_000_000, "ours {ours} real {real}");
    }

    #[test]
    fn info_is_plausible() {
        let info = Clock::best().info();
        assert!(
            info.read_cost_ns > 0.0 && info.read_cost_ns < 10_000.0,
            "{info:?}"
        );
        assert!(info.resolution_ns > 0.0, "{info:?}");
        if info.source == ClockSource::Tsc {
            let hz = info.tsc_hz.unwrap();
            assert!((1e8..1e10).contains(&hz), "{hz}");
            assert!(info.calibration_error_ppm.unwrap() < 10_000.0, "{info:?}");
        }
    }
}
