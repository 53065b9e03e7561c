"""``shapes_dvs`` / ``shapes_static``: a generated event-camera data set (nothing is downloaded).

Each sample is a short scene on a 32 × 32 sensor: one object whose shape and motion give the class
(12 classes, :data:`CLASSES`: translation in a direction, rotation, expansion/shrinking, at a
class-specific speed), with per-sample jitter (start position, size, initial angle, ±25 % speed,
±15° direction, bright-on-dark or dark-on-bright contrast, a background gradient), a distractor disk
moving in a random direction (probability ``p_distractor``), and a DVS-style event model:

* every pixel keeps a reference log-intensity ``L_ref`` (started at the first frame's value plus a
  random offset in ±C/2); at each of the ``T · substeps`` render steps, ``n = ⌊(L − L_ref) / C_on⌋``
  ON events (or ``⌊(L_ref − L) / C_off⌋`` OFF events) are emitted and ``L_ref`` moves by ``n · C``;
  ``L = log(I + 0.02)``; the thresholds have per-pixel mismatch (``C · (1 + c_sigma · N(0, 1))``);
* a pixel that fired is blind for ``refractory`` render steps (no events, ``L_ref`` kept);
* background-activity noise: each pixel fires one event of random polarity with probability
  ``noise_rate`` per render step;
* hot pixels: 0..``hot_pixels_max`` per sample, each of one polarity, firing with probability
  ``hot_rate`` per render step.

Events are counted per (bin, polarity, y, x) into ``T`` bins of ``substeps`` render steps; the
data set's input is **binary** per bin (1 where the pixel emitted at least one event of that
polarity in the bin; ``counts=True`` keeps the counts): ``x`` is ``[N, T, 2, 32, 32]`` with
``Dataset.timesteps = T`` and ``input_shape = (2, 32, 32)``; channel 0 is ON, 1 is OFF.

``shapes_static`` is the same scenes as 3 × 32 × 32 frames (CIFAR-shaped): the rendered intensity at
the start, middle and end of the motion in the three channels, plus Gaussian pixel noise (σ 0.03),
on the 1/255 lattice.

Generated on first use with a seeded ``numpy`` generator and cached in :func:`cache_dir` as
``shapes_dvs-v{GENERATOR_VERSION}-{key}.npz`` (the generator version and parameters are stored in the
file too; a file of another version is regenerated). Same seed and parameters → byte-identical file.
Split: the first 80 % of the (shuffled) samples train, the rest test.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Optional

import numpy as np

from .cache import cache_dir, write_npz_atomic
from .dataset import DataError, Dataset

GENERATOR_VERSION = 1
SIZE = 32
SHAPES = ("square", "triangle", "disk", "cross", "bar")

#: (shape, direction in degrees or None, speed factor, rotation in turns, log growth) per class; a
#: translation covers ``speed · 10`` pixels over the sample; rotation/growth happen over the sample.
CLASSES = (
    ("square", 0.0, 1.0, 0.0, 0.0),        # 0 square moving right
    ("square", 90.0, 1.0, 0.0, 0.0),       # 1 square moving up
    ("square", None, 0.0, 0.0, 0.7),       # 2 square expanding
    ("triangle", None, 0.0, -0.25, 0.0),   # 3 triangle rotating clockwise
    ("triangle", None, 0.0, 0.25, 0.0),    # 4 triangle rotating counter-clockwise
    ("triangle", 0.0, 1.0, 0.0, 0.0),      # 5 triangle moving right
    ("disk", None, 0.0, 0.0, 0.7),         # 6 disk expanding
    ("disk", None, 0.0, 0.0, -0.7),        # 7 disk shrinking
    ("cross", None, 0.0, -0.25, 0.0),      # 8 cross rotating clockwise
    ("cross", 315.0, 2.0, 0.0, 0.0),       # 9 cross moving fast down-right
    ("bar", None, 0.0, 0.25, 0.0),         # 10 bar rotating counter-clockwise
    ("bar", 180.0, 0.5, 0.0, 0.0),         # 11 bar moving slowly left
)


@dataclass(frozen=True)
class ShapesParams:
    n_per_class: int = 250
    T: int = 8
    substeps: int = 4
    seed: int = 0
    c_on: float = 0.25
    c_off: float = 0.25
    c_sigma: float = 0.05
    refractory: int = 1
    noise_rate: float = 0.002
    hot_pixels_max: int = 3
    hot_rate: float = 0.3
    p_distractor: float = 0.7
    objects: bool = True          # False: only noise and hot pixels (for tests of the event statistics)
    chunk: int = 200

    def key(self) -> str:
        d = asdict(self)
        d.pop("chunk")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def _shape_distance(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Signed distance-like field in object units (< 0 inside)."""
    au, av = np.abs(u), np.abs(v)
    if shape == "square":
        return np.maximum(au, av) - 0.8
    if shape == "disk":
        return np.sqrt(u * u + v * v) - 0.9
    if shape == "triangle":
        d = None
        for ang in (np.pi / 2, np.pi / 2 + 2 * np.pi / 3, np.pi / 2 + 4 * np.pi / 3):
            k = u * np.cos(ang) + v * np.sin(ang) - 0.5
            d = k if d is None else np.maximum(d, k)
        return d
    if shape == "cross":
        return np.minimum(np.maximum(au - 1.0, av - 0.3), np.maximum(au - 0.3, av - 1.0))
    if shape == "bar":
        return np.maximum(au - 1.1, av - 0.28)
    raise ValueError(shape)


