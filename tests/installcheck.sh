#!/bin/sh
# installcheck.sh BINDIR LIBDIR SRCDIR: checks an installed lethe: `lethe plugins` lists the
# installed plugins, and the example plugin of docs/plugin-guide.md builds out of tree against
# the installed headers and lethe.pc alone, installs into the plugin path and loads.
set -eu
bindir=$1 libdir=$2 srcdir=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset LETHE_PLUGIN_PATH

"$bindir/lethe" --version
"$bindir/lethe" plugins | tee "$tmp/plugins"
grep -q "^text .*/lib/lethe/plugins/text.so$" "$tmp/plugins" || { echo "installed text plugin not listed"; exit 1; }

# Extract the guide's example plugin and build it the way the guide says.
mkdir "$tmp/mytext"
awk '/^<!-- file: mytext.c -->$/{f=1;next} f&&/^```c$/{p=1;next} p&&/^```$/{exit} p' \
	"$srcdir/docs/plugin-guide.md" >"$tmp/mytext/mytext.c"
test -s "$tmp/mytext/mytext.c" || { echo "no example plugin found in the guide"; exit 1; }
export PKG_CONFIG_PATH="$libdir/pkgconfig"
pluginsdir=$(pkg-config --variable=pluginsdir lethe)
test "$pluginsdir" = "$libdir/lethe/plugins" || { echo "pluginsdir is '$pluginsdir'"; exit 1; }
cc -std=c11 -Wall -Wextra -Werror -fPIC -shared $(pkg-config --cflags lethe) \
	-o "$tmp/mytext/mytext.so" "$tmp/mytext/mytext.c" -lm
printf 'one two three\n\nfour five\n' >"$tmp/words.txt"
LETHE_PLUGIN_PATH="$tmp/mytext" "$bindir/lethe" plugins | grep -q '^mytext ' ||
	{ echo "the guide's plugin is not listed"; exit 1; }
LETHE_PLUGIN_PATH="$tmp/mytext" "$bindir/lethe" inspect mytext "$tmp/words.txt" | tee "$tmp/inspect"
grep -q '^examples: 2$' "$tmp/inspect"
grep -q '^words: 5$' "$tmp/inspect"

# The guide's classification plugin, built with everything pkg-config gives (its --libs is empty:
# a plugin links nothing of lethe's), uses the plugin kit of the installed lethe.
test -z "$(pkg-config --libs lethe)" || { echo "pkg-config --libs lethe is not empty"; exit 1; }
pkg-config --libs liblethe | grep -q -- -llethe || { echo "liblethe.pc lacks -llethe"; exit 1; }
awk '/^<!-- file: mytopic.c -->$/{f=1;next} f&&/^```c$/{p=1;next} p&&/^```$/{exit} p' \
	"$srcdir/docs/plugin-guide.md" >"$tmp/mytopic.c"
test -s "$tmp/mytopic.c" || { echo "no classification plugin found in the guide"; exit 1; }
cc -std=c11 -Wall -Wextra -Werror -fPIC -shared $(pkg-config --cflags --libs lethe) \
	-o "$tmp/mytopic.so" "$tmp/mytopic.c" -lm
printf 'Rafa wins in Paris\tsport\nShares fall again\tbiz\nMarkets rally\tbiz\n' >"$tmp/topics.tsv"
"$bindir/lethe" inspect -p "$tmp/mytopic.so" -o labels.sport=sports -o labels.biz=business \
	mytopic "$tmp/topics.tsv" | tee "$tmp/inspect"
grep -q '^prediction: choice among "sports", "business"$' "$tmp/inspect"
grep -q '^label/business: 2$' "$tmp/inspect"
echo "installcheck: 2 passed, 0 failed"
