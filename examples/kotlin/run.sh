#!/usr/bin/env bash
# Builds the example if its sources changed (see build.sh), then runs it; arguments and CHAT_* variables are
# the program's (run.sh --help for the list).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
jar=$("$here/build.sh")
exec java -cp "$jar:${OKHTTP_JAR:-/usr/share/java/okhttp.jar}:${OKIO_JAR:-/usr/share/java/okio.jar}" ChatExampleKt "$@"
