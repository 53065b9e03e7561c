"""The event simulator's compiled loops (simulators/event_kernels.py) equal their definitions in torch / numpy.

``neuron_layer`` against a frame loop of ``fixed_point.cuba_step`` with the run protocol's edits (readout,
forced reset frame, frames before a sample's start), on inputs that reach every wrap and saturation, for
both comparisons and both resets, with and without current / voltage decay, and on silent stretches (no
bias, frames without input); ``count_messages`` against
bincounts over the expanded messages; ``sender_soma`` against a cumulative sum over the soma loop.
"""
import numpy as np
import pytest
import torch

from snn2hw.simulators import fixed_point as fp
from snn2hw.simulators.event_kernels import count_messages, neuron_layer, sender_soma

KINDS = ("a_wrap", "u_wrap", "v_saturate")


def _torch_layer(a, received, du, dv, bias, vth64, compare, reset, readout, forced, start, late, T, off, ran):
    """The frame loop in torch: spikes, active flags (ran included), v after frame T - 1, membrane updates,
    overflow masks per kind over frames < T and samples >= off."""
    S, Bv, n = a.shape
    u = torch.zeros(Bv, n, dtype=torch.int64)
    v = torch.zeros_like(u)
    out = torch.zeros(S, Bv, n, dtype=torch.int64)
    active = torch.zeros(S, Bv, n, dtype=torch.bool)
    masks = {k: torch.zeros(S, Bv, n, dtype=torch.bool) for k in KINDS}
    memb, v_T = 0, None
    for f in range(S):
        act = (v != 0) | (bias != 0) | received[f]
        v_prev = v

        def rec(kind, mask, f=f):
            if f < T:
                masks[kind][f] |= mask
        u, v, s = fp.cuba_step(u, v, a[f], du, dv, bias, vth64, compare, reset, on_overflow=rec)
        if readout:
            s = torch.zeros_like(s)
        if f == S - 1:
            fm = forced.reshape(Bv, 1)
            act = act | fm
            s = s.masked_fill(fm, 0)
            v = v.masked_fill(fm, 0)
        if f < late:
            running = (start <= f).reshape(Bv, 1)
            act = act & running
            s, u, v = s * running, u * running, v * running
        if f < T:
            memb += int((v[off:] != v_prev[off:]).sum()) if f else int(v[off:].numel())
        if f == T - 1:
            v_T = v.clone()
        out[f] = s
        active[f] = act & ran[f].reshape(Bv, 1)
    for k in KINDS:
        masks[k][:, :off] = False
    return out, active, v_T, memb, masks


def _row_form(x):
    """``[S, Bv, n]`` as the kernel's (map ``[S, Bv]`` into the nonzero rows or -1, those rows; at least one)."""
    S, Bv, n = x.shape
    flat = x.reshape(S * Bv, n).numpy()
    rows = np.flatnonzero(flat.any(1))
    m = np.full(S * Bv, -1, dtype=np.int64)
    m[rows] = np.arange(len(rows))
    data = flat[rows] if len(rows) else np.zeros((1, n), dtype=flat.dtype)
    return m.reshape(S, Bv), np.ascontiguousarray(data)


