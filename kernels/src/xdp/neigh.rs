//! Neighbour (ARP) lookups and MAC address text.
//!
//! The kernel's IPv4 neighbour table is read from `/proc/thread-self/net/arp`: "thread-self"
//! rather than "self" so that a thread that entered another network namespace with `setns(2)`
//! sees that namespace's table (`/proc/self` follows the thread-group leader).

use std::net::Ipv4Addr;

/// `ATF_COM`: the entry is complete (has a hardware address).
const ATF_COM: u32 = 0x02;

/// Parses `aa:bb:cc:dd:ee:ff` (or with `-` separators) into six bytes.
pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let s = s.trim();
    let sep = if s.contains('-') { '-' } else { ':' };
    let parts: Vec<&str> = s.split(sep).collect();
    if parts.len() != 6 {
        return Err(format!(
            "invalid MAC address {s:?}: expected six hex bytes like 02:00:5e:00:00:01"
        ));
    }
    let mut mac = [0u8; 6];
    for (m, p) in mac.iter_mut().zip(&parts) {
        if p.is_empty() || p.len() > 2 {
            return Err(format!(
                "invalid MAC address {s:?}: {p:?} is not one hex byte"
            ));
        }
        *m = u8::from_str_radix(p, 16)
            .map_err(|_| format!("invalid MAC address {s:?}: {p:?} is not one hex byte"))?;
    }
    Ok(mac)
}

/// Formats six bytes as `aa:bb:cc:dd:ee:ff`.
pub(crate) fn format_mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// Finds the complete entry for `ip` on `iface` in the text of `/proc/net/arp`.
pub(crate) fn find_in_proc_arp(text: &str, ip: Ipv4Addr, iface: &str) -> Option<[u8; 6]> {
    text.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        // IP address, HW type, Flags, HW address, Mask, Device
        if f.len() < 6 || f[5] != iface || f[0].parse::<Ipv4Addr>().ok()? != ip {
            return None;
        }
        let flags = u32::from_str_radix(f[2].trim_start_matches("0x"), 16).ok()?;
        let mac = parse_mac(f[3]).ok()?;
        (flags & ATF_COM != 0 && mac != [0; 6]).then_some(mac)
    })
}

/// Looks `ip` up in the calling thread's network namespace's ARP table.
pub(crate) fn lookup(ip: Ipv4Addr, iface: &str) -> Option<[u8; 6]> {
    let text = std::fs::read_to_string("/proc/thread-self/net/arp")
        .or_else(|_| std::fs::read_to_string("/proc/net/arp"))
        .ok()?;
    find_in_proc_arp(&text, ip, iface)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
IP address       HW type     Flags       HW address            Mask     Device
10.0.0.1         0x1         0x2         52:54:00:12:35:02     *        eth0
10.77.0.2        0x1         0x6         02:4c:4c:00:00:02     *        lab0
10.77.0.3        0x1         0x0         00:00:00:00:00:00     *        lab0
192.168.1.9      0x1         0x2         aa:bb:cc:dd:ee:ff     *        eth1
10.77.0.2        0x1         0x2         de:ad:be:ef:00:01     *        eth0
";

    #[test]
    fn finds_complete_entries_on_the_right_device() {
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            find_in_proc_arp(SAMPLE, ip("10.0.0.1"), "eth0"),
            Some([0x52, 0x54, 0x00, 0x12, 0x35, 0x02])
        );
        // Permanent entry (flags 0x6 = complete | permanent), not the same IP on eth0.
        assert_eq!(
            find_in_proc_arp(SAMPLE, ip("10.77.0.2"), "lab0"),
            Some([0x02, 0x4c, 0x4c, 0x00, 0x00, 0x02])
        );
        assert_eq!(
            find_in_proc_arp(SAMPLE, ip("10.77.0.2"), "eth0"),
            Some([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01])
        );
        // Incomplete entry.
        assert_eq!(find_in_proc_arp(SAMPLE, ip("10.77.0.3"), "lab0"), None);
        // Wrong device, unknown address, header only.
        assert_eq!(find_in_proc_arp(SAMPLE, ip("192.168.1.9"), "eth0"), None);
        assert_eq!(find_in_proc_arp(SAMPLE, ip("10.9.9.9"), "eth0"), None);
        assert_eq!(
            find_in_proc_arp("garbage\n1 2 3\n", ip("10.0.0.1"), "eth0"),
            None
        );
    }

    #[test]
    fn mac_text() {
        assert_eq!(
            parse_mac("02:00:5e:AB:cd:01"),
            Ok([0x02, 0x00, 0x5e, 0xab, 0xcd, 0x01])
        );
        assert_eq!(
            parse_mac("02-00-5e-ab-cd-01"),
            parse_mac("02:00:5e:ab:cd:01")
        );
        assert_eq!(parse_mac("2:0:5e:ab:cd:1"), Ok([2, 0, 0x5e, 0xab, 0xcd, 1]));
        for bad in [
            "",
            "02:00:5e:ab:cd",
            "02:00:5e:ab:cd:01:02",
            "02:00:5e:ab:cd:0g",
            "020:0:5e:ab:cd:01",
            "02::5e:ab:cd:01",
        ] {
            let e = parse_mac(bad).unwrap_err();
            assert!(e.contains("invalid MAC"), "{bad}: {e}");
        }
        assert_eq!(
            format_mac(&[0x02, 0, 0x5e, 0xab, 0xcd, 1]),
            "02:00:5e:ab:cd:01"
        );
    }
}
