"""Batch-level latency cost model: seconds per training step from training profiles.

Target: the median of `probe.timings['batch']` (seconds per batch, data + forward + backward +
optimiser step) of each ok probe of each train profile. Features: batch size, input dims
(spatial elements and channels), model name, CPU cap, device type ('cpu', or 'cuda' when the
probe had GPUs).

Two kinds, both saved as plain JSON (no pickle) next to the profiles:

- `linear` (interpretable): per (device, model) a fixed overhead plus a power law,
      t = t0 + e^a * batch^b * spatial^c * channels^d * cpus^e
  i.e. log(t - t0) linear in the logs. The exponents are fitted by ridge regression shrunk
  towards a pooled per-device fit (shared exponents, one intercept per model), so a group with
  two points still gets sensible slopes for the axes it never varied; t0 (launch, optimiser
  and Python cost per step, which a pure power law bends around at small batches) is chosen
  on a grid of shares of the group's fastest step, by log error (t0 = 0 below 6 points).
- `gbt` (gradient-boosted): the linear law plus scikit-learn's GradientBoostingRegressor fitted
  to the linear law's log residuals. Trees alone extrapolate as constants (a batch of 256 would
  cost what 64 did); boosting the residual keeps the law's extrapolation and learns the
  curvature. The trees are exported to JSON (child/feature/threshold/value arrays) and
  evaluated in numpy on load, so loading needs neither sklearn nor a refit.

Hold-out error: k-fold (default 5) over measured points, relative |pred - true| / true, median
and p90 per device. No torch import; sklearn only inside `fit`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from harness.profile import HostFacts, Profile, write_atomic

Kind = Literal["linear", "gbt"]
KINDS: tuple[Kind, ...] = ("linear", "gbt")
FORMAT = "harness.costmodel"
VERSION = 1
SLOTS = ("log_batch", "log_spatial", "log_channels", "log_cpus")
GBT_FEATURES = (*SLOTS, "model_code", "device_code", "spatial_rank")
GBT_PARAMS: dict[str, Any] = {
    "n_estimators": 150,
    "max_depth": 3,
    "learning_rate": 0.05,
    "min_samples_leaf": 3,
    "subsample": 1.0,
    "random_state": 0,
}
MIN_GBT_SAMPLES = 12
# overhead t0 tried as these shares of a group's fastest step (only with enough points)
OVERHEAD_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
MIN_OVERHEAD_SAMPLES = 6  # below this the residual model is left out (linear law only)


class CostModelError(ValueError):
    """No data for what was asked, or a bad cost-model file; one line."""


@dataclass(frozen=True)
class Sample:
    """One measured point: seconds per training batch under one configuration."""

    model: str
    device: str
    batch_size: int
    dims: tuple[int, ...]  # (C, H, W) or (C, D, H, W)
    cpus: float
    step_s: float
    source: str = ""

    @property
    def channels(self) -> int:
        return int(self.dims[0])

    @property
    def spatial(self) -> int:
        return int(math.prod(self.dims[1:]))


def features(batch: int, dims: Sequence[int], cpus: float) -> list[float]:
    return [
        math.log(batch),
        math.log(max(1, math.prod(dims[1:]))),
        math.log(max(1, dims[0])),
        math.log(cpus),
    ]


# ---------------------------------------------------------------- samples from profiles


def device_of(gpus: int) -> str:
    return "cuda" if gpus > 0 else "cpu"


def samples_from_profile(profile: Profile, source: str = "") -> list[Sample]:
    """Every ok train probe that has a batch time (or a throughput) becomes a sample."""
    if profile.kind != "train" or profile.train is None:
        return []
    out: list[Sample] = []
    job = profile.job
    for probe in profile.train.probes:
        if probe.outcome != "ok":
            continue
        # the batch actually run: the records say; else the CLI's -b (options), else the spec
        batch = int(profile.options.get("batch_size") or job.batch_size)
        measured = [r for r in (probe.records or []) if not r.warmup]
        if measured:
            batch = measured[0].batch_size
        t: float | None = None
        if "batch" in probe.timings and probe.timings["batch"].median > 0:
            t = probe.timings["batch"].median
        elif probe.throughput is not None and probe.throughput.median > 0:
            t = batch / probe.throughput.median
        if t is None:
            continue
        out.append(
            Sample(
                model=job.model,
                device=device_of(probe.caps.gpus),
                batch_size=int(batch),
                dims=tuple(int(d) for d in job.input_shape),
                cpus=float(probe.caps.cpus),
                step_s=float(t),
                source=source or profile.id,
            )
        )
    return out


def samples_from_profiles(profiles: Iterable[Profile]) -> list[Sample]:
    out: list[Sample] = []
    for p in profiles:
        out.extend(samples_from_profile(p))
    return out


def load_samples(paths: Iterable[str | Path]) -> list[Sample]:
    """Samples of the train profiles among `paths` (infer profiles are skipped, and so is a
    cost-model JSON fitted earlier into the same folder: `fit dir/*.json` can be rerun)."""
    from harness.profile import ProfileError, load_profile

    out: list[Sample] = []
    for path in paths:
        try:
            prof = load_profile(path)
        except ProfileError:
            if _is_cost_model(path):
                continue
            raise
        out.extend(samples_from_profile(prof, source=Path(path).name))
    return out


def _is_cost_model(path: str | Path) -> bool:
    try:
        d = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(d, dict) and d.get("format") == FORMAT


def training_hash(samples: Sequence[Sample]) -> str:
    rows = sorted(json.dumps(_sample_json(s), sort_keys=True) for s in samples)
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]


def _sample_json(s: Sample) -> dict[str, Any]:
    d = asdict(s)
    d["dims"] = list(s.dims)
    return d


# ---------------------------------------------------------------- the linear law


def _ridge(
    x: np.ndarray, y: np.ndarray, lam: np.ndarray, prior: np.ndarray | None = None
) -> np.ndarray:
    """argmin ||xw - y||^2 + sum lam_k (w_k - prior_k)^2 (closed form)."""
    p = np.zeros(x.shape[1]) if prior is None else prior
    a = x.T @ x + np.diag(lam)
    b = x.T @ y + lam * p
    return np.linalg.solve(a, b)


@dataclass
class LinearLaw:
    """Per-device pooled fits and per-(device, model) shrunk fits, all in log space."""

    lam: float = 0.05
    pooled: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, float]] = field(default_factory=dict)  # "device|model" -> coef

    @staticmethod
    def fit(samples: Sequence[Sample], lam: float = 0.05) -> LinearLaw:
        law = LinearLaw(lam=lam)
        by_device: dict[str, list[Sample]] = {}
        for s in samples:
            by_device.setdefault(s.device, []).append(s)
        for device, ss in sorted(by_device.items()):
            models = sorted({s.model for s in ss})
            xf = np.array([features(s.batch_size, s.dims, s.cpus) for s in ss])
            onehot = np.array([[1.0 if s.model == m else 0.0 for m in models] for s in ss])
            y = np.log([s.step_s for s in ss])
            x = np.hstack([onehot, xf])
            # tiny ridge on intercepts, light on slopes: identifiable even when an axis is flat
            lam_vec = np.array([1e-6] * len(models) + [1e-3] * len(SLOTS))
            w = _ridge(x, y, lam_vec)
            slopes = w[len(models) :]
            law.pooled[device] = {
                "intercepts": {m: float(w[i]) for i, m in enumerate(models)},
                "slopes": dict(zip(SLOTS, map(float, slopes), strict=True)),
                "n": len(ss),
            }
            for m in models:
                g = [s for s in ss if s.model == m]
                xg = np.hstack(
                    [np.ones((len(g), 1)), [features(s.batch_size, s.dims, s.cpus) for s in g]]
                )
                tg = np.array([s.step_s for s in g])
                prior = np.concatenate([[law.pooled[device]["intercepts"][m]], slopes])
                lam_g = np.array([1e-6] + [lam] * len(SLOTS))
                # fixed overhead t0 (launch, optimiser, Python): a 1-D grid, the law on t - t0
                grid = OVERHEAD_GRID if len(g) >= MIN_OVERHEAD_SAMPLES else (0.0,)
                best: tuple[float, float, np.ndarray] | None = None
                for q in grid:
                    t0 = q * float(tg.min())
                    wg = _ridge(xg, np.log(tg - t0), lam_g, prior)
                    sse = float(((np.log(t0 + np.exp(xg @ wg)) - np.log(tg)) ** 2).sum())
                    if best is None or sse < best[0] - 1e-12:
                        best = (sse, t0, wg)
                assert best is not None
                _, t0, wg = best
                coef = {"intercept": float(wg[0])}
                coef.update(dict(zip(SLOTS, map(float, wg[1:]), strict=True)))
                coef["overhead_s"] = t0
                coef["n"] = float(len(g))
                law.groups[f"{device}|{m}"] = coef
        return law

    def covers(self, model: str, device: str) -> bool:
        return f"{device}|{model}" in self.groups

    def log_predict(
        self, model: str, batch: int, dims: Sequence[int], cpus: float, device: str
    ) -> float:
        coef = self.groups.get(f"{device}|{model}")
        if coef is None:
            known = sorted(self.groups)
            raise CostModelError(
                f"cost model has no data for model {model!r} on device {device!r} "
                f"(has: {', '.join(known) or 'nothing'})"
            )
        f = features(batch, dims, cpus)
        lin = coef["intercept"] + sum(coef[k] * v for k, v in zip(SLOTS, f, strict=True))
        t0 = float(coef.get("overhead_s", 0.0))
        return math.log(t0 + math.exp(lin)) if t0 > 0 else lin

    def to_json(self) -> dict[str, Any]:
        return {"lambda": self.lam, "pooled": self.pooled, "groups": self.groups}

    @staticmethod
    def from_json(d: dict[str, Any]) -> LinearLaw:
        return LinearLaw(lam=float(d["lambda"]), pooled=d["pooled"], groups=d["groups"])


# ---------------------------------------------------------------- boosted residuals


@dataclass
class BoostedResidual:
    """GradientBoostingRegressor on log residuals, stored as plain arrays."""

    models: list[str]
    devices: list[str]
    baseline: float
    learning_rate: float
    trees: list[dict[str, list[Any]]]  # left/right/feature: int, threshold/value: float
    params: dict[str, Any]

    @staticmethod
    def encode(
        samples_or_rows: Sequence[tuple[str, str, int, Sequence[int], float]],
        models: list[str],
        devices: list[str],
    ) -> np.ndarray:
        rows = []
        for model, device, batch, dims, cpus in samples_or_rows:
            mc = models.index(model) if model in models else -1
            dc = devices.index(device) if device in devices else -1
            rows.append([*features(batch, dims, cpus), float(mc), float(dc), float(len(dims) - 1)])
        return np.array(rows, dtype=np.float64)

    @staticmethod
    def fit(samples: Sequence[Sample], law: LinearLaw) -> BoostedResidual | None:
        if len(samples) < MIN_GBT_SAMPLES:
            return None
        from sklearn.ensemble import GradientBoostingRegressor

        models = sorted({s.model for s in samples})
        devices = sorted({s.device for s in samples})
        x = BoostedResidual.encode(
            [(s.model, s.device, s.batch_size, s.dims, s.cpus) for s in samples], models, devices
        )
        base = np.array(
            [law.log_predict(s.model, s.batch_size, s.dims, s.cpus, s.device) for s in samples]
        )
        r = np.log([s.step_s for s in samples]) - base
        params = dict(GBT_PARAMS)
        params["min_samples_leaf"] = max(1, min(params["min_samples_leaf"], len(samples) // 6))
        gbr = GradientBoostingRegressor(loss="squared_error", **params)
        gbr.fit(x, r)
        return BoostedResidual.from_sklearn(gbr, models, devices, params)

    @staticmethod
    def from_sklearn(
        gbr: Any, models: list[str], devices: list[str], params: dict[str, Any]
    ) -> BoostedResidual:
        """Export a fitted squared-error GradientBoostingRegressor's trees as arrays."""
        trees = []
        for est in gbr.estimators_[:, 0]:
            t = est.tree_
            trees.append(
                {
                    "left": t.children_left.tolist(),
                    "right": t.children_right.tolist(),
                    "feature": t.feature.tolist(),
                    "threshold": t.threshold.tolist(),
                    "value": t.value[:, 0, 0].tolist(),
                }
            )
        baseline = float(np.asarray(gbr.init_.constant_).ravel()[0])
        return BoostedResidual(
            models=models,
            devices=devices,
            baseline=baseline,
            learning_rate=float(gbr.learning_rate),
            trees=trees,
            params=params,
        )

    @cached_property
    def _arrays(self) -> list[tuple[np.ndarray, ...]]:
        return [
            (
                np.asarray(t["left"], dtype=np.int64),
                np.asarray(t["right"], dtype=np.int64),
                np.asarray(t["feature"], dtype=np.int64),
                np.asarray(t["threshold"], dtype=np.float64),
                np.asarray(t["value"], dtype=np.float64),
            )
            for t in self.trees
        ]

    def residual(self, x: np.ndarray) -> np.ndarray:
        """Walk every tree for all rows at once (numpy), as sklearn's predict does."""
        out = np.full(x.shape[0], self.baseline)
        rows = np.arange(x.shape[0])
        for left, right, feat, thr, val in self._arrays:
            node = np.zeros(x.shape[0], dtype=np.int64)
            while True:
                inner = left[node] != -1
                if not inner.any():
                    break
                f = np.where(inner, feat[node], 0)
                go_left = x[rows, f] <= thr[node]
                node = np.where(inner, np.where(go_left, left[node], right[node]), node)
            out += self.learning_rate * val[node]
        return out

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(d: dict[str, Any]) -> BoostedResidual:
        return BoostedResidual(**d)


