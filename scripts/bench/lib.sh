# Shared by the side-by-side benchmark scripts (source it; it runs nothing by itself).

# thrpt NAME < criterion-output: criterion prints "thrpt:  [low unit mid unit high unit]";
# prints the last such middle value in elements per second, or exits naming NAME.
thrpt() {
  python3 -c '
import re, sys
text = sys.stdin.read()
m = re.findall(r"thrpt:\s*\[\s*\S+ \S+ (\S+) (\S+)", text)
if not m:
    sys.exit(sys.argv[1] + ": no throughput in criterion output:\n" + text[-2000:])
v, unit = m[-1]
scale = {"elem/s": 1, "Kelem/s": 1e3, "Melem/s": 1e6, "Gelem/s": 1e9}[unit]
print(float(v) * scale)' "$1"
}
