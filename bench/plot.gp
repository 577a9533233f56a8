# plot.gp: bench/plot.png from the .dat files report.py and run.sh write
# (run in the directory that holds them: gnuplot bench/plot.gp)

set terminal pngcairo size 1500,900 font "sans,10" noenhanced
set output "plot.png"
have(f) = system("test -s " . f . " && echo 1 || echo 0") + 0
# a panel whose phase did not run in this run
nodata = 'set label 99 "not measured in this run" at graph 0.5, 0.5 center; ' . \
    'unset logscale; plot [0:1] [0:1] 2 notitle; unset label 99'

set multiplot layout 2,3 title "trades_kafka bench (bench/run.sh, one run)"
set style fill solid 0.8 border -1
set boxwidth 0.6
set grid ytics
set key top right

# 1. landing the same rows four ways
set title "Landing the same rows (rows/s, log scale)"
set logscale y
set format y "%.0s%c"
set xtics rotate by -25
set yrange [*:*]
if (have("throughput.dat")) {
    plot "throughput.dat" using 0:2:xtic(1) with boxes lc rgb "#4472c4" notitle, \
         "" using 0:($2 * 1.15):(sprintf("%.0fk", $2 / 1000)) with labels notitle
} else { eval nodata }
unset logscale y

# 2. store statements replayed
set title "Store statements replayed in SQL, 5,000 rows/txn (rows/s)"
set yrange [0:*]
set format y "%.0s%c"
if (have("variants.dat")) {
    plot "variants.dat" using 0:2:xtic(1) with boxes lc rgb "#70ad47" notitle
} else { eval nodata }

# 3. batch size
set title "batch_size sweep, 1 worker (msgs/s)"
set xtics norotate
set logscale x
set xlabel "trades_kafka.batch_size"
set format x "%g"
if (have("sweep.dat")) {
    plot "sweep.dat" using 1:2 with linespoints lw 2 pt 7 lc rgb "#ed7d31" notitle
} else { eval nodata }
unset logscale x
unset xlabel

# 4. latency
set title "Produce -> visible latency (ms)"
set style data histograms
set style histogram clustered gap 1
set key top left
if (have("latency.dat")) {
    plot "latency.dat" using 2:xtic(1) title "p50" lc rgb "#4472c4", \
         "" using 3 title "p99" lc rgb "#c00000"
} else { eval nodata }
set style data lines

# 5. memory
set title "One worker's memory while storing (MB)"
set xlabel "messages stored (millions)"
set key bottom right
set format x "%g"
if (have("rss.dat")) {
    plot "rss.dat" using 1:3 with linespoints lw 2 pt 7 ps 0.3 lc rgb "#4472c4" title "RssAnon (private)", \
         "" using 1:2 with linespoints lw 2 pt 7 ps 0.3 lc rgb "#a5a5a5" title "VmRSS (incl. shared buffers)"
} else { eval nodata }
unset xlabel

# 6. scale
set title "Workers on a 4-partition topic"
set xlabel "workers"
set ylabel "msgs/s"
set y2label "machine CPU busy (%)"
set y2tics
set y2range [0:105]
set xtics 1
set key top left
if (have("scale.dat")) {
    plot "scale.dat" using 1:2 with linespoints lw 2 pt 7 lc rgb "#4472c4" title "msgs/s", \
         "" using 1:3 axes x1y2 with linespoints lw 2 pt 5 dt 2 lc rgb "#c00000" title "CPU busy"
} else { eval nodata }

unset multiplot