def _draw_scenes(rng: np.random.Generator, labels: np.ndarray, p: ShapesParams) -> dict:
    n = len(labels)
    direction = np.array([np.nan if c[1] is None else c[1] for c in CLASSES])[labels]
    speed = np.array([c[2] for c in CLASSES])[labels] * rng.uniform(0.75, 1.25, n)
    turns = np.array([c[3] for c in CLASSES])[labels] * rng.uniform(0.75, 1.25, n)
    growth = np.array([c[4] for c in CLASSES])[labels] * rng.uniform(0.75, 1.25, n)
    ang = np.deg2rad(np.nan_to_num(direction) + rng.uniform(-15, 15, n))
    disp = np.where(np.isnan(direction), 0.0, 10.0 * speed)
    vx, vy = disp * np.cos(ang), -disp * np.sin(ang)          # image y points down
    c = (SIZE - 1) / 2
    cx0 = c - vx / 2 + rng.uniform(-4, 4, n)
    cy0 = c - vy / 2 + rng.uniform(-4, 4, n)
    s0 = rng.uniform(4.5, 6.5, n) * np.exp(-growth / 2)      # half-size in pixels at the middle of the motion
    dark = rng.random(n) < 0.5
    bg = rng.uniform(0.25, 0.45, n)
    fg = np.where(dark, rng.uniform(0.02, 0.08, n), rng.uniform(0.8, 1.0, n))
    dist = rng.random(n) < p.p_distractor
    dang = rng.uniform(0, 2 * np.pi, n)
    dspeed = rng.uniform(5, 20, n)
    return dict(
        cx0=cx0, cy0=cy0, vx=vx, vy=vy, a0=rng.uniform(0, 2 * np.pi, n), omega=2 * np.pi * turns,
        s0=s0, g=growth, bg=bg, fg=fg, gx=rng.uniform(-0.15, 0.15, n), gy=rng.uniform(-0.15, 0.15, n),
        dist=dist, dx0=rng.uniform(4, SIZE - 4, n), dy0=rng.uniform(4, SIZE - 4, n),
        dvx=dspeed * np.cos(dang), dvy=dspeed * np.sin(dang), dr=rng.uniform(1.5, 3.0, n),
        dfg=rng.uniform(0.0, 1.0, n))


