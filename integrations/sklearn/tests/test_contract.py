"""The autolog contract suite (logwright.testing.contract) against scikit-learn."""

from __future__ import annotations

from sklearn.datasets import load_iris
from sklearn.ensemble import VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from logwright.testing.contract import check_contract


def test_contract(tmp_store):
    X, y = load_iris(return_X_y=True)

    def exercise():
        return VotingClassifier([("lr", LogisticRegression(max_iter=300)),
                                 ("dt", DecisionTreeClassifier())]).fit(X, y)

    check_contract(
        "sklearn",
        exercise=exercise,
        failing=lambda: LogisticRegression(C=-1).fit(X, y),
    )
