"""The model registry (``models/registry.yaml``): every model nlp_coder knows, its package,
weights hash and the matching defaults measured for it (threshold and margin per method)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from nlp_coder.errors import InputError, ModelError

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
"""Where models built from installed weights live (``models/`` of a source checkout)."""

_REGISTRY_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "models" / "registry.yaml",  # source checkout
    Path(__file__).resolve().parents[1] / "_data" / "registry.yaml",  # installed wheel
)


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the model registry."""

    name: str
    kind: str
    dimensions: int
    languages: tuple[str, ...]
    threshold: float
    margin: float
    aliases: tuple[str, ...] = ()
    package: str | None = None
    module: str | None = None
    path_function: str | None = None
    weights_file: str | None = None
    weights_sha256: str | None = None
    description: str = ""
    path: str | None = None  # kind static: the model folder, relative to models/ of the checkout
    build: str = ""  # how to build a model that is not shipped in a package (named in errors)
    method_thresholds: tuple[tuple[str, float], ...] = ()  # scoring method -> its default threshold
    members: tuple[tuple[str, float], ...] = ()  # kind ensemble: (member model, weight) pairs
    method: str | None = None  # the scoring method used with this model unless --method says otherwise
    onnx_path: str | None = None  # an ONNX export of the same weights, built into models/ (CPU runs)
    onnx_sha256: str | None = None

    def threshold_for(self, method: str) -> float:
        """The default threshold of ``method`` for this model (``threshold`` unless the registry
        gives the method its own: scores of different methods sit on different scales)."""
        return dict(self.method_thresholds).get(method, self.threshold)

    @property
    def installed(self) -> bool:
        """Whether the model can be loaded here (its package is importable, its folder built, or
        every member of an ensemble installed)."""
        if self.members:
            registry = load_registry()
            return all(registry.model(name).installed for name, _ in self.members)
        if self.path is not None:
            return (MODELS_DIR / self.path / (self.weights_file or "model.safetensors")).is_file()
        return self.module is None or importlib.util.find_spec(self.module) is not None

    def covers(self, language: str) -> bool:
        """Whether the model is fit for text in ``language`` (an ISO 639-1 code): its registry
        ``languages`` name it, or ``any``."""
        return language in self.languages or "any" in self.languages


@dataclass(frozen=True)
class SpacySpec:
    """A trained spaCy pipeline used for sentence segmentation when installed."""

    name: str
    package: str
    module: str
    languages: tuple[str, ...]


@dataclass(frozen=True)
class Registry:
    models: tuple[ModelSpec, ...]
    spacy: tuple[SpacySpec, ...]

    def model(self, name: str) -> ModelSpec:
        """The registered model called ``name`` (or one of its aliases)."""
        for spec in self.models:
            if name == spec.name or name in spec.aliases:
                return spec
        known = ", ".join(s.name for s in self.models)
        raise InputError(f"unknown model '{name}'", "--model", f"Use one of: {known} (see 'nlp-coder models')",
                         code="E130")

    def covering(self, languages: Iterable[str]) -> tuple[ModelSpec, ...]:
        """The semantic models (not the test model) fit for every one of ``languages``, in
        registry order."""
        wanted = tuple(languages)
        return tuple(spec for spec in self.models
                     if spec.kind != "hashing" and all(spec.covers(code) for code in wanted))


DEFAULT_MODEL = "default"
"""``--model``'s default: the registry's default model, or, for text in a language it is not fit
for, the first installed model that is (:func:`choose_model`)."""


@dataclass(frozen=True)
class ModelChoice:
    """The model a run uses, for the languages of its texts (:func:`choose_model`).

    Attributes:
        model: the registry name of the model to load.
        requested: the model asked for (a name or alias).
        languages: the languages the model must cover (ISO 639-1 codes, sorted).
        note: set when another model than the one asked for was chosen: one line saying which
            and why (printed in the summary, recorded in the run manifest).
        warning: set when a model named explicitly is not fit for some of the languages: one line
            naming the model that is.
    """

    model: str
    requested: str
    languages: tuple[str, ...]
    note: str | None = None
    warning: str | None = None


