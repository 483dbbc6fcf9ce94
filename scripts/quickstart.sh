#!/usr/bin/env bash
# Builds mlptrain and trains the default network on the Iris data set (data/iris.csv).
# Extra arguments are appended to the train command (e.g. --epochs 50 --threads 4).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/build.sh
echo
echo "quickstart.sh: build/mlptrain train --data data/iris.csv $*"
build/mlptrain train --data data/iris.csv "$@"

cat <<'HINT'

Next steps:
  build/mlptrain --help                                          all commands and options
  build/mlptrain train --help                                    training options
  build/mlptrain train --data data/digits.csv --layers 128,64    a bigger data set and network
  scripts/test.sh                                                run the test suite
HINT
