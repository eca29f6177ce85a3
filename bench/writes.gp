# bench/writes.gp — the write table as a picture (bench/run calls it):
#   gnuplot -e "datafile='writes.tsv'; outfile='writes.png'" bench/writes.gp
# writes.tsv: conns raftd_wps raftd_p99_ms etcd_wps etcd_p99_ms raftd_p50_ms etcd_p50_ms
set terminal pngcairo size 1100,440 font "sans,10"
set output outfile
set multiplot layout 1,2 title "raftd against etcd: 3 nodes on loopback, 100-byte values, 1,000 keys (bench/run)"
set logscale x 2
set xtics ("1" 1, "16" 16, "64" 64, "256" 256)
set xrange [0.7:370]
set grid
set key top left
set xlabel "client connections"

set title "throughput"
set ylabel "writes/s"
set yrange [0:*]
set format y "%.0f"
plot datafile using 1:2 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "raftd", \
     datafile using 1:4 with linespoints lw 2 pt 5 lc rgb "#d62728" title "etcd"

set title "p99 latency (p50 dashed)"
set ylabel "ms"
set logscale y 10
set yrange [*:*]
set format y "%g"
plot datafile using 1:3 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "raftd p99", \
     datafile using 1:5 with linespoints lw 2 pt 5 lc rgb "#d62728" title "etcd p99", \
     datafile using 1:6 with linespoints lw 1 dt 2 pt 6 lc rgb "#1f77b4" title "raftd p50", \
     datafile using 1:7 with linespoints lw 1 dt 2 pt 4 lc rgb "#d62728" title "etcd p50"
unset multiplot