# ---------------------------------------------------------------- the cost model


@dataclass
class Estimate:
    seconds: float
    source: Literal["measured", "linear", "gbt"]


@dataclass
class CostModel:
    samples: list[Sample]
    linear: LinearLaw
    gbt: BoostedResidual | None = None
    holdout: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    created: str = ""

    @property
    def devices(self) -> list[str]:
        return sorted({s.device for s in self.samples})

    @property
    def models(self) -> list[str]:
        return sorted({s.model for s in self.samples})

    def covers(self, model: str, device: str) -> bool:
        return self.linear.covers(model, device)

    def best_kind(self) -> Kind:
        """The kind with the lower hold-out median when one was measured, else gbt if fitted."""
        if self.gbt is None:
            return "linear"
        try:
            lin = float(self.holdout["linear"]["all"]["median"])
            gbt = float(self.holdout["gbt"]["all"]["median"])
        except (KeyError, TypeError, ValueError):
            return "gbt"
        return "linear" if lin <= gbt else "gbt"

    def predict(
        self,
        model: str,
        batch: int,
        dims: Sequence[int],
        cpus: float,
        device: str,
        kind: Kind | None = None,
    ) -> float:
        """Seconds per training batch; kind None = best_kind()."""
        if batch <= 0 or cpus <= 0:
            raise CostModelError(f"batch and cpus must be positive, got {batch} and {cpus}")
        k = kind or self.best_kind()
        log_t = self.linear.log_predict(model, batch, dims, cpus, device)
        if k == "gbt":
            if self.gbt is None:
                raise CostModelError(
                    f"no gbt model fitted (needs >= {MIN_GBT_SAMPLES} samples, "
                    f"had {len(self.samples)})"
                )
            x = BoostedResidual.encode(
                [(model, device, batch, dims, cpus)], self.gbt.models, self.gbt.devices
            )
            log_t += float(self.gbt.residual(x)[0])
        return float(math.exp(log_t))