@pytest.mark.parametrize("seed", range(18))
def test_neuron_layer_equals_cuba_step_loop(seed):
    rng = np.random.default_rng(seed)
    S, Bv, n, n_cores = int(rng.integers(3, 9)), int(rng.integers(1, 5)), int(rng.integers(1, 1500)), 5
    T = int(rng.integers(1, S + 1))
    scale = [2 ** 10, 2 ** 18, 2 ** 26, 2 ** 31][seed % 4]   # up to a << 6 leaving int32
    a = torch.as_tensor(rng.integers(-scale, scale, (S, Bv, n)) * (rng.random((S, Bv, n)) < 0.6), dtype=torch.int64)
    a = fp.wrap_bits(a, 32)
    received = torch.as_tensor(rng.random((S, Bv, n)) < 0.3)
    du = int(rng.choice([0, 1000, 4095]))
    dv = int(rng.choice([0, 300, 4095]))
    bias = torch.as_tensor(rng.integers(-2 ** 22, 2 ** 22, n) * (rng.random(n) < 0.5), dtype=torch.int64)
    vth64 = torch.as_tensor(rng.integers(-5, 2 ** 17, n), dtype=torch.int64) << 6
    compare, reset = ("ge", "gt")[seed % 2], ("zero", "subtract")[(seed // 2) % 2]
    readout = seed % 5 == 4
    forced = torch.as_tensor(rng.random(Bv) < 0.5)
    start = np.where(rng.random(Bv) < 0.4, rng.integers(0, S, Bv), 0)
    late = int(start.max())
    off = int(rng.integers(0, Bv))
    ran = torch.as_tensor(rng.random((S, Bv)) < 0.8)
    if seed % 3 == 2:  # silent stretches: no bias, positive thresholds, whole frames without input
        bias = torch.zeros(n, dtype=torch.int64)
        vth64 = vth64.abs() + 64
        a[torch.as_tensor(rng.random(S) < 0.5)] = 0
        a[:, torch.as_tensor(rng.random(Bv) < 0.5)] = 0
    core = np.sort(rng.integers(0, n_cores, n))
    exp_out, exp_active, exp_vT, exp_memb, exp_masks = _torch_layer(
        a, received, du, dv, bias, vth64, compare, reset, readout, forced, torch.as_tensor(start), late, T, off, ran)
    out, row_any, act_core, fired_core, v_T, memb, events, hit_n, hit_b, active = neuron_layer(
        *_row_form(a), *_row_form(received), du, dv, bias.numpy(), vth64.numpy(), compare == "ge",
        reset == "subtract", readout, forced.numpy(), start.astype(np.int64), late, T, off, ran.numpy(), core,
        n_cores, True)
    assert np.array_equal(out, exp_out.numpy()) and np.array_equal(row_any, exp_out.numpy().any(2))
    assert np.array_equal(active, exp_active.numpy())
    assert np.array_equal(v_T, exp_vT.numpy()) and memb == exp_memb
    onehot = np.eye(n_cores)[core]
    assert np.array_equal(act_core, exp_active.numpy() @ onehot)
    fired = (exp_out.numpy() != 0) & ran.numpy()[..., None]
    assert np.array_equal(fired_core, fired @ onehot)
    for k, kind in enumerate(KINDS):
        m = exp_masks[kind].numpy()
        assert events[k] == m.sum(), kind
        assert np.array_equal(hit_n[k], m.any((0, 1))) and np.array_equal(hit_b[k], m.any((0, 2))), kind
    if seed % 4 == 3 and seed % 3 != 2:
        assert events.sum() > 0  # the large inputs do wrap


def test_count_messages_equals_bincounts():
    rng = np.random.default_rng(0)
    n_src, n_cores, S, Bv = 40, 7, 3, 4
    deg = rng.integers(0, 4, n_src)
    ptr = np.r_[0, np.cumsum(deg)].astype(np.int64)
    dcore = np.concatenate([np.sort(rng.choice(n_cores, k, replace=False)) for k in deg]).astype(np.int64)
    dcnt = rng.integers(1, 9, len(dcore)).astype(np.float64)
    ew, ns = rng.integers(0, 5, n_src).astype(np.float64), rng.integers(0, 5, n_src).astype(np.float64)
    core = rng.integers(0, n_cores, n_src)
    ran = rng.random((S, Bv)) < 0.7
    k = 120
    rows, src = rng.integers(0, S * Bv, k), rng.integers(0, n_src, k)
    out, f, b, i = count_messages(rows, src, Bv, S, ran, ptr, dcore, dcnt, ew, ns, core, n_cores)
    keep = ran[rows // Bv, rows % Bv]
    rows, src = rows[keep], src[keep]
    row = (rows % Bv) * S + rows // Bv                      # sample-major
    key = row * n_cores + core[src]
    size = S * Bv * n_cores
    for e, w in enumerate((deg[src].astype(np.float64), ew[src], ns[src])):
        assert np.array_equal(out[e].ravel(), np.bincount(key, w, size))
    rep = np.repeat(np.arange(len(src)), deg[src])
    j = np.concatenate([np.arange(ptr[q], ptr[q + 1]) for q in src]).astype(np.int64)
    dkey = row[rep] * n_cores + dcore[j]
    assert np.array_equal(out[3].ravel(), np.bincount(dkey, minlength=size).astype(np.float64))
    assert np.array_equal(out[4].ravel(), np.bincount(dkey, dcnt[j], size))
    has = deg[src] > 0
    assert np.array_equal(i, src[has]) and np.array_equal(f, rows[has] // Bv) and np.array_equal(b, rows[has] % Bv)


def test_sender_soma_equals_cumsum_over_the_soma_loop():
    rng = np.random.default_rng(1)
    S, Bv, n = 4, 3, 50
    core = rng.integers(0, 4, n)
    pos = rng.permutation(n)
    order = np.lexsort((pos, core))
    active = rng.random((S, Bv, n)) < 0.5
    out = (rng.random((S, Bv, n)) < 0.3).astype(np.int64)
    ran = rng.random((S, Bv)) < 0.8
    lat = (0.7, 2.3, 5.1)
    b, f, i = np.nonzero(out.transpose(1, 0, 2))
    cum = sender_soma(f, b, i, active, out, ran, order, core, *lat)
    soma = (lat[0] + (lat[1] - lat[0]) * active + lat[2] * ((out != 0) & ran[..., None])) * ran[..., None]
    for k in range(len(i)):
        same = order[core[order] == core[i[k]]]
        upto = same[:np.flatnonzero(same == i[k])[0] + 1]
        assert cum[k] == pytest.approx(soma[f[k], b[k], upto].sum(), rel=1e-12)
