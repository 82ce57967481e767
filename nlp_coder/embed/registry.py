"""The model registry (``models/registry.yaml``): every model nlp_coder knows, its package,
weights hash and the matching defaults measured for it (threshold and margin per method)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from nlp_coder.errors import InputError

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