def fit(samples: Sequence[Sample], kind: Literal["linear", "gbt", "both"] = "both") -> CostModel:
    """Fit on every sample; `kind` 'linear' skips the boosted residual."""
    good = [s for s in samples if s.step_s > 0 and s.batch_size > 0 and s.cpus > 0]
    if not good:
        raise CostModelError("no training samples: the profiles have no ok train probes")
    law = LinearLaw.fit(good)
    gbt = BoostedResidual.fit(good, law) if kind != "linear" else None
    return CostModel(samples=list(good), linear=law, gbt=gbt, created=datetime.now(UTC).isoformat())


def predict(
    cm: CostModel,
    model: str,
    batch: int,
    dims: Sequence[int],
    cpus: float,
    device: str,
    kind: Kind | None = None,
) -> float:
    """Seconds per training batch of `model` at `batch` x `dims` on `device` with `cpus`."""
    return cm.predict(model, batch, dims, cpus, device, kind)


def step_time(
    cm: CostModel,
    model: str,
    batch: int,
    dims: Sequence[int],
    cpus: float,
    device: str,
    kind: Kind | None = None,
) -> Estimate:
    """What solvers call: the measured median where a profile has the point, else predicted."""
    dims_t = tuple(int(d) for d in dims)
    hits = [
        s.step_s
        for s in cm.samples
        if (s.model, s.device, s.batch_size, s.dims) == (model, device, batch, dims_t)
        and abs(s.cpus - cpus) < 1e-9
    ]
    if hits:
        return Estimate(float(np.median(hits)), "measured")
    k: Kind = kind or cm.best_kind()
    return Estimate(cm.predict(model, batch, dims, cpus, device, k), k)


