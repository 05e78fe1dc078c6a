"""An accuracy surrogate fit from the measured variants, and its held-out error.

Accuracy is not additive over blocks, so no table of per-layer numbers predicts it. What the
measured variants do give is how a domain's accuracy falls as a variant is cut: per domain d,

    drop_d(v) = acc_ref(d) - acc_v(d)  ~  w_d . x(v),    x(v) = (mean over stages of r_s^2,
                                                              mean over stages of r_s^4)

a ridge least-squares fit through the origin (the reference, x = 0, loses nothing), one weight
vector per domain (domains differ in what they lose); the fourth power lets it bend at the
cliff that heavy pruning shows (measured on the digits: flat to 50%, then a steep fall). Its
error is measured honestly: leave one variant out, fit on the rest, predict the left-out
variant on every domain, and report the mean and the largest absolute error (a share), over
all variants and over the interior ones alone (those inside the others' range: interpolation,
which is what the surrogate is used for; the two ends are extrapolation). The decision uses a
prediction only where a variant was profiled but its accuracy on a domain was not measured;
such a choice is marked "surrogate" and must be re-measured before it is promised. Pure
Python (a small ridge solve).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.profile import VariantInfo

FEATURES = ("mean per-stage pruning ratio squared", "mean per-stage pruning ratio ^ 4")
METHOD = "per-domain ridge least squares through the origin on the accuracy drop"


def features(info: VariantInfo, ref: VariantInfo) -> list[float]:
    """The variant's pruning, from its per-stage ratios (the reference's are all 0); a variant
    that records no ratios falls back to the share of MACs removed as one overall ratio."""
    ratios = list(info.ratios.values())
    if not ratios and ref.macs and info.macs < ref.macs:
        ratios = [1.0 - info.macs / ref.macs]
    if not ratios:
        return [0.0, 0.0]
    return [sum(r**2 for r in ratios) / len(ratios), sum(r**4 for r in ratios) / len(ratios)]


@dataclass
class Surrogate:
    weights: dict[str, list[float]]  # domain -> w_d
    ref_accuracy: dict[str, float]

    def predict(self, x: list[float], domain: str) -> float:
        w = self.weights[domain]
        drop = sum(a * b for a, b in zip(w, x, strict=True))
        return min(1.0, max(0.0, self.ref_accuracy[domain] - drop))


@dataclass(frozen=True)
class HeldOut:
    mae: float | None
    max_error: float | None
    n_variants: int
    errors: list[tuple[str, str, float]]  # (variant, domain, |predicted - measured|)
    interior_mae: float | None = None  # over left-out variants inside the others' range


def fit(
    data: dict[str, tuple[list[float], dict[str, float]]],
    ref_accuracy: dict[str, float],
    ridge: float,
) -> Surrogate:
    """`data`: variant -> (features, domain -> measured accuracy), the reference excluded."""
    weights: dict[str, list[float]] = {}
    n = len(FEATURES)
    for d in ref_accuracy:
        rows = [(x, ref_accuracy[d] - acc[d]) for x, acc in data.values() if d in acc]
        ata = [[sum(x[i] * x[j] for x, _ in rows) + (ridge if i == j else 0.0) for j in range(n)]
               for i in range(n)]  # fmt: skip
        atb = [sum(x[i] * y for x, y in rows) for i in range(n)]
        weights[d] = _solve(ata, atb)
    return Surrogate(weights, dict(ref_accuracy))


def leave_one_out(
    data: dict[str, tuple[list[float], dict[str, float]]],
    ref_accuracy: dict[str, float],
    ridge: float,
) -> HeldOut:
    """Each variant predicted by a surrogate fit without it (None with fewer than 3)."""
    if len(data) < 3:
        return HeldOut(None, None, len(data), [])
    errors: list[tuple[str, str, float]] = []
    for vid, (x, acc) in data.items():
        rest = {k: val for k, val in data.items() if k != vid}
        s = fit(rest, ref_accuracy, ridge)
        errors += [(vid, d, abs(s.predict(x, d) - a)) for d, a in acc.items() if d in s.weights]
    vals = [e for _, _, e in errors]
    inner = [e for vid, _, e in errors if _interior(vid, data)]
    return HeldOut(
        sum(vals) / len(vals),
        max(vals),
        len(data),
        errors,
        sum(inner) / len(inner) if inner else None,
    )


def _interior(vid: str, data: dict[str, tuple[list[float], dict[str, float]]]) -> bool:
    """Inside the range of the other variants on every feature (interpolation)."""
    x = data[vid][0]
    rest = [f for k, (f, _) in data.items() if k != vid]
    return all(min(f[i] for f in rest) <= x[i] <= max(f[i] for f in rest) for i in range(len(x)))


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting; a singular system gives zero weights."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        piv = max(range(c, n), key=lambda r: abs(m[r][c]))
        if abs(m[piv][c]) < 1e-15:
            return [0.0] * n
        m[c], m[piv] = m[piv], m[c]
        for r in range(n):
            if r != c:
                f = m[r][c] / m[c][c]
                m[r] = [x - f * y for x, y in zip(m[r], m[c], strict=True)]
    return [m[i][n] / m[i][i] for i in range(n)]
