#!/usr/bin/env bash
# Run every benchmark for every tracker, one after the other, into benchmarks/results/raw/.
# logwright and "none" run in .venv, MLflow in .bench-venv (created by benchmarks/README.md's
# command). Bytecode caching is on for both (PYTHONDONTWRITEBYTECODE unset): an installed
# wheel has compiled bytecode, so an editable checkout without it would be measured unfairly.
set -u
cd "$(dirname "$0")/.."
mkdir -p benchmarks/results/raw
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
unset PYTHONDONTWRITEBYTECODE
names=${*:-"core autolog tracing sklearn xgboost torch lightning langchain dspy optuna ui"}
for name in $names; do
  for tracker in none logwright mlflow; do
    py=.venv/bin/python
    [ "$tracker" = mlflow ] && py=.bench-venv/bin/python
    extra=""
    case "$name-$tracker" in  # MLflow is slow enough that its default loops would take an hour
      tracing-mlflow) extra="--traces 300 --repeat 1" ;;
      langchain-mlflow|dspy-mlflow) extra="--rounds 1" ;;
      xgboost-mlflow) extra="--repeats 3" ;;
      optuna-mlflow) extra="--trials 20 --blocks 3" ;;
      ui-mlflow) extra="--runs 2000 --points 100000 --repeat 3" ;;
    esac
    out=benchmarks/results/raw/$name-$tracker.txt
    echo "== $name $tracker" >&2
    timeout "${BENCH_TIMEOUT:-900}" "$py" "benchmarks/$name.py" --tracker "$tracker" $extra >"$out" 2>&1
    echo "exit $?" >>"$out"
  done
done
