"""DSPy with logwright: traces of a program, an evaluation run and an optimizer run.

Uses DSPy's DummyLM, so it needs no API key and no network; takes a few seconds.
Swap in ``dspy.LM("openai/gpt-4o-mini")`` for a real model.

    python examples/dspy_program.py
    logwright ui            # then open the "dspy-program" experiment
"""

from __future__ import annotations

import logwright

logwright.set_experiment("dspy-program")
logwright.autolog()  # DSPy is hooked when it is imported below

import dspy  # noqa: E402 - imported after autolog() on purpose
from dspy.utils import DummyLM  # noqa: E402


class AnswerWithCheck(dspy.Module):
    """Two modules: think with ChainOfThought, then check the answer with Predict."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = dspy.ChainOfThought("question -> answer")
        self.check = dspy.Predict("question, answer -> verdict")

    def forward(self, question: str) -> dspy.Prediction:
        answer = self.answer(question=question).answer
        verdict = self.check(question=question, answer=answer).verdict
        return dspy.Prediction(answer=answer, verdict=verdict)


def exact_match(example: dspy.Example, prediction: dspy.Prediction, trace: object = None) -> bool:
    return example.answer == prediction.answer


def main() -> None:
    replies = [{"reasoning": "The capital of France is Paris.", "answer": "Paris", "verdict": "ok"}] * 500
    dspy.configure(lm=DummyLM(replies))
    program = AnswerWithCheck()
    data = [dspy.Example(question=f"Capital of France? (#{i})", answer="Paris").with_inputs("question")
            for i in range(8)]

    print(program(question="What is the capital of France?"))  # one trace
    logwright.flush()
    print(logwright.get_last_trace())  # the span tree

    result = dspy.Evaluate(devset=data, metric=exact_match, num_threads=4)(program)  # one run
    eval_run = logwright.last_active_run()
    optimizer = dspy.BootstrapFewShot(metric=exact_match, max_bootstrapped_demos=2)
    optimizer.compile(AnswerWithCheck(), trainset=data)  # one run, with the compiled program
    compile_run = logwright.last_active_run()

    for run in (eval_run, compile_run):
        print(f"run {run.info.run_id} {run.info.run_name} ({run.info.status})")
    loaded = logwright.load_model(f"runs:/{compile_run.info.run_id}/model")
    print(f"evaluation score {result.score}; compiled program reloaded from "
          f"runs:/{compile_run.info.run_id}/model: {loaded(question='Capital?').answer}")
    print("look: `logwright ui` -> experiment 'dspy-program' (runs and traces)")


if __name__ == "__main__":
    main()
