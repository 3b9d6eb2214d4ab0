#!/usr/bin/env bash
# Builds the example into .cache/kotlin/<sha256>.jar at the repository root and prints the jar's path.
# kotlinc takes from 10 s to over a minute, so the jar is cached, keyed by the hash of the sources and of this
# script; a cache hit costs one sha256sum. Needs Debian's `kotlin` and `libokhttp-java` packages.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
okhttp=${OKHTTP_JAR:-/usr/share/java/okhttp.jar}
okio=${OKIO_JAR:-/usr/share/java/okio.jar}

missing=()
command -v kotlinc >/dev/null || missing+=(kotlin)
[ -f "$okhttp" ] && [ -f "$okio" ] || missing+=(libokhttp-java)
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing Debian packages: ${missing[*]} (apt-get install -y ${missing[*]})" >&2
  exit 3
fi

sources=("$here"/src/*.kt)
hash=$( { for f in "${sources[@]}" "$here/build.sh"; do echo "${f#"$here"/}"; cat "$f"; done; } | sha256sum | cut -c1-64)
cache="$root/.cache/kotlin"
jar="$cache/$hash.jar"
if [ ! -f "$jar" ]; then
  mkdir -p "$cache"
  building="$cache/$hash.$$.building.jar" # renamed into place when complete: a concurrent run never sees half a jar
  log="$cache/$hash.$$.log"
  trap 'rm -f "$building" "$log"' EXIT
  # The JDK warns about kotlinc's own -Xverify:none; that line is noise, the rest (kotlinc's warnings) is not.
  if ! kotlinc "${sources[@]}" -cp "$okhttp:$okio" -include-runtime -d "$building" 2>"$log"; then
    grep -v 'Xverify' "$log" >&2 || true
    exit 1
  fi
  grep -v 'Xverify' "$log" >&2 || true
  mv "$building" "$jar"
  # Older builds of the example are dead weight.
  find "$cache" -maxdepth 1 -name '*.jar' ! -name "$hash.jar" ! -name '*.building.jar' -delete
fi
echo "$jar"
