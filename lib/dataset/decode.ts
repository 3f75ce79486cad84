import * as bmp from 'bmp-ts';
import { PNG } from 'pngjs';
import sharp from 'sharp';
import { must } from '../defined';
import { IMAGE_PIXELS, IMAGE_SIDE, RGB_IMAGE_BYTES, RGB_SIDE } from './limits';

/**
 * One image file → 28×28 grey pixels (0..255, row-major), as the board will read them before
 * polarity is decided for the whole dataset. libvips (through sharp) does the decoding, EXIF
 * orientation, colour → grey and the resize; this module only adds what sharp has no option for.
 */

export const FITS = ['contain', 'cover', 'fill'] as const;
export type Fit = (typeof FITS)[number];

/** Thrown for an image that cannot be decoded; the caller lists these (or skips them with --skip-bad). */
export class ImageDecodeError extends Error {}

let sharpReady = false;
/** sharp, set up at first use (not at import: loading libvips would slow every start of the CLI). */
function vips(): typeof sharp {
  if (!sharpReady) {
    // Tiny images: threads inside one image only add overhead; throughput comes from many images in
    // flight on libuv's pool. The cache holds recently used operations for re-use, which never happens here.
    sharp.concurrency(1);
    sharp.cache(false);
    sharpReady = true;
  }
  return sharp;
}

/**
 * Loads libvips before the import opens any image: it needs file descriptors of its own, and a load that
 * failed under a low `ulimit -n` would otherwise be reported against every image as undecodable.
 */
export function loadImageDecoder(): void {
  vips();
}

/**
 * True for an 8-bit, grey, 28×28 PNG without transparency, EXIF or colour profile: for those, resize,
 * colour conversion and alpha handling are all no-ops, and decoding alone is the whole job
 * (Fashion-MNIST and MNIST exported as PNG look like this). We only walk the chunk headers.
 */
export function isPlainGrey28Png(bytes: Uint8Array): boolean {
  if (bytes.length < 33 || bytes[0] !== 0x89 || bytes[1] !== 0x50 || bytes[2] !== 0x4e || bytes[3] !== 0x47)
    return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const w = view.getUint32(16);
  const h = view.getUint32(20);
  const depth = bytes[24];
  const colourType = bytes[25];
  if (w !== IMAGE_SIDE || h !== IMAGE_SIDE || depth !== 8 || colourType !== 0) return false;
  let offset = 8;
  while (offset + 8 <= bytes.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    if (type === 'IDAT') return true;
    if (type === 'tRNS' || type === 'eXIf' || type === 'iCCP' || type === 'gAMA') return false;
    offset += 12 + length;
  }
  return false;
}

/**
 * The fast path for plain 8-bit grey 28×28 PNGs: pngjs inflates and unfilters them in-process
 * (about 0.1 ms of CPU), where a libvips pipeline costs about 1 ms of per-call overhead for a
 * 784-pixel image, which is what caps an MNIST-sized import at ~1,000 images/s on 2 cores.
 * The result is the same bytes (8-bit grey needs no conversion; pngjs checks the CRCs); anything
 * pngjs rejects goes through sharp, which then reports the error.
 */
function decodePlainGrey28Png(bytes: Buffer): Uint8Array | undefined {
  let rgba: Buffer;
  try {
    rgba = PNG.sync.read(bytes).data;
  } catch {
    return undefined;
  }
  if (rgba.length !== IMAGE_PIXELS * 4) return undefined;
  const out = new Uint8Array(IMAGE_PIXELS);
  for (let i = 0; i < IMAGE_PIXELS; i++) out[i] = must(rgba[i * 4], 'PNG RGBA pixels');
  return out;
}

const isBmp = (b: Uint8Array): boolean => b.length > 26 && b[0] === 0x42 && b[1] === 0x4d;

/** sharp has no BMP loader (libvips' comes with ImageMagick); bmp-ts decodes it to RGB for sharp. */
function bmpToSharp(bytes: Buffer): sharp.Sharp {
  const image = bmp.decode(bytes, { toRGBA: true });
  const rgb = Buffer.alloc(image.width * image.height * 3);
  const src = image.data;
  // 24-bit BMPs carry no alpha (bmp-ts reports 0), so alpha is dropped for every BMP.
  for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
    rgb[j] = must(src[i], 'BMP RGBA pixels');
    rgb[j + 1] = must(src[i + 1], 'BMP RGBA pixels');
    rgb[j + 2] = must(src[i + 2], 'BMP RGBA pixels');
  }
  return vips()(rgb, { raw: { width: image.width, height: image.height, channels: 3 } });
}

/**
 * A transparent background becomes the opposite of the ink: dark ink (a black glyph on
 * transparency) is laid on white, light ink on black, so the shape always stays visible and the
 * dataset-wide polarity decision then works on it like on any other image.
 */
function flattenAlpha(grey: Uint8Array, alpha: Uint8Array): Uint8Array {
  let inkWeight = 0;
  let inkSum = 0;
  for (const [i, g] of grey.entries()) {
    const a = must(alpha[i], 'alpha channel');
    inkWeight += a;
    inkSum += a * g;
  }
  const background = inkWeight > 0 && inkSum / inkWeight < 128 ? 255 : 0;
  const out = new Uint8Array(grey.length);
  for (const [i, g] of grey.entries()) {
    const a = must(alpha[i], 'alpha channel') / 255;
    out[i] = Math.round(g * a + background * (1 - a));
  }
  return out;
}

