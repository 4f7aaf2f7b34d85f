//! A tiny eBPF assembler and latlab's XDP filter program, so that no C compiler is needed.
//!
//! An instruction is 8 bytes: opcode, a byte with the destination register in the low nibble
//! and the source register in the high nibble, a signed 16-bit offset and a signed 32-bit
//! immediate, both little-endian (x86-64 and aarch64 are little-endian; the kernel wants host
//! order). The encodings follow the kernel's `Documentation/bpf/standardization/
//! instruction-set.rst`.

/// One eBPF instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

// Instruction classes, sizes, modes and operations (uapi/linux/bpf_common.h, bpf.h).
const BPF_LD: u8 = 0x00;
const BPF_LDX: u8 = 0x01;
const BPF_JMP: u8 = 0x05;
const BPF_ALU64: u8 = 0x07;
const BPF_W: u8 = 0x00;
const BPF_H: u8 = 0x08;
const BPF_B: u8 = 0x10;
const BPF_DW: u8 = 0x18;
const BPF_IMM: u8 = 0x00;
const BPF_MEM: u8 = 0x60;
const BPF_K: u8 = 0x00;
const BPF_X: u8 = 0x08;
const BPF_ADD: u8 = 0x00;
const BPF_AND: u8 = 0x50;
const BPF_MOV: u8 = 0xb0;
const BPF_JNE: u8 = 0x50;
const BPF_JGT: u8 = 0x20;
const BPF_CALL: u8 = 0x80;
const BPF_EXIT: u8 = 0x90;
/// `src_reg` of a 64-bit immediate load meaning "imm is a map fd".
const BPF_PSEUDO_MAP_FD: u8 = 1;

/// Registers.
pub(crate) const R0: u8 = 0;
pub(crate) const R1: u8 = 1;
pub(crate) const R2: u8 = 2;
pub(crate) const R3: u8 = 3;
pub(crate) const R4: u8 = 4;
pub(crate) const R5: u8 = 5;
pub(crate) const R6: u8 = 6;

/// Helper `bpf_redirect_map(map, key, flags)`.
const FN_REDIRECT_MAP: i32 = 51;
/// XDP actions.
pub(crate) const XDP_PASS: i32 = 2;

/// Field offsets in `struct xdp_md`.
const XDP_MD_DATA: i16 = 0;
const XDP_MD_DATA_END: i16 = 4;
const XDP_MD_RX_QUEUE_INDEX: i16 = 16;

impl Insn {
    fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            dst,
            src,
            off,
            imm,
        }
    }

    /// `dst = src` (64-bit).
    pub fn mov64_reg(dst: u8, src: u8) -> Insn {
        Insn::new(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0)
    }

    /// `dst = imm` (64-bit, sign-extended).
    pub fn mov64_imm(dst: u8, imm: i32) -> Insn {
        Insn::new(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
    }

    /// `dst += imm` (64-bit).
    pub fn add64_imm(dst: u8, imm: i32) -> Insn {
        Insn::new(BPF_ALU64 | BPF_ADD | BPF_K, dst, 0, 0, imm)
    }

    /// `dst &= imm` (64-bit).
    pub fn and64_imm(dst: u8, imm: i32) -> Insn {
        Insn::new(BPF_ALU64 | BPF_AND | BPF_K, dst, 0, 0, imm)
    }

    /// `dst = *(u32 *)(src + off)`.
    pub fn ldx_w(dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0)
    }

    /// `dst = *(u16 *)(src + off)`.
    pub fn ldx_h(dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(BPF_LDX | BPF_MEM | BPF_H, dst, src, off, 0)
    }

    /// `dst = *(u8 *)(src + off)`.
    pub fn ldx_b(dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(BPF_LDX | BPF_MEM | BPF_B, dst, src, off, 0)
    }

    /// `if dst != imm goto +off`.
    pub fn jne_imm(dst: u8, imm: i32, off: i16) -> Insn {
        Insn::new(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm)
    }

    /// `if dst > src goto +off` (unsigned).
    pub fn jgt_reg(dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(BPF_JMP | BPF_JGT | BPF_X, dst, src, off, 0)
    }

    /// `call helper`.
    pub fn call(helper: i32) -> Insn {
        Insn::new(BPF_JMP | BPF_CALL, 0, 0, 0, helper)
    }

    /// `exit` (return r0).
    pub fn exit() -> Insn {
        Insn::new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
    }

    /// `dst = map (by fd)`: a 64-bit immediate load, two instruction slots.
    pub fn ld_map_fd(dst: u8, fd: i32) -> [Insn; 2] {
        [
            Insn::new(BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, 0, fd),
            Insn::new(0, 0, 0, 0, 0),
        ]
    }

    /// The 8-byte wire encoding.
    pub fn encode(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = (self.src << 4) | (self.dst & 0x0f);
        b[2..4].copy_from_slice(&self.off.to_le_bytes());
        b[4..8].copy_from_slice(&self.imm.to_le_bytes());
        b
    }
}

