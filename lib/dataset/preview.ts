import sharp from 'sharp';
import { must } from '../defined';
import { BINARIZE_AT, IMAGE_PIXELS, IMAGE_SIDE, RGB_IMAGE_BYTES, RGB_SIDE } from './limits';

/**
 * preview.png: a contact sheet to look at before paying for training. One row per class: its name
 * and counts, then PREVIEW_PER_CLASS images as imported (grey, after polarity), then the same images
 * as the board sees them (binarized at pixel >= 128). Tiles are the 28×28 pixels scaled up by
 * PREVIEW_SCALE with nearest-neighbour, so every tile pixel is an exact copy of an idx pixel.
 */

export const PREVIEW_PER_CLASS = 8;
export const PREVIEW_SCALE = 3;
const GAP = 4;
const GROUP_GAP = 24;
const LABEL_WIDTH = 220;
const HEADER = 28;
const MARGIN = 8;
const BACKGROUND = 96;

export interface PreviewLayout {
  width: number;
  height: number;
  /** Top-left corner of tile `column` (0..PREVIEW_PER_CLASS-1) of class `row`; `binarized` picks the right-hand group. */
  tile(row: number, column: number, binarized: boolean): { left: number; top: number };
  tileSize: number;
}

/** The sheet's geometry: grey sets have two groups of 28×28 tiles, colour sets one group of 32×32 tiles. */
export function previewLayout(
  classCount: number,
  options: { side?: number; groups?: 1 | 2 } = {},
): PreviewLayout {
  const TILE = (options.side ?? IMAGE_SIDE) * PREVIEW_SCALE;
  const groups = options.groups ?? 2;
  const groupWidth = PREVIEW_PER_CLASS * TILE + (PREVIEW_PER_CLASS - 1) * GAP;
  const rowHeight = TILE + GAP;
  return {
    width: MARGIN + LABEL_WIDTH + groups * groupWidth + (groups - 1) * GROUP_GAP + MARGIN,
    height: MARGIN + HEADER + classCount * rowHeight + MARGIN,
    tileSize: TILE,
    tile: (row, column, binarized) => ({
      left: MARGIN + LABEL_WIDTH + (binarized ? groupWidth + GROUP_GAP : 0) + column * (TILE + GAP),
      top: MARGIN + HEADER + row * rowHeight,
    }),
  };
}

export interface PreviewInput {
  classNames: string[];
  /** Per class: [train, validation, test] counts. */
  perClass: [number, number, number][];
  /** Per class: up to PREVIEW_PER_CLASS images (784 bytes each, final pixels). */
  samples: Uint8Array[][];
}

const xml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Renders the contact sheet as PNG bytes. */
export async function renderPreview(input: PreviewInput): Promise<Buffer> {
  const layout = previewLayout(input.classNames.length);
  const TILE = layout.tileSize;
  const canvas = Buffer.alloc(layout.width * layout.height, BACKGROUND);
  const blit = (pixels: Uint8Array, left: number, top: number, binarized: boolean) => {
    for (let y = 0; y < TILE; y++) {
      const src = Math.floor(y / PREVIEW_SCALE) * IMAGE_SIDE;
      const row = (top + y) * layout.width + left;
      for (let x = 0; x < TILE; x++) {
        const v = must(pixels[src + Math.floor(x / PREVIEW_SCALE)], 'the sample');
        canvas[row + x] = binarized ? (v >= BINARIZE_AT ? 255 : 0) : v;
      }
    }
  };
  input.samples.forEach((images, row) => {
    images.forEach((pixels, column) => {
      if (pixels.length !== IMAGE_PIXELS) throw new RangeError('preview: a sample is not 28×28');
      for (const binarized of [false, true]) {
        const { left, top } = layout.tile(row, column, binarized);
        blit(pixels, left, top, binarized);
      }
    });
  });
  const texts = labelTexts(input, layout, [
    'as imported (what the idx files hold)',
    `as the board sees it (pixel &gt;= ${BINARIZE_AT})`,
  ]);
  // Text is drawn only into the label column and header, never over a tile.
  return sharp(canvas, { raw: { width: layout.width, height: layout.height, channels: 1 } })
    .composite([{ input: labelSvg(layout, texts), left: 0, top: 0 }])
    .toColourspace('b-w')
    .png({ compressionLevel: 6 })
    .toBuffer();
}

