"""Fill one experiment of a fresh database with N runs for benchmarks/server.py's UI timings.

    python benchmarks/server_fill.py logwright|mlflow SERVER_URL DB_URI N

Uses benchmarks/postgres.py's fills (logwright: its client straight on PostgreSQL;
MLflow: 500 runs through its API, the rest in bulk through its ORM models) so both
servers read the same rows. Prints ``{"experiment_id": ..., "run_id": ...}``.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postgres  # noqa: E402 - the fills live there

tracker, url, db_uri, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
if tracker == "logwright":
    import logwright as lw

    postgres.search(db_uri, runs)
    client = lw.Client(db_uri)
    exp = client.get_experiment_by_name("search").experiment_id
    run_id = client.search_runs([exp], max_results=1)[0].info.run_id
else:
    from mlflow import MlflowClient

    postgres.mlflow_search(db_uri.replace("postgresql://", "postgresql+psycopg2://"), runs)
    client = MlflowClient(url)
    exp = client.get_experiment_by_name("search").experiment_id
    run_id = client.search_runs([exp], max_results=1)[0].info.run_id
print(json.dumps({"experiment_id": exp, "run_id": run_id}))
