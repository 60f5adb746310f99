"""One verify run: servers up, probes through the engines, each page result classified."""
