#!/usr/bin/env python3
"""contrib/bench/table.py: the table of contrib/bench/run.

Reads the per-run values that run recorded (lines "key fs run value",
tab-separated; value is a number or "fail") and prints one table: a row
per workload, a column per filesystem with "median (min-max)" over the
runs, and after each filesystem but native its ratio to native
(median / median). Writes the same numbers to a TSV file.

    table.py [--files N] [--size S] --tsv OUT RAW FS...
"""

import argparse
import statistics
import sys

# key, label, unit, format; the order of the table. The label's {files}
# and {size} are filled in from the options.
ROWS = [
    ("seqwrite", "seq write 1M +end_fsync", "MB/s", "mb"),
    ("seqread_cold", "seq read 1M cold", "MB/s", "mb"),
    ("seqread_warm", "seq read 1M warm", "MB/s", "mb"),
    ("randread", "rand read 4k warm", "IOPS", "ops"),
    ("randwrite", "rand write 4k +end_fsync", "IOPS", "ops"),
    ("directread", "O_DIRECT seq read 1M", "MB/s", "mb"),
    ("directwrite", "O_DIRECT seq write 1M", "MB/s", "mb"),
    ("create", "create {files} files", "ops/s", "ops"),
    ("stat", "stat {files} files warm (1/lat)", "ops/s", "ops"),
    ("unlink", "unlink {files} files", "ops/s", "ops"),
    ("cp", "cp {size} file +fsync", "MB/s", "mb"),
    ("cpu_write_client", "CPU seq write: client", "s/GiB", "cpu"),
    ("cpu_write_daemon", "CPU seq write: daemon", "s/GiB", "cpu"),
    ("cpu_write_total", "CPU seq write: total", "s/GiB", "cpu"),
    ("cpu_read_client", "CPU seq read cold: client", "s/GiB", "cpu"),
    ("cpu_read_daemon", "CPU seq read cold: daemon", "s/GiB", "cpu"),
    ("cpu_read_total", "CPU seq read cold: total", "s/GiB", "cpu"),
]


def fmt(v, kind):
    """A value as the table shows it: short but with 3 significant digits."""
    if kind == "cpu":
        return "%.2f" % v
    if kind == "ops" and v >= 10000:
        return "%.1fk" % (v / 1000) if v < 100000 else "%.0fk" % (v / 1000)
    return "%.0f" % v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", default="N")
    ap.add_argument("--size", default="SIZE")
    ap.add_argument("--tsv", required=True)
    ap.add_argument("raw")
    ap.add_argument("fs", nargs="+")
    a = ap.parse_args()

    vals = {}		# (key, fs) -> list of floats; None for a failed run
    with open(a.raw) as f:
        for line in f:
            key, fs, run, v = line.rstrip("\n").split("\t")
            try:
                x = float(v)
            except ValueError:
                x = None		# "fail", or nothing recorded
            vals.setdefault((key, fs), []).append(x)

    def stats(key, fs):
        """(median, min, max, values, failed runs), or None."""
        vs = vals.get((key, fs))
        if not vs:
            return None
        ok = [v for v in vs if v is not None]
        if not ok:
            return ("fail", len(vs))
        return (statistics.median(ok), min(ok), max(ok), ok, len(vs) - len(ok))

    header = ["workload", "unit"]
    for fs in a.fs:
        header.append(fs)
        if fs != "native":
            header.append("x")
    table = [header]
    tsv = ["\t".join(["workload", "unit", "fs", "median", "min", "max",
                      "ratio_to_native", "runs", "failed_runs"])]

    for key, label, unit, kind in ROWS:
        label = label.format(files=a.files, size=a.size)
        if not any((key, fs) in vals for fs in a.fs):
            continue
        row = [label, unit]
        native = stats(key, "native")
        nmed = native[0] if native and native[0] != "fail" else None
        for fs in a.fs:
            s = stats(key, fs)
            ratio = ""
            if s is None:
                cell = "-"
            elif s[0] == "fail":
                cell = "failed"
                tsv.append("\t".join([key, unit, fs, "", "", "", "", "",
                                      str(s[1])]))
            else:
                med, lo, hi, ok, failed = s
                cell = fmt(med, kind)
                if len(ok) > 1:
                    cell += " (%s-%s)" % (fmt(lo, kind), fmt(hi, kind))
                if failed:
                    cell += " %d failed" % failed
                if nmed and fs != "native":
                    ratio = "%.2fx" % (med / nmed)
                tsv.append("\t".join(
                    [key, unit, fs, "%.6g" % med, "%.6g" % lo, "%.6g" % hi,
                     ("%.4f" % (med / nmed)) if ratio else "",
                     ",".join("%.6g" % v for v in ok), str(failed)]))
            row.append(cell)
            if fs != "native":
                row.append(ratio or "-")
        table.append(row)

    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for n, r in enumerate(table):
        cells = [r[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        print("  ".join(cells).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print()
    print("cells: median (min-max) of the runs; x: median / native median;"
          " CPU rows: lower is better")

    with open(a.tsv, "w") as f:
        f.write("\n".join(tsv) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