def _languages_named(codes: Iterable[str]) -> str:
    from nlp_coder.language import language_name

    return ", ".join(f"{language_name(code)} ({code})" if language_name(code) != code else code for code in codes)


def choose_model(requested: str, languages: Iterable[str], *, named: bool | None = None) -> ModelChoice:
    """The model to use for texts in ``languages``.

    The model asked for is used when it covers every language (:meth:`ModelSpec.covers`).
    Otherwise, when it was not named explicitly (``named`` false; by default, when it was asked
    for as :data:`DEFAULT_MODEL`), the first installed model of the registry that covers them
    all is chosen, with a note; a model named explicitly is kept, with a warning naming one that
    covers them. ``"und"`` (undetermined) is ignored.

    Raises:
        InputError: ``E130`` for an unknown model name.
        ModelError: ``E203`` when the model was not named and no installed model covers the
            languages (the message says what to install, or how to code the text anyway).
    """
    registry = load_registry()
    spec = registry.model(requested)
    wanted = tuple(sorted(set(languages) - {"und"}))
    missing = [code for code in wanted if not spec.covers(code)]
    if not missing:
        return ModelChoice(spec.name, requested, wanted)
    named = requested != DEFAULT_MODEL if named is None else named
    fit = registry.covering(wanted)
    installed = [s for s in fit if s.installed]
    text = _languages_named(missing)
    fit_for = _languages_named(spec.languages)
    if named:
        if installed:
            other = installed[0]
            advice = f"{other.name} covers them (--model {other.aliases[0] if other.aliases else other.name})"
        elif fit:
            advice = f"{fit[0].name} covers them (pip install {fit[0].package})"
        else:
            advice = "no registered model covers them"
        return ModelChoice(spec.name, requested, wanted,
                           warning=f"model {spec.name} is fit for {fit_for} only, and some text is in {text}: "
                                   f"its scores there will be poor; {advice}")
    if installed:
        chosen = installed[0]
        return ModelChoice(chosen.name, requested, wanted,
                           note=f"model {chosen.name} chosen for text in {text}: the default model {spec.name} "
                                f"is fit for {fit_for} only (--model names another)")
    if fit:
        raise ModelError(f"no installed model covers text in {text}: the default model {spec.name} is fit for "
                         f"{fit_for} only", "--model",
                         f"Install one that does: pip install {fit[0].package} (model {fit[0].name}); or name a "
                         "model with --model to code the text anyway", code="E203")
    raise ModelError(f"no registered model covers text in {text}", "--model",
                     "Name a model with --model to code the text anyway (its scores will be poor), e.g. --model use",
                     code="E203")


@lru_cache(maxsize=1)
def load_registry() -> Registry:
    """Read the model registry shipped with nlp_coder."""
    for path in _REGISTRY_CANDIDATES:
        if path.is_file():
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            break
    else:  # pragma: no cover - a broken installation
        raise FileNotFoundError("models/registry.yaml is missing from this installation of nlp_coder")
    models = tuple(
        ModelSpec(
            name=m["name"],
            kind=m["kind"],
            dimensions=int(m["dimensions"]),
            languages=tuple(m.get("languages", ())),
            threshold=float(m["threshold"]),
            margin=float(m["margin"]),
            aliases=tuple(m.get("aliases") or ()),
            package=m.get("package"),
            module=m.get("module"),
            path_function=m.get("path_function"),
            weights_file=m.get("weights_file"),
            weights_sha256=m.get("weights_sha256"),
            description=" ".join(str(m.get("description", "")).split()),
            path=m.get("path"),
            build=" ".join(str(m.get("build", "")).split()),
            method_thresholds=tuple((str(k), float(v)) for k, v in (m.get("method_thresholds") or {}).items()),
            members=tuple((str(k), float(v)) for k, v in (m.get("members") or {}).items()),
            method=m.get("method"),
            onnx_path=(m.get("onnx") or {}).get("path"),
            onnx_sha256=(m.get("onnx") or {}).get("sha256"),
        )
        for m in data["models"]
    )
    spacy = tuple(
        SpacySpec(name=s["name"], package=s["package"], module=s["module"],
                  languages=tuple(s.get("languages", ())))
        for s in data.get("spacy", ())
    )
    return Registry(models=models, spacy=spacy)
