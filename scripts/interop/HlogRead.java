// Reads an HdrHistogram interval log (.hlog) with the Java HdrHistogram library and prints,
// as one JSON object, what that library makes of it: each interval's start, end and count, and
// for all intervals merged the non-empty buckets (recorded-values iteration), min, max, total
// count and the 50/90/99/99.9/99.99th percentiles.
//
// Usage (Java 11+ single-file launch):
//   java -cp /usr/share/java/HdrHistogram.jar scripts/interop/HlogRead.java FILE.hlog
//
// Used by tests/interop_hlog.rs; independent of latlab's code.

import java.io.File;
import java.util.Locale;

import org.HdrHistogram.AbstractHistogram;
import org.HdrHistogram.EncodableHistogram;
import org.HdrHistogram.HistogramIterationValue;
import org.HdrHistogram.HistogramLogReader;

public class HlogRead {
    static final double[] PERCENTILES = {50.0, 90.0, 99.0, 99.9, 99.99};

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: HlogRead FILE.hlog");
            System.exit(2);
        }
        HistogramLogReader reader = new HistogramLogReader(new File(args[0]));
        StringBuilder intervals = new StringBuilder();
        AbstractHistogram merged = null;
        int n = 0;
        EncodableHistogram e;
        while ((e = reader.nextIntervalHistogram()) != null) {
            if (!(e instanceof AbstractHistogram)) {
                throw new IllegalStateException("interval " + n + " decoded as "
                        + e.getClass().getName() + ", expected an integer-count histogram");
            }
            AbstractHistogram h = (AbstractHistogram) e;
            if (n > 0) {
                intervals.append(',');
            }
            intervals.append(String.format(Locale.ROOT,
                    "{\"start_ms\":%d,\"end_ms\":%d,\"count\":%d,\"max\":%d}",
                    h.getStartTimeStamp(), h.getEndTimeStamp(), h.getTotalCount(),
                    h.getMaxValue()));
            if (merged == null) {
                merged = h.copy();
            } else {
                merged.add(h);
            }
            n++;
        }
        StringBuilder out = new StringBuilder();
        out.append("{\"reader\":\"java HdrHistogram ")
                .append(AbstractHistogram.class.getPackage().getImplementationVersion())
                .append("\",\"start_time_sec\":")
                .append(String.format(Locale.ROOT, "%.3f", reader.getStartTimeSec()))
                .append(",\"intervals\":[").append(intervals).append("],\"merged\":");
        if (merged == null) {
            out.append("null}");
            System.out.println(out);
            return;
        }
        out.append(String.format(Locale.ROOT, "{\"total\":%d,\"min\":%d,\"max\":%d,\"buckets\":[",
                merged.getTotalCount(), merged.getMinValue(), merged.getMaxValue()));
        boolean first = true;
        for (HistogramIterationValue v : merged.recordedValues()) {
            if (!first) {
                out.append(',');
            }
            first = false;
            out.append('[').append(v.getValueIteratedTo()).append(',')
                    .append(v.getCountAtValueIteratedTo()).append(']');
        }
        out.append("],\"percentiles\":{");
        for (int i = 0; i < PERCENTILES.length; i++) {
            if (i > 0) {
                out.append(',');
            }
            out.append(String.format(Locale.ROOT, "\"%s\":%d", pct(PERCENTILES[i]),
                    merged.getValueAtPercentile(PERCENTILES[i])));
        }
        out.append("}}}");
        System.out.println(out);
    }

    /** 50 -> "50", 99.9 -> "99.9": the key the other readers use too. */
    static String pct(double p) {
        return p == Math.rint(p) ? String.valueOf((long) p) : String.valueOf(p);
    }
}
