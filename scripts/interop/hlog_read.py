#!/usr/bin/env python3
"""Reads an HdrHistogram interval log (.hlog) with the Python `hdrhistogram` package (hdrh)
and prints, as one JSON object, what that library makes of it: each interval's start, end and
count, and for all intervals merged the non-empty buckets (recorded-values iteration), min, max,
total count and the 50/90/99/99.9/99.99th percentiles.

Usage: python3 scripts/interop/hlog_read.py FILE.hlog

Used by tests/interop_hlog.rs; independent of latlab's code.
"""

import json
import sys
from importlib import metadata

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

PERCENTILES = [50.0, 90.0, 99.0, 99.9, 99.99]


def key(p):
    """50.0 -> "50", 99.9 -> "99.9": the key the other readers use too."""
    return str(int(p)) if p == int(p) else str(p)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: hlog_read.py FILE.hlog")
    # The reference histogram is only a template; every interval is decoded with the shape
    # stored in its own header.
    reader = HistogramLogReader(sys.argv[1], HdrHistogram(1, 3_600_000_000_000, 3))
    intervals = []
    merged = None
    while True:
        h = reader.get_next_interval_histogram()
        if h is None:
            break
        intervals.append({
            "start_ms": h.get_start_time_stamp(),
            "end_ms": h.get_end_time_stamp(),
            "count": h.get_total_count(),
            "max": h.get_max_value(),
        })
        # hdrhistogram 0.10.8's add() sets the minimum to 0 when either histogram is empty
        # (it takes min(a.get_min_value(), b.get_min_value()) and an empty histogram's is 0),
        # so merging starts from a copy of the first non-empty interval and skips empty ones,
        # which add nothing.
        if h.get_total_count() == 0:
            continue
        if merged is None:
            merged = HdrHistogram.decode(h.encode())
        else:
            merged.add(h)
    out = {
        "reader": "python hdrhistogram " + metadata.version("hdrhistogram"),
        "start_time_sec": reader.get_start_time_sec(),
        "intervals": intervals,
        "merged": None,
    }
    if merged is not None:
        out["merged"] = {
            "total": merged.get_total_count(),
            "min": merged.get_min_value(),
            "max": merged.get_max_value(),
            "buckets": [[v.value_iterated_to, v.count_at_value_iterated_to]
                        for v in merged.get_recorded_iterator()],
            "percentiles": {key(p): merged.get_value_at_percentile(p) for p in PERCENTILES},
        }
    reader.close()
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
