"""A 30-second tour of logwright on the embedded default store (./logwright-runs).

Run it with `.venv/bin/python examples/tour.py`, then look at what it stored:
`.venv/bin/logwright runs list`, `.venv/bin/logwright runs show <id>`, or the web UI
with `.venv/bin/logwright ui`. Each section below is one feature, end to end.
"""

from __future__ import annotations

import math
import os
import random
import runpy
import tempfile

import logwright as lw

HERE = os.path.dirname(os.path.abspath(__file__))


def manual_tracking() -> None:
    """Runs with params, stepped metrics, tags, an artifact and a nested run; then search."""
    lw.set_experiment("tour")
    made = []
    for lr in (0.3, 0.1, 0.03):
        with lw.start_run(run_name=f"lr={lr}", tags={"stage": "tour"}) as run:
            lw.log_params({"lr": lr, "epochs": 20, "model": "toy-regressor"})
            loss = 1.0
            for _ in range(20):
                loss *= 1 - lr * random.uniform(0.3, 0.6)
                lw.log_metric("train/loss", loss)  # no step given: 0, 1, 2, ...
            lw.log_metric("val/acc", 1 - loss / 2)
            with open(os.path.join(tempfile.mkdtemp(), "notes.md"), "w") as fh:
                fh.write(f"# lr={lr}\nfinal loss {loss:.4f}\n")
            lw.log_artifact(fh.name)
            with lw.start_run(run_name="calibration", nested=True):
                lw.log_metric("ece", abs(math.sin(lr)))
        made.append(run.info.run_id)
        print(f"  run {run.info.run_name:8s} {run.info.run_id}")
    mine = ", ".join(f"'{run_id}'" for run_id in made)  # this time's runs, not those of an earlier tour
    best = lw.search_runs(filter=f"metrics.`val/acc` > 0.5 and params.model = 'toy-regressor' and run_id IN ({mine})",
                          order_by=["metrics.`val/acc` DESC"], max_results=1)[0]
    print(f"  best run: {best.info.run_name} {best.info.run_id} val/acc={best.data.metrics['val/acc']:.3f} "
          f"(params {best.data.params})")


def tracing() -> None:
    """GenAI-style traces of your own code with @trace and start_span."""
    lw.set_experiment("tour-tracing")

    @lw.trace(kind="RETRIEVER")
    def retrieve(question: str) -> list[str]:
        return [f"doc about {question}"]

    @lw.trace(kind="CHAIN")
    def answer(question: str) -> str:
        docs = retrieve(question)
        with lw.start_span("llm", kind="LLM") as span:
            span.set_inputs({"prompt": f"{docs[0]} -> {question}"})
            span.set_attributes({"gen_ai.request.model": "toy-llm", "gen_ai.usage.input_tokens": 12,
                                 "gen_ai.usage.output_tokens": 3})
            span.set_outputs("42")
        return "42"

    answer("the meaning of life")
    trace = lw.get_last_trace()  # the trace this call made, read back from the store
    print(f"  trace {trace.info.trace_id}")
    print(trace)


def model_registry() -> None:
    """Register the model the scikit-learn section trained, alias it `champion`, load it by alias."""
    run = lw.search_runs("sklearn-quickstart", filter="tags.`logwright.model.model` = 'sklearn'",
                         order_by=["start_time DESC"], max_results=1)[0]
    version = lw.register_model(f"runs:/{run.info.run_id}/model", "breast-cancer-classifier",
                                description="GridSearchCV over LogisticRegression C")
    lw.set_registered_model_alias(version.name, "champion", version.version)
    model = lw.load_model(f"models:/{version.name}@champion")
    print(f"  registered {version.name} version {version.version} ({version.flavour}) from {version.source}")
    print(f"  models:/{version.name}@champion loads a {type(model).__name__}; "
          f"see `.venv/bin/logwright models show {version.name}`")


def example(name: str):
    """Run examples/<name>.py in this process, as if it were the main script."""
    def section() -> None:
        runpy.run_path(os.path.join(HERE, name), run_name="__main__")
    return section


SECTIONS = [
    ("Manual tracking: params, curves, tags, artifacts, nested runs, search", manual_tracking),
    ("Tracing your own code: @trace, start_span, token counts", tracing),
    ("scikit-learn autolog: Pipeline + GridSearchCV, post-training metrics, model", example("sklearn_quickstart.py")),
    ("Model registry: register the scikit-learn model, alias it champion, load it by alias", model_registry),
    ("XGBoost autolog: per-iteration metrics, early stopping, importance, model", example("xgboost_quickstart.py")),
    ("Optuna autolog: a study run, a child run per trial, the fits inside logged there", example("optuna_study.py")),
    ("PyTorch autolog of a plain training loop", example("torch_loop.py")),
    ("Lightning autolog: logger + callback attached to the Trainer", example("lightning_quickstart.py")),
    ("LangChain traces: RAG chain and a tool-calling step", example("langchain_rag.py")),
    ("DSPy traces, Evaluate and optimizer runs", example("dspy_program.py")),
]


def main() -> None:
    random.seed(0)
    for title, section in SECTIONS:
        print(f"\n== {title}")
        section()
    lw.flush()
    where = lw.Client().store.location  # the default folder, or the team store you pointed it at
    print(f"\nEverything is in {where}. Look at it with:")
    print("  .venv/bin/logwright experiments list")
    print("  .venv/bin/logwright runs list --experiment tour")
    print("  .venv/bin/logwright traces list")
    print("  .venv/bin/logwright models list")
    print("  .venv/bin/logwright ui        # then open http://127.0.0.1:5151")


if __name__ == "__main__":
    main()