# ---------------------------------------------------------------- hold-out error


@dataclass
class ErrorStats:
    n: int
    median: float
    p90: float
    mean: float
    uncovered: int = 0  # held-out points whose (device, model) had no training data


def _stats(errs: list[float], uncovered: int) -> ErrorStats:
    if not errs:
        return ErrorStats(0, float("nan"), float("nan"), float("nan"), uncovered)
    a = np.array(errs)
    return ErrorStats(
        len(errs), float(np.median(a)), float(np.quantile(a, 0.9)), float(a.mean()), uncovered
    )


def holdout_error(
    samples: Sequence[Sample], kinds: Sequence[Kind] = KINDS, folds: int = 5, seed: int = 0
) -> dict[str, dict[str, ErrorStats]]:
    """k-fold hold-out relative error per kind and device (plus 'all')."""
    n = len(samples)
    if n < 2:
        raise CostModelError(f"hold-out error needs at least 2 samples, got {n}")
    k = max(2, min(folds, n))
    order = np.random.default_rng(seed).permutation(n)
    fold_of = np.empty(n, dtype=int)
    fold_of[order] = np.arange(n) % k
    errs: dict[str, dict[str, list[float]]] = {kd: {} for kd in kinds}
    unc: dict[str, dict[str, int]] = {kd: {} for kd in kinds}
    for f in range(k):
        train = [s for i, s in enumerate(samples) if fold_of[i] != f]
        test = [s for i, s in enumerate(samples) if fold_of[i] == f]
        if not train or not test:
            continue
        cm = fit(train, "both" if "gbt" in kinds else "linear")
        for kd in kinds:
            for s in test:
                for dev in (s.device, "all"):
                    errs[kd].setdefault(dev, [])
                    unc[kd].setdefault(dev, 0)
                if not cm.covers(s.model, s.device) or (kd == "gbt" and cm.gbt is None):
                    unc[kd][s.device] += 1
                    unc[kd]["all"] += 1
                    continue
                pred = cm.predict(s.model, s.batch_size, s.dims, s.cpus, s.device, kd)
                e = abs(pred - s.step_s) / s.step_s
                errs[kd][s.device].append(e)
                errs[kd]["all"].append(e)
    return {
        kd: {dev: _stats(errs[kd][dev], unc[kd].get(dev, 0)) for dev in sorted(errs[kd])}
        for kd in kinds
    }