/// A forward jump waiting for its target.
enum Slot {
    Done(Insn),
    /// A conditional jump to the `pass` label: the instruction with a placeholder offset.
    ToPass(Insn),
}

/// The XDP filter: redirect IPv4/UDP frames with IHL 5, no fragmentation and UDP destination
/// port `port` to the XSKMAP `map_fd` at key `rx_queue_index` (falling back to `XDP_PASS` when
/// no socket sits there); pass everything else to the kernel stack untouched.
pub(crate) fn filter_program(map_fd: i32, port: u16) -> Vec<Insn> {
    use Slot::{Done, ToPass};
    // Loads of network-order fields happen in host (little-endian) order, so constants are
    // compared byte-swapped: EtherType 0x0800 reads as 0x0008.
    let ethertype_ipv4 = i32::from(0x0800u16.swap_bytes());
    let port_le = i32::from(port.swap_bytes());
    let mut p: Vec<Slot> = vec![
        // r6 = ctx (r1 is clobbered by the helper call)
        Done(Insn::mov64_reg(R6, R1)),
        // r2 = ctx->data
        Done(Insn::ldx_w(R2, R1, XDP_MD_DATA)),
        // r3 = ctx->data_end
        Done(Insn::ldx_w(R3, R1, XDP_MD_DATA_END)),
        // r4 = data + 42 (Ethernet 14 + IPv4 20 + UDP 8)
        Done(Insn::mov64_reg(R4, R2)),
        Done(Insn::add64_imm(R4, 42)),
        // if data + 42 > data_end: too short, pass (this bounds check covers every read below)
        ToPass(Insn::jgt_reg(R4, R3, 0)),
        // r5 = EtherType (bytes 12..14)
        Done(Insn::ldx_h(R5, R2, 12)),
        // if not IPv4: pass
        ToPass(Insn::jne_imm(R5, ethertype_ipv4, 0)),
        // r5 = IPv4 version and IHL (byte 14)
        Done(Insn::ldx_b(R5, R2, 14)),
        // if not version 4 with a 20-byte header: pass
        ToPass(Insn::jne_imm(R5, 0x45, 0)),
        // r5 = IPv4 protocol (byte 23)
        Done(Insn::ldx_b(R5, R2, 23)),
        // if not UDP: pass
        ToPass(Insn::jne_imm(R5, 17, 0)),
        // r5 = IPv4 flags and fragment offset (bytes 20..22)
        Done(Insn::ldx_h(R5, R2, 20)),
        // keep More Fragments and the offset (0x3fff in network order is 0xff3f loaded)
        Done(Insn::and64_imm(R5, 0xff3f)),
        // if a fragment: pass
        ToPass(Insn::jne_imm(R5, 0, 0)),
        // r5 = UDP destination port (bytes 36..38)
        Done(Insn::ldx_h(R5, R2, 36)),
        // if not our port: pass
        ToPass(Insn::jne_imm(R5, port_le, 0)),
        // r2 = key = ctx->rx_queue_index
        Done(Insn::ldx_w(R2, R6, XDP_MD_RX_QUEUE_INDEX)),
    ];
    // r1 = the XSKMAP (two slots)
    p.extend(Insn::ld_map_fd(R1, map_fd).map(Done));
    p.extend([
        // r3 = flags: the action if the slot is empty = XDP_PASS
        Done(Insn::mov64_imm(R3, XDP_PASS)),
        // r0 = bpf_redirect_map(r1, r2, r3)
        Done(Insn::call(FN_REDIRECT_MAP)),
        // return r0
        Done(Insn::exit()),
    ]);
    let pass = p.len();
    p.extend([
        // pass: r0 = XDP_PASS
        Done(Insn::mov64_imm(R0, XDP_PASS)),
        // return r0
        Done(Insn::exit()),
    ]);
    p.into_iter()
        .enumerate()
        .map(|(i, s)| match s {
            Done(insn) => insn,
            ToPass(mut insn) => {
                insn.off = (pass - i - 1) as i16;
                insn
            }
        })
        .collect()
}

