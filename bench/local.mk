# bench/: benchmark programs (not built by default; see bench/README.md).
EXTRA_DIST += %reldir%/README.md %reldir%/metrics_throughput.py