# ---------------------------------------------------------------- JSON


def to_json(cm: CostModel) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "created": cm.created,
        "target": "seconds per training batch (median of probe timings['batch'])",
        "features": list(SLOTS),
        "training_hash": training_hash(cm.samples),
        "samples": [_sample_json(s) for s in cm.samples],
        "linear": cm.linear.to_json(),
        "gbt": cm.gbt.to_json() if cm.gbt is not None else None,
        "holdout": cm.holdout,
    }


def save(cm: CostModel, path: str | Path) -> None:
    write_atomic(path, json.dumps(to_json(cm), indent=1) + "\n")


def load(path: str | Path) -> CostModel:
    """Read a cost-model JSON; every failure is one CostModelError line naming the file."""
    p = Path(path)
    try:
        d = json.loads(p.read_text())
    except OSError as exc:
        raise CostModelError(f"{p}: cannot read: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CostModelError(f"{p}: not a JSON cost model: {exc}") from None
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise CostModelError(f"{p}: field 'format': expected {FORMAT!r}")
    if d.get("version") != VERSION:
        raise CostModelError(f"{p}: field 'version': expected {VERSION}, got {d.get('version')!r}")
    try:
        samples = [
            Sample(
                model=str(s["model"]),
                device=str(s["device"]),
                batch_size=int(s["batch_size"]),
                dims=tuple(int(x) for x in s["dims"]),
                cpus=float(s["cpus"]),
                step_s=float(s["step_s"]),
                source=str(s.get("source", "")),
            )
            for s in d["samples"]
        ]
        law = LinearLaw.from_json(d["linear"])
        gbt = BoostedResidual.from_json(d["gbt"]) if d.get("gbt") else None
    except (KeyError, TypeError, ValueError) as exc:
        raise CostModelError(f"{p}: malformed cost model: {exc!r}") from None
    return CostModel(
        samples=samples,
        linear=law,
        gbt=gbt,
        holdout=d.get("holdout") or {},
        created=str(d.get("created", "")),
    )


def holdout_json(h: dict[str, dict[str, ErrorStats]]) -> dict[str, dict[str, dict[str, float]]]:
    return {kd: {dev: asdict(st) for dev, st in devs.items()} for kd, devs in h.items()}


def fit_with_holdout(
    samples: Sequence[Sample], kind: Literal["linear", "gbt", "both"] = "both", folds: int = 5
) -> tuple[CostModel, dict[str, dict[str, ErrorStats]]]:
    """Fit on everything and attach the k-fold hold-out error (what `harness fit` saves)."""
    cm = fit(samples, kind)
    by_kind: dict[str, tuple[Kind, ...]] = {"linear": ("linear",), "gbt": ("gbt",), "both": KINDS}
    kinds = by_kind[kind]
    h = holdout_error(cm.samples, kinds, folds) if len(cm.samples) >= 2 else {}
    cm.holdout = holdout_json(h)
    return cm, h


def default_path(profile_paths: Sequence[str | Path]) -> Path:
    """Next to the profiles: <folder of the first profile>/costmodel.json."""
    if not profile_paths:
        return Path("profiles") / "costmodel.json"
    return Path(profile_paths[0]).parent / "costmodel.json"


# ---------------------------------------------------------------- profiles from timings


@lru_cache(maxsize=1)
def _this_host() -> HostFacts:
    """This machine's facts, read once (package metadata look-ups are not free)."""
    from harness.telemetry.host import host_facts

    return host_facts()


def train_profile(
    job: Any,
    device: str,
    points: Sequence[tuple[float, Sequence[float]]],
    batch_size: int | None = None,
    host: HostFacts | None = None,
    options: dict[str, Any] | None = None,
) -> Profile:
    """A train Profile from (cpus, [seconds per batch...]) points: tests and benches use it.

    `job` is a JobSpec; batch_size overrides its batch size (one profile per batch size).
    `host` defaults to this machine's real facts (harness.telemetry.host): a profile names
    the host it was measured on, never a made-up one. `options` says how it was measured.
    """
    from harness import __version__
    from harness.profile import Caps, Outcome, Probe, Stat, TrainSection, make_profile_id, now

    spec = job.model_copy(update={"batch_size": batch_size}) if batch_size else job
    created = now()
    gpus = 1 if device == "cuda" else 0
    facts = host if host is not None else _this_host()
    probes = []
    for cpus, times in points:
        bs = spec.batch_size
        probes.append(
            Probe(
                id=f"cpus={cpus:g},gpus={gpus}",
                caps=Caps(cpus=cpus, gpus=gpus),
                backend="local",
                outcome=Outcome.ok,
                started=created,
                duration_s=float(sum(times)),
                throughput=Stat.of([bs / t for t in times]),
                timings={"batch": Stat.of(list(times))},
            )
        )
    return Profile(
        id=make_profile_id(spec.name, facts.hostname, created, f"{device}{spec.batch_size}"),
        created=created,
        harness_version=__version__,
        kind="train",
        job=spec,
        host=facts,
        backend="local",
        options=dict(options or {}),
        train=TrainSection(probes=probes),
    )