/// Encodes a program for `BPF_PROG_LOAD`.
pub(crate) fn encode(prog: &[Insn]) -> Vec<[u8; 8]> {
    prog.iter().map(Insn::encode).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_encodings() {
        // r0 = 2; exit — as `llvm-objdump -d` prints them.
        assert_eq!(
            Insn::mov64_imm(R0, 2).encode(),
            [0xb7, 0x00, 0, 0, 2, 0, 0, 0]
        );
        assert_eq!(Insn::exit().encode(), [0x95, 0, 0, 0, 0, 0, 0, 0]);
        // r6 = r1: dst in the low nibble, src in the high one.
        assert_eq!(
            Insn::mov64_reg(R6, R1).encode(),
            [0xbf, 0x16, 0, 0, 0, 0, 0, 0]
        );
        // r3 = *(u32 *)(r1 + 4)
        assert_eq!(
            Insn::ldx_w(R3, R1, 4).encode(),
            [0x61, 0x13, 4, 0, 0, 0, 0, 0]
        );
        // r5 = *(u16 *)(r2 + 36)
        assert_eq!(
            Insn::ldx_h(R5, R2, 36).encode(),
            [0x69, 0x25, 36, 0, 0, 0, 0, 0]
        );
        // r5 = *(u8 *)(r2 + 23)
        assert_eq!(
            Insn::ldx_b(R5, R2, 23).encode(),
            [0x71, 0x25, 23, 0, 0, 0, 0, 0]
        );
        // r4 += 42
        assert_eq!(
            Insn::add64_imm(R4, 42).encode(),
            [0x07, 0x04, 0, 0, 42, 0, 0, 0]
        );
        // r5 &= 0xff3f
        assert_eq!(
            Insn::and64_imm(R5, 0xff3f).encode(),
            [0x57, 0x05, 0, 0, 0x3f, 0xff, 0, 0]
        );
        // if r4 > r3 goto +20
        assert_eq!(
            Insn::jgt_reg(R4, R3, 20).encode(),
            [0x2d, 0x34, 20, 0, 0, 0, 0, 0]
        );
        // if r5 != 0x45 goto -1 (offset is signed little-endian)
        assert_eq!(
            Insn::jne_imm(R5, 0x45, -1).encode(),
            [0x55, 0x05, 0xff, 0xff, 0x45, 0, 0, 0]
        );
        // call bpf_redirect_map
        assert_eq!(Insn::call(51).encode(), [0x85, 0, 0, 0, 51, 0, 0, 0]);
        // r1 = map fd 7: ld_imm64 with src = BPF_PSEUDO_MAP_FD, second slot all zero.
        let [a, b] = Insn::ld_map_fd(R1, 7);
        assert_eq!(a.encode(), [0x18, 0x11, 0, 0, 7, 0, 0, 0]);
        assert_eq!(b.encode(), [0; 8]);
    }

    /// Loads programs into the running kernel (skipped without the privilege): the filter
    /// passes the verifier, and a rejected program comes back with the verifier's log.
    #[test]
    fn kernel_verifier() {
        use crate::sys::xdp::{bpf_create_xskmap, bpf_prog_load_xdp};
        use std::os::fd::AsRawFd;
        let map = match bpf_create_xskmap(1) {
            Ok(m) => m,
            Err(e) => {
                use std::io::Write;
                // Past libtest's capture, so that the reason shows.
                let _ = writeln!(
                    std::io::stderr(),
                    "skipping kernel_verifier: cannot create an XSKMAP ({e}); needs root"
                );
                return;
            }
        };
        let prog = encode(&filter_program(map.as_raw_fd(), 862));
        if let Err(e) = bpf_prog_load_xdp(&prog, "latlab_test") {
            panic!("filter program refused: {}\n{}", e.error, e.log);
        }
        // Reads a packet byte without the bounds check the verifier demands.
        let bad = encode(&[
            Insn::ldx_w(R2, R1, XDP_MD_DATA),
            Insn::ldx_b(R0, R2, 0),
            Insn::exit(),
        ]);
        let e = bpf_prog_load_xdp(&bad, "latlab_bad").expect_err("unchecked packet read");
        assert!(
            e.log.contains("invalid access to packet"),
            "{}: {}",
            e.error,
            e.log
        );
    }

    #[test]
    fn filter_jumps_land_on_pass() {
        let prog = filter_program(5, 862);
        let pass = prog.len() - 2;
        assert_eq!(prog[pass], Insn::mov64_imm(R0, XDP_PASS));
        let mut jumps = 0;
        for (i, insn) in prog.iter().enumerate() {
            if insn.code & 0x07 == BPF_JMP
                && insn.code & 0xf0 != BPF_CALL
                && insn.code & 0xf0 != BPF_EXIT
            {
                assert_eq!(i as i64 + 1 + i64::from(insn.off), pass as i64, "insn {i}");
                jumps += 1;
            }
        }
        assert_eq!(jumps, 6);
        // Port 862 (0x035e) is compared as loaded little-endian: 0x5e03.
        assert!(prog.contains(&Insn::jne_imm(R5, 0x5e03, (pass - 17) as i16)));
        assert_eq!(prog.last(), Some(&Insn::exit()));
    }
}
