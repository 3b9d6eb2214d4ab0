#!/usr/bin/env bash
# Builds the example if its sources changed (see build.sh), then runs it; arguments and CHAT_* variables are
# the program's (run.sh --help for the list).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
jar=$("$here/build.sh")
# What it prints is UTF-8 whatever the locale (emoji in reactions would be "?" under LANG=C); stdout.encoding is
# the name from JDK 19 on, file.encoding the one JDK 17 reads for System.out.
exec java -Dfile.encoding=UTF-8 -Dstdout.encoding=UTF-8 -cp "$jar:${OKHTTP_JAR:-/usr/share/java/okhttp.jar}:${OKIO_JAR:-/usr/share/java/okio.jar}" ChatExampleKt "$@"
