"""The board's prediction from the float parameters, bit-exact with the converted overlay (params-format.md §2, §4;
overlays-format.md §2.3, §3 for lfcW1A2), and the CNV overlays' batch decision rule.

lfcW1A1, per layer, in float64: thr = (mean - b) - beta / (gamma * inv_std); s = sign(gamma) (negative gamma flips
the neuron); weight bit = s*W >= 0; T = trunc((fan_in + s*thr) / 2) saturated to int16. On the board a neuron fires
when popcount(xnor(weights, inputs)) > T. Inputs are pixel >= 128. The class is the highest set output bit (0 if
none). Padding of the overlay adds nothing: pad synapses contribute 0 to the popcount and pad neurons never fire.

lfcW1A2: layers 0-2 have two thresholds per neuron, at BN output -0.5 and +0.5: t_i = floor(s*T_i) (ceil when
s < 0), T_i = (mean - b) + (step_i - beta) / (gamma * inv_std), saturated to int16, and the output is
-1 + [t_0 < acc] + [t_1 < acc] with acc the signed sum of +-1 weights times the inputs (+-1 pixels, then -1/0/+1).
Layer 3 has one threshold (step 0) in the same floor/ceil form and gives the output bit. Layer 0's AccuOffset
(48 pad inputs of -1, stored threshold minus 48) cancels out.
"""

import numpy as np

INT16_MIN, INT16_MAX = -32768, 32767
PARAMS_PER_LAYER = 6  # W, b, beta, gamma, mean, inv_std


def layer_constants(W, b, beta, gamma, mean, inv_std):
    """(weights as ±1 float32 (fan_in, fan_out), integer thresholds T as int64 (fan_out,))."""
    W = np.asarray(W, dtype=np.float64)
    b, beta, gamma, mean, inv_std = (np.asarray(a, dtype=np.float64) for a in (b, beta, gamma, mean, inv_std))
    fan_in = W.shape[0]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        thr = (mean - b) - beta / (gamma * inv_std)
        s = np.where(gamma < 0, -1.0, 1.0)
        T = np.trunc((fan_in + s * thr) / 2.0)
    # gamma == 0 gives an infinite threshold (the converter refuses such a model); NaN means a diverged model:
    # both are saturated to "never fires" rather than crashing the training loop.
    T = np.where(np.isnan(T), INT16_MAX, T)
    T = np.clip(T, INT16_MIN, INT16_MAX).astype(np.int64)
    bits = (s[None, :] * W) >= 0
    return np.where(bits, np.float32(1.0), np.float32(-1.0)), T


def signed_sum_constants(W, b, beta, gamma, mean, inv_std, steps):
    """(weights as +-1 float32 (fan_in, fan_out), thresholds int64 (len(steps), fan_out)) of a layer whose
    accumulator is a signed sum (no popcount form): fires iff threshold < acc."""
    W = np.asarray(W, dtype=np.float64)
    b, beta, gamma, mean, inv_std = (np.asarray(a, dtype=np.float64) for a in (b, beta, gamma, mean, inv_std))
    s = np.where(gamma < 0, -1.0, 1.0)
    rows = []
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for step in steps:
            thr = s * ((mean - b) + (step - beta) / (gamma * inv_std))
            t = np.where(s < 0, np.ceil(thr), np.floor(thr))
            t = np.where(np.isnan(t), INT16_MAX, t)
            rows.append(np.clip(t, INT16_MIN, INT16_MAX).astype(np.int64))
    bits = (s[None, :] * W) >= 0
    return np.where(bits, np.float32(1.0), np.float32(-1.0)), np.stack(rows)


A2_STEPS = (-0.5, 0.5)
CNV_LAST_FAN_IN = 512


def network_constants(params, activation_bits=1):
    if len(params) % PARAMS_PER_LAYER != 0:
        raise ValueError(f"{len(params)} parameter arrays; expected 6 per layer")
    layers = [params[i : i + PARAMS_PER_LAYER] for i in range(0, len(params), PARAMS_PER_LAYER)]
    if activation_bits == 1:
        return [layer_constants(*p) for p in layers]
    # lfcW1A2: ternary hidden layers, one threshold in the last layer (its input is ternary: signed-sum form)
    return [signed_sum_constants(*p, A2_STEPS) for p in layers[:-1]] + [signed_sum_constants(*layers[-1], (0.0,))]


