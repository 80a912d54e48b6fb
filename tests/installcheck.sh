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
echo "installcheck: 1 passed, 0 failed"
