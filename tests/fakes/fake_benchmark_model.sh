#!/bin/sh
# FAKE benchmark_model, for tests only: no phone exists here, so this script stands in for TFLite's
# benchmark_model on the test adbd. It checks its flags the way the real tool uses them, echoes its
# parameters as the real tool does, reports its CPU affinity (a FAKE-only line), then prints a REAL
# benchmark_model output from tests/fixtures/benchmark_model/ ($EDGELAT_FAKE_FIXTURES):
#   --use_hexagon=true           -> hexagon_profile_CONSTRUCTED.txt
#   --enable_op_profiling=true   -> riscv64_op_profiling.txt
#   a graph named *garbage*      -> a line that is not benchmark_model output at all
#   a graph named *fails*        -> android_aarch64_failed.txt, exit code 1 (as the real tool)
#   otherwise                    -> android_aarch64_p5_median_p95.txt
graph=""; threads=1; runs=50; warmup=1; gpu=0; nnapi=0; hexagon=0; hexlib=""; prof=0; hexprof=0; minsecs=""
for a in "$@"; do
  case "$a" in
    --graph=*) graph="${a#--graph=}" ;;
    --num_threads=*) threads="${a#--num_threads=}" ;;
    --num_runs=*) runs="${a#--num_runs=}" ;;
    --warmup_runs=*) warmup="${a#--warmup_runs=}" ;;
    --min_secs=*) minsecs="${a#--min_secs=}" ;;
    --use_gpu=true) gpu=1 ;;
    --use_nnapi=true) nnapi=1 ;;
    --use_xnnpack=true) ;;
    --use_hexagon=true) hexagon=1 ;;
    --hexagon_lib_path=*) hexlib="${a#--hexagon_lib_path=}" ;;
    --enable_op_profiling=true) prof=1 ;;
    --hexagon_profiling=true) hexprof=1 ;;
    *) echo "ERROR: unknown flag $a"; exit 2 ;;
  esac
done
echo "STARTING!"
echo "Min num runs: [$runs]"
echo "Min runs duration (seconds): [$minsecs]"
echo "Num threads: [$threads]"
echo "Min warmup runs: [$warmup]"
echo "Graph: [$graph]"
echo "Enable op profiling: [$prof]"
echo "Use gpu: [$gpu]"
echo "Use nnapi: [$nnapi]"
echo "Use Hexagon: [$hexagon]"
echo "Hexagon lib path: [$hexlib]"
echo "Hexagon profiling: [$hexprof]"
echo "FAKE affinity: $(taskset -p $$ | sed 's/.*: //')"
if [ ! -f "$graph" ]; then echo "ERROR: Could not open '$graph'."; echo "ERROR: Failed to load model"; exit 1; fi
fx="${EDGELAT_FAKE_FIXTURES:?EDGELAT_FAKE_FIXTURES is not set}"
case "$graph" in
  *garbage*) echo "Segmentation fault (this line is all a crashed benchmark printed)"; exit 0 ;;
  *fails*) cat "$fx/android_aarch64_failed.txt"; exit 1 ;;
esac
if [ "$hexagon" = 1 ]; then cat "$fx/hexagon_profile_CONSTRUCTED.txt"
elif [ "$prof" = 1 ]; then cat "$fx/riscv64_op_profiling.txt"
else cat "$fx/android_aarch64_p5_median_p95.txt"
fi