const labelSvg = (layout: PreviewLayout, texts: string[]): Buffer =>
  Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}"><g font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif" font-size="14" fill="#ffffff">${texts.join('')}</g></svg>`,
  );

/** The header (one title per tile group) and each row's class name and counts, as SVG text elements. */
function labelTexts(input: PreviewInput, layout: PreviewLayout, titles: string[]): string[] {
  const TILE = layout.tileSize;
  const texts: string[] = [];
  texts.push(
    `<text x="${MARGIN}" y="${MARGIN + 18}" font-weight="bold">class (train/validation/test)</text>`,
  );
  titles.forEach((title, group) => {
    const { left } = layout.tile(0, 0, group === 1);
    texts.push(`<text x="${left}" y="${MARGIN + 18}" font-weight="bold">${title}</text>`);
  });
  input.classNames.forEach((name, row) => {
    const { top } = layout.tile(row, 0, false);
    const [tr, va, te] = input.perClass[row] ?? [0, 0, 0];
    const label = name.length > 26 ? `${name.slice(0, 25)}…` : name;
    texts.push(`<text x="${MARGIN}" y="${top + TILE / 2 - 4}">${row}: ${xml(label)}</text>`);
    texts.push(
      `<text x="${MARGIN}" y="${top + TILE / 2 + 14}" font-size="12">${tr + va + te} (${tr}/${va}/${te})</text>`,
    );
  });
  return texts;
}

/**
 * The colour contact sheet of a CNV dataset: per class, PREVIEW_PER_CLASS images exactly as the records
 * hold them (the overlay reads the 8-bit RGB pixels as they are, nothing is binarized), each 32×32 pixel
 * scaled up by PREVIEW_SCALE with nearest-neighbour. `samples` are planar (R, G, B planes of 1,024 bytes).
 */
export async function renderColourPreview(input: PreviewInput): Promise<Buffer> {
  const layout = previewLayout(input.classNames.length, { side: RGB_SIDE, groups: 1 });
  const TILE = layout.tileSize;
  const plane = RGB_SIDE * RGB_SIDE;
  const canvas = Buffer.alloc(layout.width * layout.height * 3, BACKGROUND);
  input.samples.forEach((images, row) => {
    images.forEach((pixels, column) => {
      if (pixels.length !== RGB_IMAGE_BYTES) throw new RangeError('preview: a sample is not 32×32 RGB');
      const { left, top } = layout.tile(row, column, false);
      for (let y = 0; y < TILE; y++) {
        const src = Math.floor(y / PREVIEW_SCALE) * RGB_SIDE;
        for (let x = 0; x < TILE; x++) {
          const out = ((top + y) * layout.width + left + x) * 3;
          const p = src + Math.floor(x / PREVIEW_SCALE);
          canvas[out] = must(pixels[p], 'the red plane');
          canvas[out + 1] = must(pixels[plane + p], 'the green plane');
          canvas[out + 2] = must(pixels[2 * plane + p], 'the blue plane');
        }
      }
    });
  });
  const texts = labelTexts(input, layout, ['as the board sees it (the 8-bit RGB pixels of the records)']);
  return sharp(canvas, { raw: { width: layout.width, height: layout.height, channels: 3 } })
    .composite([{ input: labelSvg(layout, texts), left: 0, top: 0 }])
    .removeAlpha()
    .png({ compressionLevel: 6 })
    .toBuffer();
}
