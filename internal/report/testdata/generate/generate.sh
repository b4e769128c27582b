#!/usr/bin/env bash
# Regenerates the report fixtures in internal/report/testdata that are real
# tool output (README.md beside this script lists them), by running the real
# tools on the tiny sample projects here:
#
#   pysample/  pytest tests (pass, fail, setup error, teardown error, skip,
#              xfail, parametrized) and a package with uncovered lines and
#              branches, run under coverage.py with branch coverage
#   gosample/  go tests (pass, fail, skip, subtests) in two packages, plus a
#              third package that fails to build, written into the scratch
#              copy by this script so that no broken Go file is committed
#
# Tools (Debian's packages and one Go module; CI does not need them, only
# whoever regenerates):
#
#   apt-get install -y python3-pytest python3-coverage
#   GOBIN=/tmp/fixtools/bin go install github.com/jstemmer/go-junit-report/v2@v2.1.0
#
# Then, from the repository root:
#
#   internal/report/testdata/generate/generate.sh
#   go test ./internal/report -run Golden -update
#
# and review the diff of the .golden files. PYTHON (default /usr/bin/python3,
# the one Debian's packages install into) and GO_JUNIT_REPORT (default
# go-junit-report on PATH, else /tmp/fixtools/bin/go-junit-report) override
# the tools.
#
# The projects run in a scratch copy, so nothing is written here but the
# fixtures. What varies from run to run is normalised with sed, so that
# running this twice gives identical files: timestamps (2025-01-01T00:00:00,
# the tools running with TZ=UTC; coverage.py's epoch milliseconds
# 1735689600000), host names (buildhost), every duration (time="0.001") and
# the scratch folder's absolute path (/build). The tools' versions stay as
# they wrote them (coverage.py's version attribute).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=$(dirname "$here")
py=${PYTHON:-/usr/bin/python3}
gjr=${GO_JUNIT_REPORT:-$(command -v go-junit-report || echo /tmp/fixtools/bin/go-junit-report)}

missing=()
"$py" -c 'import pytest' 2>/dev/null || missing+=("pytest for $py (apt-get install python3-pytest)")
"$py" -c 'import coverage' 2>/dev/null || missing+=("coverage.py for $py (apt-get install python3-coverage)")
[[ -x "$gjr" ]] || missing+=("go-junit-report (GOBIN=/tmp/fixtools/bin go install github.com/jstemmer/go-junit-report/v2@v2.1.0)")
command -v go >/dev/null || missing+=("go")
if ((${#missing[@]})); then
  printf 'generate.sh: missing: %s\n' "${missing[@]}" >&2
  exit 1
fi
# (go-junit-report -version says v2.1.0-dev for v2.1.0: ask go version -m.)
echo "pytest $("$py" -c 'import pytest; print(pytest.__version__)'), coverage.py $("$py" -c 'import coverage; print(coverage.__version__)'), go-junit-report $(go version -m "$gjr" | awk '$1 == "mod" { print $3 }'), $(go version)"

export TZ=UTC LC_ALL=C
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -R "$here/pysample" "$here/gosample" "$work/"

# normalise FILE: rewrite what varies from run to run, in place.
normalise() {
  sed -E -i \
    -e 's/ timestamp="[0-9-]{10}T[0-9:]{8}\.[0-9]+/ timestamp="2025-01-01T00:00:00.000000/g' \
    -e 's/ timestamp="[0-9-]{10}T[0-9:]{8}/ timestamp="2025-01-01T00:00:00/g' \
    -e 's/ timestamp="[0-9]{13}"/ timestamp="1735689600000"/g' \
    -e 's/ hostname="[^"]*"/ hostname="buildhost"/g' \
    -e 's/ time="[0-9.]+"/ time="0.001"/g' \
    -e "s#$work#/build#g" \
    "$1"
}

# expect WANT CMD...: run CMD, which must exit WANT (the samples fail on
# purpose, so 0 would mean they did not run as meant).
expect() {
  local want=$1 rc=0
  shift
  "$@" || rc=$?
  if [[ $rc != "$want" ]]; then
    echo "generate.sh: $* exited $rc, want $want" >&2
    cat "$work"/*.log >&2 2>/dev/null || true
    exit 1
  fi
}

# --- pytest and coverage.py ---------------------------------------------------
(
  cd "$work/pysample"
  export PYTHONDONTWRITEBYTECODE=1 PYTEST_DISABLE_PLUGIN_AUTOLOAD=1
  unset PYTHONPATH
  # pytest's default junit_family (xunit2), under coverage with branches on
  # (.coveragerc); exit 1: tests failed.
  expect 1 "$py" -m coverage run -m pytest -q -p no:cacheprovider \
    --junitxml="$work/junitxml_pytest-real.xml" >"$work/pytest.log" 2>&1
  "$py" -m coverage xml -q -o "$work/coberturaxml_coveragepy.xml"
  # The legacy xunit1 family: adds file and line to each <testcase>.
  expect 1 "$py" -m pytest -q -p no:cacheprovider -o junit_family=xunit1 \
    --junitxml="$work/junitxml_pytest-xunit1.xml" >>"$work/pytest.log" 2>&1
)

# --- go test and go-junit-report ----------------------------------------------
(
  cd "$work/gosample"
  export GOWORK=off GOFLAGS= GOTOOLCHAIN=local
  mkdir broken
  cat >broken/broken_test.go <<'EOF'
package broken

import "testing"

func TestBroken(t *testing.T) {
	var n int = "not a number"
	_ = n
}
EOF
  # -p 1: one package at a time, so the packages come in one order.
  expect 1 go test -count=1 -p 1 -json ./... >"$work/go-test.json"
  # (go test -v 2>&1 | go-junit-report, the default text parser, gave a
  # byte-identical report for these packages, so it has no fixture of its own.)
  "$gjr" -parser gojson -in "$work/go-test.json" -out "$work/junitxml_go-test-json.xml"
)

for f in junitxml_pytest-real.xml junitxml_pytest-xunit1.xml coberturaxml_coveragepy.xml \
  junitxml_go-test-json.xml; do
  normalise "$work/$f"
  cp "$work/$f" "$out/$f"
  echo "wrote $out/$f"
done
