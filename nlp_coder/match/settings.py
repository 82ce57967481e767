"""The one place where matching settings are decided, for every command.

``suggest``, ``evaluate`` (its headline), ``check``, ``sensitivity``, ``report``, ``discover``,
the cascade and the Python API all call :func:`resolve_settings`, so the same inputs always
decide at the same threshold with the same method. Each value comes from the first of:

1. the option given (command line or keyword argument);
2. the codebook (``threshold:`` and ``margin:`` at its top);
3. the model's registry entry (``models/registry.yaml``): its ``method``, its threshold for
   that method (``method_thresholds``, else ``threshold``) and its ``margin``;
4. the method's default (:data:`DEFINITION_WEIGHTS`), else :data:`DEFAULT_METHOD`.

The result records where each value came from (:attr:`MatchSettings.origin`), so a run says
which values it chose for the researcher (never silently) and its manifest records them.
"""

from __future__ import annotations

import math

from nlp_coder.errors import InputError
from nlp_coder.records import Codebook, MatchSettings

SCORING_METHODS = ("centroid", "topk")
"""How a code's exemplars score a fragment (``suggest --method``): ``centroid``, the similarity
to their normalised mean; ``topk``, the mean similarity to the ``top_k`` nearest."""

DEFAULT_METHOD = "centroid"
"""The method used unless an option or the model's registry entry says otherwise."""

DEFINITION_WEIGHTS = {"topk": 0.25, "centroid": 0.5}
"""Each method's default weight of the definition in a code's score."""

AUTO_THRESHOLD = "auto"
"""``--threshold auto``: the threshold fitted to the codebook's exemplars. It needs their vectors,
so :func:`nlp_coder.run.suggest` resolves it once the codebook is embedded (with
:func:`nlp_coder.analyses.sensitivity.recommend_threshold`); :func:`resolve_settings` refuses it."""


def resolve_settings(codebook: Codebook, model: str = "default", *, method: str | None = None,
                     threshold: float | None = None, margin: float | None = None, top_k: int = 3,
                     definition_weight: float | None = None, counterexample_weight: float = 1.0,
                     suggestions: int = 3) -> MatchSettings:
    """The matching settings for ``codebook`` with the registered ``model``.

    Args:
        codebook: a loaded codebook (its ``threshold`` and ``margin``, when set, come second).
        model: a registered model's name or alias (its registry defaults come third).
        method: ``centroid`` or ``topk``; default the model's, else :data:`DEFAULT_METHOD`.
        threshold: the score a code needs (in [-1, 1]).
        margin: how close a rival must be to make an overlap (0 or more).
        top_k: nearest exemplars averaged per code (``topk``).
        definition_weight: weight of the definition in a code's score (in [0, 1]); default
            the method's.
        counterexample_weight: weight of the counterexample penalty (0 or more).
        suggestions: codes listed per fragment.

    Raises:
        InputError: ``E130`` for an unknown model or method, or a value that is out of range,
            not a number or infinite.
    """
    from nlp_coder.embed.registry import load_registry

    if threshold == AUTO_THRESHOLD:
        raise InputError("--threshold auto is fitted to the codebook's exemplars by suggest, sensitivity, "
                         "discover and report only", "--threshold", "Give a number here", code="E130")
    spec = load_registry().model(model)
    origin: dict[str, str] = {}
    if method is not None:
        origin["method"] = "option"
    elif spec.method is not None:
        method, origin["method"] = spec.method, f"model {spec.name}"
    else:
        method, origin["method"] = DEFAULT_METHOD, "default"
    if method not in SCORING_METHODS:
        raise InputError(f"unknown method '{method}'", "--method", f"Use one of: {', '.join(SCORING_METHODS)}",
                         code="E130")
    threshold = _first("threshold", origin, (threshold, "option"), (codebook.threshold, "codebook"),
                       (spec.threshold_for(method), f"model {spec.name} ({method})"))
    margin = _first("margin", origin, (margin, "option"), (codebook.margin, "codebook"),
                    (spec.margin, f"model {spec.name}"))
    weight = _first("definition_weight", origin, (definition_weight, "option"),
                    (DEFINITION_WEIGHTS[method], f"method {method}"))
    _check(threshold, "--threshold", -1.0, 1.0)
    _check(margin, "--margin", 0.0, math.inf)
    _check(weight, "--definition-weight", 0.0, 1.0)
    _check(counterexample_weight, "--counterexample-weight", 0.0, math.inf)
    for value, name in ((top_k, "--top-k"), (suggestions, "--suggestions")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be a whole number of at least 1, not {value!r}", name, code="E130")
    return MatchSettings(threshold=float(threshold), margin=float(margin), top_k=top_k,
                         definition_weight=float(weight), counterexample_weight=float(counterexample_weight),
                         suggestions=suggestions, method=method, origin=tuple(origin.items()))


def with_method(settings: MatchSettings, codebook: Codebook, model: str, method: str) -> MatchSettings:
    """``settings`` for another method: what the resolver gives ``method``, keeping every value
    that an option set (a value from the codebook comes from it again)."""
    origin = dict(settings.origin)
    given = {name: getattr(settings, name) for name in ("threshold", "margin", "definition_weight")
             if origin.get(name) == "option"}
    return resolve_settings(codebook, model, method=method, top_k=settings.top_k,
                            counterexample_weight=settings.counterexample_weight, suggestions=settings.suggestions,
                            **given)


def describe_settings(settings: MatchSettings) -> str:
    """One line: the values a run decides with and where each came from."""
    origin = dict(settings.origin)
    parts = [f"method {settings.method} ({origin.get('method', 'given')})",
             f"threshold {settings.threshold:g} ({origin.get('threshold', 'given')})",
             f"margin {settings.margin:g} ({origin.get('margin', 'given')})",
             f"definition weight {settings.definition_weight:g} ({origin.get('definition_weight', 'given')})"]
    return "settings: " + ", ".join(parts)


def _first(name: str, origin: dict[str, str], *candidates: tuple[float | None, str]) -> float:
    for value, source in candidates:
        if value is not None:
            origin[name] = source
            return value
    raise AssertionError(f"no value for {name}")  # the last candidate is never None


def _check(value: float, name: str, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{name} must be a number, not {value!r}", name, code="E130")
    if not math.isfinite(value):
        raise InputError(f"{name} must be a finite number, not {value}", name, code="E130")
    if not low <= value <= high:
        bounds = f"at least {low:g}" if high == math.inf else f"between {low:g} and {high:g}"
        raise InputError(f"{name} {value:g} is out of range", name, f"Give a value {bounds}", code="E130")