def _render(sc: dict, labels: np.ndarray, t: np.ndarray, objects: bool) -> np.ndarray:
    """Intensity ``[B, len(t), H, W]`` in (0, 1]."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    col = lambda a: a[:, None, None, None]   # noqa: E731  [B] -> [B, 1, 1, 1]
    tt = t[None, :, None, None]
    bgf = col(sc["bg"]) + col(sc["gx"]) * (xx - 15.5) / SIZE + col(sc["gy"]) * (yy - 15.5) / SIZE
    img = np.broadcast_to(bgf, (len(labels), len(t), SIZE, SIZE)).copy()
    if not objects:
        return img
    cx = col(sc["cx0"]) + col(sc["vx"]) * tt
    cy = col(sc["cy0"]) + col(sc["vy"]) * tt
    a = col(sc["a0"]) + col(sc["omega"]) * tt
    s = col(sc["s0"]) * np.exp(col(sc["g"]) * tt)
    dx, dy = xx - cx, yy - cy
    ca, sa = np.cos(a), np.sin(a)
    u, v = (dx * ca + dy * sa) / s, (-dx * sa + dy * ca) / s
    shape_of = np.array([SHAPES.index(c[0]) for c in CLASSES])[labels]
    cov = np.zeros_like(img)
    for k, shape in enumerate(SHAPES):
        idx = np.nonzero(shape_of == k)[0]
        if len(idx):
            d = _shape_distance(shape, u[idx], v[idx]) * s[idx]       # ≈ pixels
            cov[idx] = np.clip(0.5 - d, 0.0, 1.0)
    img += (col(sc["fg"]) - img) * cov
    dcx = col(sc["dx0"]) + col(sc["dvx"]) * tt
    dcy = col(sc["dy0"]) + col(sc["dvy"]) * tt
    dd = np.sqrt((xx - dcx) ** 2 + (yy - dcy) ** 2) - col(sc["dr"])
    dcov = np.clip(0.5 - dd, 0.0, 1.0) * col(sc["dist"].astype(np.float64))
    img += (col(sc["dfg"]) - img) * dcov
    return np.clip(img, 0.0, 1.0)


def _events(rng: np.random.Generator, img: np.ndarray, p: ShapesParams) -> np.ndarray:
    """DVS model on ``img [B, S+1, H, W]`` -> event counts ``[B, T, 2, H, W]`` (uint16)."""
    B, S1, H, W = img.shape
    S = S1 - 1
    L = np.log(img + 0.02)
    c_on = np.maximum(p.c_on * (1 + p.c_sigma * rng.standard_normal((B, H, W))), 0.05)
    c_off = np.maximum(p.c_off * (1 + p.c_sigma * rng.standard_normal((B, H, W))), 0.05)
    ref = L[:, 0] + rng.uniform(-0.5, 0.5, (B, H, W)) * c_on
    last = np.full((B, H, W), -10 ** 6, dtype=np.int64)
    counts = np.zeros((B, p.T, 2, H, W), dtype=np.uint16)
    n_hot = rng.integers(0, p.hot_pixels_max + 1, B)
    hot = np.zeros((B, 2, H, W), dtype=bool)
    for b in range(B):
        for _ in range(n_hot[b]):
            hot[b, rng.integers(0, 2), rng.integers(0, H), rng.integers(0, W)] = True
    for s in range(1, S + 1):
        diff = L[:, s] - ref
        ok = (s - last) > p.refractory
        n_on = np.where(ok & (diff >= c_on), np.floor(diff / c_on), 0.0)
        n_off = np.where(ok & (diff <= -c_off), np.floor(-diff / c_off), 0.0)
        ref += n_on * c_on - n_off * c_off
        last[(n_on + n_off) > 0] = s
        noise = rng.random((B, H, W)) < p.noise_rate
        pol = rng.random((B, H, W)) < 0.5
        hot_fire = hot & (rng.random((B, 2, H, W)) < p.hot_rate)
        k = (s - 1) // p.substeps
        counts[:, k, 0] += (n_on + (noise & pol) + hot_fire[:, 0]).astype(np.uint16)
        counts[:, k, 1] += (n_off + (noise & ~pol) + hot_fire[:, 1]).astype(np.uint16)
    return counts


def generate(p: ShapesParams = ShapesParams()) -> dict:
    """Arrays of the data set: ``counts [N, T, 2, 32, 32]`` uint8 (event counts, clipped at 255),
    ``static [N, 3, 32, 32]`` uint8 (intensity · 255), ``y [N]`` int64, ``events_per_sample [N]`` int64
    (before clipping). Deterministic for ``p``."""
    rng = np.random.default_rng(p.seed)
    n_cls = len(CLASSES)
    labels = rng.permutation(np.repeat(np.arange(n_cls), p.n_per_class))
    S = p.T * p.substeps
    t = np.linspace(0.0, 1.0, S + 1)
    counts, static, totals = [], [], []
    for i in range(0, len(labels), p.chunk):
        lab = labels[i:i + p.chunk]
        sc = _draw_scenes(rng, lab, p)
        img = _render(sc, lab, t, p.objects)
        c = _events(rng, img, p)
        totals.append(c.reshape(len(lab), -1).sum(1, dtype=np.int64))
        counts.append(np.minimum(c, 255).astype(np.uint8))
        st = img[:, [0, S // 2, S]] + 0.03 * rng.standard_normal((len(lab), 3, SIZE, SIZE))
        static.append(np.clip(np.rint(st * 255), 0, 255).astype(np.uint8))
    return {"counts": np.concatenate(counts), "static": np.concatenate(static), "y": labels.astype(np.int64),
            "events_per_sample": np.concatenate(totals)}


def cache_path(p: ShapesParams = ShapesParams()) -> Path:
    return cache_dir() / f"shapes_dvs-v{GENERATOR_VERSION}-{p.key()}.npz"


def load_arrays(p: ShapesParams = ShapesParams(), log=None) -> dict:
    """The cached arrays for ``p``, generating (and caching) them first if needed."""
    path = cache_path(p)
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as f:
                if int(f["generator_version"]) == GENERATOR_VERSION:
                    return {k: f[k] for k in f.files}
        except Exception:  # noqa: BLE001 - a corrupt or foreign cache file is regenerated
            pass
    t0 = time.perf_counter()
    arrays = generate(p)
    arrays["generator_version"] = np.array(GENERATOR_VERSION, dtype=np.int64)
    arrays["params"] = np.array(json.dumps(asdict(p), sort_keys=True))
    try:
        write_npz_atomic(path, arrays)
    except OSError as e:
        if log:
            log(f"warning: could not cache shapes_dvs in {path.parent}: {e}")
    if log:
        log(f"generated shapes_dvs ({len(arrays['y'])} samples) in {time.perf_counter() - t0:.1f} s -> {path}")
    return arrays


def _split(n: int) -> int:
    return int(round(n * 0.8))


def load_shapes_dvs(p: Optional[ShapesParams] = None, counts: bool = False) -> Dataset:
    """Event frames ``[N, T, 2, 32, 32]`` (binary, or counts with ``counts=True``), ``timesteps = T``."""
    p = p or ShapesParams()
    a = load_arrays(p)
    x = a["counts"].astype(np.float32)
    if not counts:
        x = (x > 0).astype(np.float32)
    k = _split(len(x))
    return Dataset(x[:k], a["y"][:k], x[k:], a["y"][k:], input_shape=(2, SIZE, SIZE), num_classes=len(CLASSES),
                   input_step=1.0, name="shapes_dvs", timesteps=p.T)


def load_shapes_static(p: Optional[ShapesParams] = None) -> Dataset:
    """The same scenes as 3 × 32 × 32 frames on the 1/255 lattice (start / middle / end intensity)."""
    p = p or ShapesParams()
    a = load_arrays(p)
    x = a["static"].astype(np.float32) / np.float32(255.0)
    k = _split(len(x))
    return Dataset(x[:k], a["y"][:k], x[k:], a["y"][k:], input_shape=(3, SIZE, SIZE), num_classes=len(CLASSES),
                   input_step=1.0 / 255.0, name="shapes_static")


def params_from_spec(spec: str) -> ShapesParams:
    """``shapes_dvs`` or ``shapes_dvs:seed=1,n_per_class=100,T=16`` (integer fields only)."""
    _, _, rest = spec.partition(":")
    kw = {}
    ints = {"seed", "n_per_class", "T", "substeps", "hot_pixels_max", "refractory"}
    for item in filter(None, rest.split(",")):
        k, _, v = item.partition("=")
        k = k.strip()
        if k not in ints:
            raise DataError(f"{spec}: unknown option {k!r}; valid: {', '.join(sorted(ints))}")
        try:
            kw[k] = int(v)
        except ValueError:
            raise DataError(f"{spec}: option {k} needs an integer, got {v!r}") from None
        if kw[k] < (0 if k in ("seed", "hot_pixels_max", "refractory") else 1):
            raise DataError(f"{spec}: option {k}={kw[k]} is out of range")
    return replace(ShapesParams(), **kw)
