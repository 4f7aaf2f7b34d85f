//! Message boundaries on a byte stream: every message is exactly `msg_len` bytes.

/// Collects stream bytes and hands out whole messages of `msg_len` bytes, in order.
#[derive(Debug)]
pub(crate) struct Framer {
    msg_len: usize,
    buf: Vec<u8>,
    fill: usize,
}

impl Framer {
    pub(crate) fn new(msg_len: usize) -> Framer {
        let msg_len = msg_len.max(1);
        Framer {
            msg_len,
            buf: vec![0; msg_len * 64],
            fill: 0,
        }
    }

    pub(crate) fn msg_len(&self) -> usize {
        self.msg_len
    }

    /// Whether a whole message is buffered.
    pub(crate) fn has_message(&self) -> bool {
        self.fill >= self.msg_len
    }

    /// Free space to read stream bytes into; follow with [`Framer::advance`].
    pub(crate) fn spare(&mut self) -> &mut [u8] {
        if self.fill == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        &mut self.buf[self.fill..]
    }

    pub(crate) fn advance(&mut self, n: usize) {
        self.fill = (self.fill + n).min(self.buf.len());
    }

    /// Appends stream bytes.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        if self.fill + bytes.len() > self.buf.len() {
            self.buf
                .resize((self.fill + bytes.len()).next_power_of_two(), 0);
        }
        self.buf[self.fill..self.fill + bytes.len()].copy_from_slice(bytes);
        self.fill += bytes.len();
    }

    /// Moves the oldest whole message into `out` (truncated to `out`'s length) and returns
    /// the bytes written, or `None` while the message is incomplete.
    pub(crate) fn pop(&mut self, out: &mut [u8]) -> Option<usize> {
        if !self.has_message() {
            return None;
        }
        let n = self.msg_len.min(out.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf.copy_within(self.msg_len..self.fill, 0);
        self.fill -= self.msg_len;
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_come_out_whole_and_in_order_whatever_the_chunking() {
        let stream: Vec<u8> = (0..=255u8).cycle().take(10 * 7).collect();
        for chunk in [1, 3, 7, 13, 70] {
            let mut f = Framer::new(7);
            let mut got = Vec::new();
            let mut out = [0u8; 7];
            for c in stream.chunks(chunk) {
                f.push(c);
                while let Some(n) = f.pop(&mut out) {
                    assert_eq!(n, 7);
                    got.extend_from_slice(&out);
                }
            }
            assert_eq!(got, stream, "chunk size {chunk}");
            assert!(!f.has_message());
        }
    }

    #[test]
    fn spare_grows_when_full_and_advance_counts_bytes() {
        let mut f = Framer::new(2);
        let cap = f.spare().len();
        f.advance(cap);
        assert!(f.spare().len() >= cap, "the buffer doubled");
        let mut out = [0u8; 1];
        assert_eq!(
            f.pop(&mut out),
            Some(1),
            "a short output truncates the message"
        );
    }
}
