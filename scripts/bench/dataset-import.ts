/**
 * Benchmark of `dataset import` (not a timed test): the 70,000 Fashion-MNIST images (Debian's
 * dataset-fashion-mnist) written once as PNG files in class folders, then imported end to end
 * (scan, decode, polarity, split, idx + gzip, preview, atomic write), as `bnn-pynq dataset import` does.
 *
 *   npm run bench:dataset -- [--limit N] [--format png|jpeg|colour-jpeg] [--in-flight N] [--cache DIR] [--runs N]
 *
 * png: 8-bit grey 28×28 PNGs (the in-process fast path); jpeg: the same images as JPEG (the libvips path);
 * colour-jpeg: the same images tinted per class and stretched to 96×72 colour JPEGs (photo-like: resize,
 * pad, sRGB), imported with `--format cifar` into 32×32 RGB CIFAR-10 records.
 *
 * Prints the images/s of each run, the time per phase, the CPU time used and the load average
 * before the run (the machine may be shared).
 */
import { existsSync, promises as fsp, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { readIdxImages, readIdxLabels } from '../../lib/bnn';
import { importDataset } from '../../lib/dataset';
import { must } from '../../lib/defined';

const FASHION = '/usr/share/datasets/fashion-mnist';
const CLASSES = [
  't-shirt',
  'trouser',
  'pullover',
  'dress',
  'coat',
  'sandal',
  'shirt',
  'sneaker',
  'bag',
  'ankle-boot',
];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? (process.argv[i + 1] as string) : fallback;
}

/** Writes the image files once (8-bit grey 28×28 PNG as people export MNIST-like sets, or JPEG); reused across runs. */
async function ensureImageFolder(root: string, limit: number, format: string): Promise<number> {
  const marker = path.join(root, `.complete-${limit}`);
  if (existsSync(marker)) return Number(readFileSync(marker, 'utf8'));
  rmSync(root, { recursive: true, force: true });
  let written = 0;
  const started = performance.now();
  for (const part of ['train', 't10k']) {
    const images = readIdxImages(readFileSync(path.join(FASHION, `${part}-images-idx3-ubyte.gz`)), part);
    const labels = readIdxLabels(
      readFileSync(path.join(FASHION, `${part}-labels-idx1-ubyte.gz`)),
      part,
    ).labels;
    for (const c of CLASSES) mkdirSync(path.join(root, c), { recursive: true });
    const jobs: Promise<void>[] = [];
    for (let k = 0; k < images.count && written < limit; k++, written++) {
      const pixels = Buffer.from(images.pixels.subarray(k * 784, (k + 1) * 784));
      const label = must(labels[k], 'label');
      const file = path.join(
        root,
        must(CLASSES[label], 'class name'),
        `${part}-${String(k).padStart(5, '0')}.${format === 'png' ? 'png' : 'jpg'}`,
      );
      const image =
        format === 'colour-jpeg'
          ? sharp(Buffer.from(Array.from(pixels).flatMap((v) => [v, (v * (label + 3)) % 256, 255 - v])), {
              raw: { width: 28, height: 28, channels: 3 },
            }).resize(96, 72, { fit: 'fill' })
          : sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } }).toColourspace('b-w');
      jobs.push(
        (format === 'png' ? image.png() : image.jpeg({ quality: 90 }))
          .toBuffer()
          .then((bytes) => fsp.writeFile(file, bytes)),
      );
      if (jobs.length >= 32) await Promise.all(jobs.splice(0));
    }
    await Promise.all(jobs);
  }
  writeFileSync(marker, String(written));
  process.stdout.write(
    `wrote ${written} image files to ${root} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
  return written;
}

async function main() {
  const limit = Number(arg('limit', '70000'));
  const inFlight = Number(arg('in-flight', '16'));
  const runs = Number(arg('runs', '2'));
  const format = arg('format', 'png');
  if (format !== 'png' && format !== 'jpeg' && format !== 'colour-jpeg')
    throw new Error(`--format ${format}: png, jpeg or colour-jpeg`);
  const cache = arg('cache', path.join(tmpdir(), 'bnn-pynq-bench', `fashion-mnist-${format}`));
  const count = await ensureImageFolder(cache, limit, format);
  const out = path.join(tmpdir(), 'bnn-pynq-bench', `import-out-${process.pid}`);
  process.stdout.write(
    `node ${process.version}, sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), ${cpus().length} CPUs, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}, in flight ${inFlight}\n`,
  );
  for (let run = 1; run <= runs; run++) {
    const load = loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const result = await importDataset({
      source: cache,
      name: 'bench-fashion-png',
      out,
      split: [80, 10, 10],
      seed: 1,
      format: format === 'colour-jpeg' ? 'cifar' : 'idx',
      invert: format === 'colour-jpeg' ? 'no' : 'auto',
      fit: 'contain',
      skipBad: false,
      force: true,
      inFlight,
      toolVersion: 'bench',
    });
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const phases = Object.entries(result.timings)
      .map(([k, v]) => `${k} ${(v.wallMs / 1000).toFixed(2)} s (CPU ${(v.cpuMs / 1000).toFixed(2)} s)`)
      .join(', ');
    process.stdout.write(
      `run ${run}: ${count} images in ${seconds.toFixed(2)} s = ${(count / seconds).toFixed(0)} images/s ` +
        `(decode phase alone ${(count / ((result.timings.decode?.wallMs ?? 1) / 1000)).toFixed(0)} images/s); ` +
        `${phases}; CPU user ${(cpu.user / 1e6).toFixed(1)} s + system ${(cpu.system / 1e6).toFixed(1)} s; load average before: ${load}\n`,
    );
  }
  rmSync(out, { recursive: true, force: true });
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
