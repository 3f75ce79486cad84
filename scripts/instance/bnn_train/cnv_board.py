"""The CNV overlays' class scores computed from the float parameters exactly as the converted overlay computes them
(overlays-format.md §2.3, §3): integer thresholds as the converter makes them, accumulators as the hardware sums
them, threshold then max-pool. numpy only; tests use it as a reference for what the board will print, and it
reproduces the scores the board printed in BNN-PYNQ's notebooks for the shipped cifar10 params.

Activations are +-1 (1 bit) or -1/0/+1 (2 bits) in both; the overlay's bit encodings do not change any sum.
"""

import numpy as np

INT16_MIN, INT16_MAX = -32768, 32767
CONVS = 6
POOL_AFTER = (1, 3)


def quantized_weights(W, s, weight_bits):
    """The converter's weights after the flip by s = sign(gamma): 1 bit -> +-1 (0 -> +1), 2 bits -> floor(w + 0.5)."""
    Wf = W * s
    if weight_bits == 1:
        return np.where(Wf < 0, -1.0, 1.0)
    return np.floor(Wf + 0.5)


def thresholds(bias, beta, gamma, mean, inv_std, activation_bits):
    """Float thresholds (steps, neurons) times s: the neuron fires at step i when s*acc exceeds row i."""
    s = np.where(gamma < 0, -1.0, 1.0)
    steps = (0.0,) if activation_bits == 1 else (-0.5, 0.5)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return s, np.stack([s * ((mean - bias) + (step - beta) / (gamma * inv_std)) for step in steps])


def integer(x, s):
    """floor, or ceil for flipped neurons (finnthesizer), saturated to int16."""
    t = np.where(s < 0, np.ceil(x), np.floor(x))
    return np.clip(np.where(np.isnan(t), INT16_MAX, t), INT16_MIN, INT16_MAX)


def im2col(x):
    """(N, C, H, W) -> (N, H-2, W-2, 9*C) in the overlay's column order (ky, kx, c)."""
    n, c, h, w = x.shape
    cols = np.stack([x[:, :, ky : ky + h - 2, kx : kx + w - 2] for ky in range(3) for kx in range(3)], axis=1)
    return cols.transpose(0, 3, 4, 1, 2).reshape(n, h - 2, w - 2, 9 * c)


def layer(acc, bias, beta, gamma, mean, inv_std, kind, fan_in, activation_bits):
    """The activation of a layer from its accumulator acc (..., neurons) = sum of flipped weights times inputs."""
    s, thr = thresholds(bias, beta, gamma, mean, inv_std, activation_bits)
    if kind == "first":
        # units of 1/256 (numThresBits 24, 16 integer bits), acc is in units of 1/128: fires iff t < 2 acc
        t = np.where(s < 0, np.ceil(256 * thr), np.floor(256 * thr))
        fired = [2 * acc > row for row in t]
    elif activation_bits == 1 and kind == "conv":
        # popcount form: trunc((fan_in + int(s T)) / 2) < popcount = (acc + fan_in) / 2
        t = np.clip(np.trunc((fan_in + np.where(s < 0, np.ceil(thr), np.floor(thr))) / 2), INT16_MIN, INT16_MAX)
        fired = [(acc + fan_in) / 2 > row for row in t]
    elif activation_bits == 1:
        t = np.clip(np.trunc((fan_in + thr) / 2), INT16_MIN, INT16_MAX)  # FC popcount: no floor/ceil first
        fired = [(acc + fan_in) / 2 > row for row in t]
    else:
        fired = [acc > row for row in integer(thr, s)]
    if activation_bits == 1:
        return np.where(fired[0], 1.0, -1.0)
    return -1.0 + fired[0] + fired[1]


def scores(images, params, weight_bits, activation_bits, chunk=100):
    """int64 (N, C): the overlay's class scores for uint8 images (N, 3, 32, 32) (CIFAR-10 planes)."""
    params = [np.asarray(p, dtype=np.float64) for p in params]
    out = []
    for start in range(0, len(images), chunk):
        p = np.asarray(images[start : start + chunk]).astype(np.float64)
        # the byte the host sends: ap_fixed<8,1> of 2p/255 - 1, as an integer number of 1/128
        x = np.minimum(np.round(256.0 * p / 255.0), 255.0) - 128.0
        for li in range(CONVS):
            W, bias, beta, gamma, mean, inv_std = params[6 * li : 6 * li + 6]
            s = np.where(gamma < 0, -1.0, 1.0)
            wq = quantized_weights(W, s[:, None, None, None], weight_bits).transpose(0, 2, 3, 1).reshape(len(W), -1)
            acc = im2col(x) @ wq.T  # (N, H', W', C_out); exact integers in float64
            kind = "first" if li == 0 else "conv"
            y = layer(acc, bias, beta, gamma, mean, inv_std, kind, wq.shape[1], activation_bits)
            y = y.transpose(0, 3, 1, 2)
            if li in POOL_AFTER:
                n, c, h, w = y.shape
                y = y.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
            x = y
        x = x.reshape(len(x), -1)
        for li in (6, 7):
            W, bias, beta, gamma, mean, inv_std = params[6 * li : 6 * li + 6]
            s = np.where(gamma < 0, -1.0, 1.0)
            acc = x @ quantized_weights(W, s[None, :], weight_bits)
            x = layer(acc, bias, beta, gamma, mean, inv_std, "fc", W.shape[0], activation_bits)
        W, _beta, gamma, _mean, _inv_std = params[48:53]
        s = np.where(np.broadcast_to(gamma, (W.shape[1],)) < 0, -1.0, 1.0)
        acc = x @ quantized_weights(W, s[None, :], weight_bits)
        out.append(np.rint((acc + W.shape[0]) / 2 if activation_bits == 1 else acc).astype(np.int64))
    return np.concatenate(out)
