"""First autologged scikit-learn fit in a fresh process, with torch installed.

Runs ``--repeat`` fresh interpreters per mode and prints the median wall time of the
first ``LogisticRegression().fit`` (iris, autolog on, model saved with skops) and
whether torch got imported:

- ``now``: logwright_sklearn as it is (skops.io imported without torch);
- ``plain-skops``: the same, but ``skops.io`` imported plainly in the fit, as before
  issue 21 (its ``all_estimators()`` walk imports torch through
  ``sklearn.externals.array_api_compat.torch``).

Usage: ``python benchmarks/sklearn_first_fit.py [--repeat 5]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile

_CHILD = """
import json, sys, time
mode, store = sys.argv[1], sys.argv[2]
import logwright
logwright.set_tracking_uri(store)
if mode == "plain-skops":
    import logwright_sklearn._skops as s
    def plain():
        import skops.io
        return skops.io
    s.skops_io = plain
logwright.autolog(only=["sklearn"])
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True)
t = time.perf_counter()
LogisticRegression(max_iter=300).fit(X, y)
fit = time.perf_counter() - t
print(json.dumps({"fit_s": fit, "torch": "torch" in sys.modules, "modules": len(sys.modules)}))
"""


def _once(mode: str) -> dict:
    with tempfile.TemporaryDirectory() as store:
        out = subprocess.run([sys.executable, "-c", _CHILD, mode, store], capture_output=True, text=True,
                             check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Print the median first-fit time per mode."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, list[dict]] = {"plain-skops": [], "now": []}
    for _ in range(args.repeat):  # interleaved, so load on the machine hits both alike
        for mode in results:
            results[mode].append(_once(mode))
    for mode, runs in results.items():
        times = [r["fit_s"] for r in runs]
        print(f"{mode:12s} first fit median {statistics.median(times):.2f} s "
              f"(min {min(times):.2f}, max {max(times):.2f}); torch imported: {runs[0]['torch']}; "
              f"modules loaded: {runs[0]['modules']}")


if __name__ == "__main__":
    main()
