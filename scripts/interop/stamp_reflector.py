#!/usr/bin/env python3
"""A STAMP Session-Reflector (RFC 8762 stateless, unauthenticated, RFC 8972 SSID) built with
scapy's STAMP layer (scapy.contrib.stamp). It dissects every request with scapy's
Session-Sender layer, answers with a Session-Reflector packet built by scapy (as long as the
request, sequence number copied, t2 and t3 from this host's clock, the request's TTL), and
prints one JSON object with every request it decoded and the t2/t3 it put in each reply; the
caller (tests/interop_stamp.rs) judges.

Usage: python3 scripts/interop/stamp_reflector.py [--count N] [--max-seconds S] [--idle-seconds I]

Binds 127.0.0.1 on a free UDP port and prints that port on the first line of stdout. Stops
after COUNT requests, after IDLE seconds without one (once one came), or after MAX seconds.
Timestamps are printed as raw 64-bit NTP values. Independent of latlab's code.
"""

import argparse
import json
import socket
import struct
import sys
import time
from fractions import Fraction

from scapy.contrib.stamp import (
    ErrorEstimate,
    STAMPSessionReflectorTestUnauthenticated as Reflector,
    STAMPSessionSenderTestUnauthenticated as Sender,
)

NTP_UNIX_OFFSET_S = 2_208_988_800
# Python's socket module lacks IP_RECVTTL before 3.12; 12 is its value on Linux.
IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)


def ntp_now():
    ns = time.time_ns()
    secs, sub = divmod(ns, 1_000_000_000)
    return ((secs + NTP_UNIX_OFFSET_S) << 32) | ((sub << 32) // 1_000_000_000)


def ntp(raw):
    # A Fraction keeps all 64 bits: scapy's TimeStampField takes seconds, not raw bits.
    return Fraction(raw, 1 << 32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--max-seconds", type=float, default=20.0)
    ap.add_argument("--idle-seconds", type=float, default=3.0)
    a = ap.parse_args()

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
    print(sock.getsockname()[1], flush=True)

    requests = []
    started = time.monotonic()
    last = None
    while len(requests) < a.count:
        now = time.monotonic()
        if now - started > a.max_seconds or (last is not None and now - last > a.idle_seconds):
            break
        sock.settimeout(0.1)
        try:
            data, anc, _, peer = sock.recvmsg(65536, socket.CMSG_SPACE(4))
        except socket.timeout:
            continue
        t2 = ntp_now()
        last = time.monotonic()
        ttl = None
        for level, kind, value in anc:
            if level == socket.IPPROTO_IP and kind == socket.IP_TTL:
                ttl = struct.unpack("i", value[:4])[0]
        rec = {"len": len(data), "ttl": ttl}
        if len(data) < 44:
            rec["malformed"] = True
            requests.append(rec)
            continue
        req = Sender(data[:44])
        g = req.getfieldval
        rec.update({
            "seq": g("seq"),
            "t1": g("ts"),
            "ee": [int(req.err_estimate.S), int(req.err_estimate.Z),
                   int(req.err_estimate.scale), int(req.err_estimate.multiplier)],
            "ssid": g("ssid"),
            "mbz": g("mbz"),
            "after_44": data[44:].hex(),
            "t2": t2,
        })
        t3 = ntp_now()
        reply = bytes(Reflector(
            seq=g("seq"),
            ts=ntp(t3),
            # 100 x 2^(10-32) s, about 24 us: Python's clock reading is no better.
            err_estimate=ErrorEstimate(S=0, Z=0, scale=10, multiplier=100),
            ssid=g("ssid"),
            ts_rx=ntp(t2),
            seq_sender=g("seq"),
            ts_sender=ntp(g("ts")),
            err_estimate_sender=req.err_estimate,
            ttl_sender=ttl if ttl is not None else 255,
        ))
        reply += bytes(len(data) - len(reply))
        sock.sendto(reply, peer)
        rec["t3"] = t3
        requests.append(rec)

    json.dump({"scapy": __import__("scapy").__version__, "requests": requests}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
