module picoseg.local/bench/dataplane/loadgen

go 1.26