def output_bits(images, constants, chunk=2000):
    """bool (N, C): the last layer's output bits for uint8 images (N, 28, 28)."""
    n = len(images)
    out = None
    for start in range(0, n, chunk):
        x = np.where(images[start : start + chunk].reshape(-1, 784) >= 128, np.float32(1), np.float32(-1))
        for w, T in constants:
            # ±1 (or 0) dot products are exact integers in float32 (|dot| <= 1024 < 2^24)
            dot = np.rint(x @ w).astype(np.int64)
            if T.ndim == 1:
                # popcount = (dot + fan_in) / 2, so popcount > T  <=>  dot > 2T - fan_in
                fired = dot > (2 * T - w.shape[0])[None, :]
                x = np.where(fired, np.float32(1), np.float32(-1))
            elif len(T) == 1:
                x = np.where(dot > T[0][None, :], np.float32(1), np.float32(-1))
            else:
                x = (-1 + (dot > T[0][None, :]).astype(np.int64) + (dot > T[1][None, :])).astype(np.float32)
        if out is None:
            out = np.empty((n, x.shape[1]), dtype=bool)
        out[start : start + chunk] = x > 0
    return out


def predict_from_bits(bits):
    """Highest set bit; 0 when none is set (the overlay's batch path, inference_multiple)."""
    bits = np.asarray(bits, dtype=bool)
    c = bits.shape[1]
    any_set = bits.any(axis=1)
    highest = c - 1 - np.argmax(bits[:, ::-1], axis=1)
    return np.where(any_set, highest, 0)


def evaluate(images, labels, params, activation_bits=1):
    """Board-rule error (%), no-bit rate (%), multi-bit rate (%), predictions."""
    bits = output_bits(images, network_constants(params, activation_bits))
    pred = predict_from_bits(bits)
    count = bits.sum(axis=1)
    n = len(labels)
    return {
        "error": 100.0 * float(np.count_nonzero(pred != labels)) / n,
        "no_bit_rate": 100.0 * float(np.count_nonzero(count == 0)) / n,
        "multi_bit_rate": 100.0 * float(np.count_nonzero(count > 1)) / n,
        "predictions": pred,
    }


def batch_rule(scores):
    """The CNV overlays' classify_cifars / classify_images (inference_multiple, overlays-format.md §3.6):
    `maxVal = 0; if score > maxVal`: the lowest-index highest score, but class 0 when every score is <= 0."""
    scores = np.asarray(scores)
    positive = (scores > 0).any(axis=1)
    return np.where(positive, np.argmax(scores, axis=1), 0), ~positive


def cnv_scores(last_dense_output, gamma, activation_bits):
    """The overlay's class scores from the last dense layer's output (before its batch norm) of a graph that
    computes what the overlay computes: the overlay flips each class by sign(gamma) of the last batch norm and
    ignores the rest of it; W1A1 reports popcount(xnor) = (dot + 512) / 2, the A2 networks the signed sum."""
    dot = np.rint(np.asarray(last_dense_output, dtype=np.float64)).astype(np.int64)
    s = np.where(np.broadcast_to(np.asarray(gamma), dot.shape[1:]) < 0, -1, 1)
    dot = dot * s[None, :]
    if activation_bits == 1:
        return (dot + CNV_LAST_FAN_IN) // 2
    return dot


def evaluate_scores(scores, labels):
    """Batch-rule error (%), images (%) whose every score is <= 0 (the rule answers class 0), predictions."""
    pred, nonpositive = batch_rule(scores)
    n = len(labels)
    return {
        "error": 100.0 * float(np.count_nonzero(pred != labels)) / n,
        "nonpositive_rate": 100.0 * float(np.count_nonzero(nonpositive)) / n,
        "nonpositive": int(np.count_nonzero(nonpositive)),
        "predictions": pred,
    }
