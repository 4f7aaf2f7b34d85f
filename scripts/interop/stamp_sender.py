#!/usr/bin/env python3
"""A STAMP Session-Sender (RFC 8762, unauthenticated, RFC 8972 SSID) built with scapy's STAMP
layer (scapy.contrib.stamp). It sends test packets over a plain UDP socket to a reflector,
dissects each reply with scapy's Session-Reflector layer, and prints one JSON object with every
request and what scapy decoded from its reply; the caller (tests/interop_stamp.rs) judges.

Usage: python3 scripts/interop/stamp_sender.py HOST PORT [--count N] [--ssid S] [--first-seq Q]

Besides COUNT 44-byte probes (IP TTL alternating 255 and 64, so that the reflector's
Ses-Sender TTL can be checked), it sends one malformed 20-byte packet (no reply expected) and
one probe padded to 100 bytes with 0xA5 (a 100-byte reply expected; the reply's bytes after
the 44-byte packet are printed so the caller can see whether the padding came back).

Timestamps are printed as raw 64-bit NTP values (seconds since 1900 << 32 | fraction), and the
sender's own clock readings as ns since the Unix epoch (time.time_ns()).
Independent of latlab's code.
"""

import argparse
import json
import socket
import sys
import time
from fractions import Fraction

from scapy.contrib.stamp import (
    ErrorEstimate,
    STAMPSessionReflectorTestUnauthenticated as Reflector,
    STAMPSessionSenderTestUnauthenticated as Sender,
)

NTP_UNIX_OFFSET_S = 2_208_988_800
REPLY_WAIT_S = 2.0
NO_REPLY_WAIT_S = 0.5
# The request's error estimate: S=1 (synchronised), Z=0 (NTP format), 17 x 2^(5-32) s.
ERR = dict(S=1, Z=0, scale=5, multiplier=17)


def ntp_now():
    """(unix ns, raw 64-bit NTP timestamp) of now."""
    ns = time.time_ns()
    secs, sub = divmod(ns, 1_000_000_000)
    return ns, ((secs + NTP_UNIX_OFFSET_S) << 32) | ((sub << 32) // 1_000_000_000)


def ee(p):
    return [int(p.S), int(p.Z), int(p.scale), int(p.multiplier)]


def build(seq, ssid, t1_raw):
    # A Fraction keeps all 64 bits: scapy's TimeStampField takes seconds, not raw bits.
    return bytes(Sender(seq=seq, ts=Fraction(t1_raw, 1 << 32),
                        err_estimate=ErrorEstimate(**ERR), ssid=ssid))


def decode_reply(data):
    r = Reflector(data)
    g = r.getfieldval
    return {
        "len": len(data),
        "seq": g("seq"),
        "t3": g("ts"),
        "ee": ee(r.err_estimate),
        "ssid": g("ssid"),
        "t2": g("ts_rx"),
        "sender_seq": g("seq_sender"),
        "sender_t1": g("ts_sender"),
        "sender_ee": ee(r.err_estimate_sender),
        "mbz1": g("mbz1"),
        "sender_ttl": g("ttl_sender"),
        "mbz2": g("mbz2"),
        "after_44": data[44:].hex(),
    }


def recv(sock, wait):
    sock.settimeout(wait)
    try:
        data = sock.recv(65536)
    except socket.timeout:
        return None, None
    return data, time.time_ns()


def probe(sock, seq, ssid, pad=0, ttl=64):
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    t1_ns, t1_raw = ntp_now()
    pkt = build(seq, ssid, t1_raw) + b"\xa5" * pad
    # What scapy's own sender layer makes of the bytes on the wire.
    sent = Sender(pkt[:44])
    req = {
        "seq": sent.getfieldval("seq"),
        "t1": sent.getfieldval("ts"),
        "t1_unix_ns": t1_ns,
        "ee": ee(sent.err_estimate),
        "ssid": sent.getfieldval("ssid"),
        "len": len(pkt),
        "ttl": ttl,
        "reply": None,
    }
    sock.send(pkt)
    # Skip anything that is not this probe's reply (there should be nothing).
    deadline = time.monotonic() + REPLY_WAIT_S
    while time.monotonic() < deadline:
        data, t4 = recv(sock, max(0.01, deadline - time.monotonic()))
        if data is None:
            break
        if len(data) >= 44 and Reflector(data).getfieldval("seq_sender") == seq:
            req["reply"] = decode_reply(data)
            req["t4_unix_ns"] = t4
            break
    return req


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--ssid", type=int, default=4242)
    ap.add_argument("--first-seq", type=int, default=1000)
    a = ap.parse_args()

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((a.host, a.port))
    out = {"ssid": a.ssid, "probes": []}
    for i in range(a.count):
        out["probes"].append(
            probe(sock, a.first_seq + i, a.ssid, ttl=255 if i % 2 == 0 else 64))

    # Malformed: the first 20 bytes of a probe. A STAMP reflector must not answer it.
    _, t1_raw = ntp_now()
    sock.send(build(a.first_seq + a.count, a.ssid, t1_raw)[:20])
    data, _ = recv(sock, NO_REPLY_WAIT_S)
    out["short_request_len"] = 20
    out["short_reply_len"] = None if data is None else len(data)

    # Padded to 100 bytes: the reply must be as long as the request (RFC 8762 section 4.3).
    out["padded"] = probe(sock, a.first_seq + a.count + 1, a.ssid, pad=100 - 44)
    out["scapy"] = __import__("scapy").__version__
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