/** The alpha channel as 8 bits (16-bit images carry 16-bit alpha; a plain cast would clip it). */
function alphaTo8(data: Buffer, depth: string): Uint8Array {
  if (depth === 'uchar') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (depth !== 'ushort') throw new Error(`unexpected ${depth} alpha channel`);
  const wide = new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  return Uint8Array.from(wide, (v) => Math.round(v / 257));
}

/** Centres a w×h image on 28×28, padding with the rounded mean of its own border (so the pad is invisible). */
export function padToSquare(pixels: Uint8Array, w: number, h: number): Uint8Array {
  if (w === IMAGE_SIDE && h === IMAGE_SIDE) return pixels;
  let sum = 0;
  let n = 0;
  for (let x = 0; x < w; x++) {
    sum += must(pixels[x], 'top row') + must(pixels[(h - 1) * w + x], 'bottom row');
    n += 2;
  }
  for (let y = 0; y < h; y++) {
    sum += must(pixels[y * w], 'left column') + must(pixels[y * w + w - 1], 'right column');
    n += 2;
  }
  const out = new Uint8Array(IMAGE_PIXELS).fill(Math.round(sum / n));
  const left = Math.floor((IMAGE_SIDE - w) / 2);
  const top = Math.floor((IMAGE_SIDE - h) / 2);
  for (let y = 0; y < h; y++) out.set(pixels.subarray(y * w, y * w + w), (top + y) * IMAGE_SIDE + left);
  return out;
}

/** Decodes one image file into 28×28 grey pixels. Throws ImageDecodeError when it cannot. */
export async function decodeToGrey28(
  bytes: Buffer,
  fit: Fit,
  options: { fastPath?: boolean } = {},
): Promise<Uint8Array> {
  try {
    if ((options.fastPath ?? true) && isPlainGrey28Png(bytes)) {
      const fast = decodePlainGrey28Png(bytes);
      if (fast) return fast;
    }
    const resized = () =>
      (isBmp(bytes) ? bmpToSharp(bytes) : vips()(bytes, { pages: 1 }))
        .autoOrient()
        .resize(IMAGE_SIDE, IMAGE_SIDE, { fit: fit === 'contain' ? 'inside' : fit });
    const { data, info } = await resized()
      .toColourspace('b-w')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 1) throw new Error(`unexpected ${info.channels} channels after grey conversion`);
    let grey: Uint8Array = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (info.hasAlpha) {
      // sharp's raw grey output leaves the alpha channel out; fetch it with the same geometry.
      const alpha = await resized().extractChannel('alpha').raw().toBuffer({ resolveWithObject: true });
      grey = flattenAlpha(
        grey,
        alphaTo8(alpha.data, alpha.data.byteLength === grey.length ? 'uchar' : 'ushort'),
      );
    }
    return padToSquare(grey, info.width, info.height);
  } catch (err) {
    throw new ImageDecodeError((err as Error).message.split('\n')[0]);
  }
}

/** What fills the rest of the 32×32 square for `--fit contain` and what transparency is laid on (bnn.py's white). */
export const RGB_BACKGROUND = 255;

/**
 * Decodes one image file into a 32×32 RGB image, planar as in a CIFAR-10 record (1,024 R, then G, then B
 * bytes, each row-major): what the CNV overlay reads. Transparency is flattened onto white; `contain` keeps
 * the aspect ratio and centres the image on white (offsets rounded down), as BNN-PYNQ's `image_to_cifar`
 * pastes its thumbnail (docs/datasets.md says where the two still differ). Throws ImageDecodeError.
 */
export async function decodeToRgb32(bytes: Buffer, fit: Fit): Promise<Uint8Array> {
  try {
    const white = { r: RGB_BACKGROUND, g: RGB_BACKGROUND, b: RGB_BACKGROUND };
    const { data, info } = await (isBmp(bytes) ? bmpToSharp(bytes) : vips()(bytes, { pages: 1 }))
      .autoOrient()
      .flatten({ background: white })
      .resize(RGB_SIDE, RGB_SIDE, { fit: fit === 'contain' ? 'inside' : fit })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    const { width: w, height: h, channels } = info;
    if (channels !== 3 && channels !== 1)
      throw new Error(`unexpected ${channels} channels after sRGB conversion`);
    const plane = RGB_SIDE * RGB_SIDE;
    const out = new Uint8Array(RGB_IMAGE_BYTES).fill(RGB_BACKGROUND);
    const left = Math.floor((RGB_SIDE - w) / 2);
    const top = Math.floor((RGB_SIDE - h) / 2);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const src = (y * w + x) * channels;
        const dst = (top + y) * RGB_SIDE + left + x;
        for (let c = 0; c < 3; c++)
          out[c * plane + dst] = must(data[src + (channels === 3 ? c : 0)], 'the decoded pixels');
      }
    return out;
  } catch (err) {
    throw new ImageDecodeError((err as Error).message.split('\n')[0]);
  }
}
