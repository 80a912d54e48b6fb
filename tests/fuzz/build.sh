#!/bin/sh
# tests/fuzz/build.sh: builds (build) or runs (run SECONDS) the libFuzzer harnesses of
# tests/fuzz/ for `make fuzz` and `make fuzz-run`. liblethe's C sources (the plugin kit among them) and
# each harness are compiled with clang and -fsanitize=fuzzer-no-link,address,undefined into
# tests/fuzz/obj/ of the build tree (a source newer than its object is recompiled; `make
# fuzz-clean` starts over). Without clang or its fuzzer runtime (libclang-rt-14-dev) it says so
# and exits 0. The make rule passes the configured flags in the environment:
# FUZZ_CC FUZZ_CXX FUZZ_CPPFLAGS FUZZ_LIBS ENGINE_SOURCES PLUGINDIR.
set -u
mode=$1
srcdir=$2
builddir=$3
out=$builddir/tests/fuzz
harnesses="curriculum score runfile safetensors tokenizer plugin_text plugin_sentiment plugin_ner plugin_summarize plugin_translation plugin_instruct"

if [ "$mode" = run ]; then
	seconds=${4:-30}
	harnesses=${5:-$harnesses} # FUZZ_HARNESSES: a subset
	status=0
	# Every execution writes its input to a file: on tmpfs that is ten times faster than on disk.
	if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
		export TMPDIR=/dev/shm
	fi
	# Leaks inside libhdf5 itself on damaged files are not lethe's (tests/fuzz/lsan.supp).
	export LSAN_OPTIONS="suppressions=$srcdir/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
	for h in $harnesses; do
		if [ ! -x "$out/fuzz_$h" ]; then
			echo "fuzz-run: $out/fuzz_$h is not built (make fuzz)"
			exit 0
		fi
		corpus=$out/work/$h # not corpus/: in a build in the source tree that is the seeds
		mkdir -p "$corpus" "$out/crashes"
		echo "fuzz-run: $h for $seconds s"
		# New inputs go to the build tree's corpus; the seeds are read from the source tree.
		if ! "$out/fuzz_$h" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 \
			-close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$out/crashes/$h-" \
			"$corpus" "$srcdir/tests/fuzz/corpus/$h" 2>"$out/$h.log"; then
			status=1
			tail -n 60 "$out/$h.log"
		fi
		grep -E '^stat::number_of_executed_units' "$out/$h.log" | sed "s/^/fuzz-run: $h /"
	done
	exit $status
fi

FUZZ_CC=${FUZZ_CC:-}
if [ -z "$FUZZ_CC" ]; then
	echo "fuzz: skipped: configure found no clang (apt-get install clang libclang-rt-14-dev)"
	exit 0
fi
mkdir -p "$out/obj"
probe=$out/obj/probe
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n; }' |
	$FUZZ_CC -fsanitize=fuzzer,address,undefined -x c - -o "$probe" 2>/dev/null; then
	echo "fuzz: skipped: $FUZZ_CC cannot link -fsanitize=fuzzer (apt-get install libclang-rt-14-dev)"
	exit 0
fi
SAN="-g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CPP="-DHAVE_CONFIG_H -I$builddir -I$srcdir/include -I$builddir/include -I$srcdir/engine -I$srcdir -I$srcdir/tests/fuzz $FUZZ_CPPFLAGS"

# compile SRC OBJ COMPILER [FLAGS...]: only when SRC is newer than OBJ.
compile() {
	src=$1 obj=$2 cc=$3
	shift 3
	if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ]; then
		echo "  FUZZCC   $obj"
		$cc $SAN $CPP "-DLETHE_PLUGINDIR=\"$PLUGINDIR\"" "$@" -c "$src" -o "$obj" || exit 1
	fi
}

engine_objs=
for s in $ENGINE_SOURCES; do
	case $s in
	*.c) o=$out/obj/$(echo "$s" | tr / _).o
		compile "$srcdir/$s" "$o" "$FUZZ_CC" -std=c11 -D_POSIX_C_SOURCE=200809L ;;
	*.cc) o=$out/obj/$(echo "$s" | tr / _).o
		compile "$srcdir/$s" "$o" "$FUZZ_CXX" -std=c++17 ;;
	*) continue ;;
	esac
	engine_objs="$engine_objs $o"
done

link() {
	name=$1
	shift
	echo "  FUZZLD   $out/fuzz_$name"
	$FUZZ_CXX -fsanitize=fuzzer,address,undefined "$@" $engine_objs $FUZZ_LIBS -o "$out/fuzz_$name" || exit 1
}
for h in curriculum runfile safetensors tokenizer; do
	compile "$srcdir/tests/fuzz/fuzz_$h.c" "$out/obj/fuzz_$h.o" "$FUZZ_CC" -std=c11 -D_POSIX_C_SOURCE=200809L
	link "$h" "$out/obj/fuzz_$h.o"
done
compile "$srcdir/tests/fuzz/fuzz_score.c" "$out/obj/fuzz_score.o" "$FUZZ_CC" -std=c11 -D_POSIX_C_SOURCE=200809L
compile "$srcdir/engine/cli/cmd_score.c" "$out/obj/cmd_score.o" "$FUZZ_CC" -std=c11 -D_POSIX_C_SOURCE=200809L
link score "$out/obj/fuzz_score.o" "$out/obj/cmd_score.o"
for p in text sentiment ner summarize translation instruct; do
	up=$(echo "$p" | tr a-z A-Z)
	compile "$srcdir/tests/fuzz/fuzz_plugin.c" "$out/obj/fuzz_plugin_$p.o" "$FUZZ_CC" -std=c11 -D_POSIX_C_SOURCE=200809L "-DFUZZ_$up"
	compile "$srcdir/plugins/$p/$p.c" "$out/obj/plugin_$p.o" "$FUZZ_CC" -std=c11 -D_POSIX_C_SOURCE=200809L
	link "plugin_$p" "$out/obj/fuzz_plugin_$p.o" "$out/obj/plugin_$p.o"
done
echo "fuzz: built $(echo $harnesses | wc -w) harnesses in $out (make fuzz-run FUZZ_SECONDS=30 runs them)"
