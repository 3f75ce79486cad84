"""The board's prediction from the float parameters, bit-exact with the converted overlay (params-format.md §2, §4).

Per layer, in float64: thr = (mean - b) - beta / (gamma * inv_std); s = sign(gamma) (negative gamma flips the
neuron); weight bit = s*W >= 0; T = trunc((fan_in + s*thr) / 2) saturated to int16. On the board a neuron fires when
popcount(xnor(weights, inputs)) > T. Inputs are pixel >= 128. The class is the highest set output bit (0 if none).
Padding of the overlay adds nothing: pad synapses contribute 0 to the popcount and pad neurons never fire.
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


def network_constants(params):
    if len(params) % PARAMS_PER_LAYER != 0:
        raise ValueError(f"{len(params)} parameter arrays; expected 6 per layer")
    return [layer_constants(*params[i : i + PARAMS_PER_LAYER]) for i in range(0, len(params), PARAMS_PER_LAYER)]


def output_bits(images, constants, chunk=2000):
    """bool (N, C): the last layer's output bits for uint8 images (N, 28, 28)."""
    n = len(images)
    out = None
    for start in range(0, n, chunk):
        x = np.where(images[start : start + chunk].reshape(-1, 784) >= 128, np.float32(1), np.float32(-1))
        for w, T in constants:
            fan_in = w.shape[0]
            # ±1 dot products are exact integers in float32 (|dot| <= 1024 < 2^24); popcount = (dot + fan_in) / 2,
            # so popcount > T  <=>  dot > 2T - fan_in.
            dot = np.rint(x @ w).astype(np.int64)
            fired = dot > (2 * T - fan_in)[None, :]
            x = np.where(fired, np.float32(1), np.float32(-1))
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


def evaluate(images, labels, params):
    """Board-rule error (%), no-bit rate (%), multi-bit rate (%), predictions."""
    bits = output_bits(images, network_constants(params))
    pred = predict_from_bits(bits)
    count = bits.sum(axis=1)
    n = len(labels)
    return {
        "error": 100.0 * float(np.count_nonzero(pred != labels)) / n,
        "no_bit_rate": 100.0 * float(np.count_nonzero(count == 0)) / n,
        "multi_bit_rate": 100.0 * float(np.count_nonzero(count > 1)) / n,
        "predictions": pred,
    }
