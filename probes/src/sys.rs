//! The clock reads that need `unsafe`: `rdtsc`, `cpuid` and `clock_gettime`. The only module of
//! this crate allowed to use it.
#![allow(unsafe_code)]

/// Reads the time-stamp counter.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn rdtsc() -> u64 {
    // SAFETY: RDTSC has no preconditions on x86_64 (user-mode RDTSC is allowed unless the
    // kernel set CR4.TSD, which Linux does only for seccomp-strict processes).
    #[allow(unused_unsafe)]
    unsafe {
        core::arch::x86_64::_rdtsc()
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
pub(crate) fn rdtsc() -> u64 {
    0
}

/// Whether CPUID says the TSC is invariant (leaf 0x8000_0007, EDX bit 8).
#[cfg(target_arch = "x86_64")]
pub(crate) fn cpuid_invariant_tsc() -> bool {
    // SAFETY: CPUID is always available on x86_64; leaf 0x8000_0000 reports the highest
    // extended leaf, checked before 0x8000_0007 is read.
    #[allow(unused_unsafe)]
    unsafe {
        let max = core::arch::x86_64::__cpuid(0x8000_0000).eax;
        max >= 0x8000_0007 && core::arch::x86_64::__cpuid(0x8000_0007).edx & (1 << 8) != 0
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn cpuid_invariant_tsc() -> bool {
    false
}

/// Reads a POSIX clock, in nanoseconds.
#[inline(always)]
pub(crate) fn clock_ns(id: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock ids used here always exist on Linux.
    unsafe { libc::clock_gettime(id, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The resolution the kernel reports for a POSIX clock, in nanoseconds.
pub(crate) fn clock_res_ns(id: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_getres(id, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
