import { promises as fs } from 'node:fs';
import type { Command } from 'commander';
import { readInputFile } from '../../bnn/files';
import { compareWithFloatModel } from '../../bnn/float-model';
import { readParamFolder } from '../../bnn/folder';
import { readIdxImages, readIdxLabels } from '../../bnn/idx';
import { loadLfcModel } from '../../bnn/model';
import type { FloatComparison, VerifyReport } from '../../bnn/types';
import { verify } from '../../bnn/verify';
import { UserError } from '../../errors';
import { type CliContext, type CommandEnv, resolveIn } from '../env';

export interface VerifyFlags {
  images: string;
  labels: string;
  json?: boolean;
  predictions?: string;
  against?: string;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('verify')
    .description(
      'Run a param folder on labelled images with a hardware-exact simulator of the lfcW1A1 overlay (the board decision rule)',
    )
    .argument('<paramdir>', 'the param folder: .../<dataset>/lfcW1A1/')
    .requiredOption('--images <idx3>', 'images, idx3 format (raw or .gz)')
    .requiredOption('--labels <idx1>', 'labels, idx1 format (raw or .gz)')
    .option(
      '--json',
      'print one JSON object (accuracy, correct, total, perClass, confusion, microsecondsPerImage, ...)',
    )
    .option('--predictions <file>', 'write the predicted class index of every image, one per line')
    .option(
      '--against <model.npz>',
      'also run the float model it was converted from: argmax and board-rule accuracy, and where they differ',
    )
    .action(async (paramDir: string, flags: VerifyFlags) => {
      await runVerify(ctx.env(), paramDir, flags);
    });
}

/** `bnn-pynq verify <paramdir>`: the hardware-exact simulator on labelled images; prints its report. */
export async function runVerify(env: CommandEnv, paramDir: string, flags: VerifyFlags): Promise<void> {
  const read = (file: string, what: string) => readInputFile(resolveIn(env, file), what);
  const params = await readParamFolder(resolveIn(env, paramDir));
  const images = readIdxImages(await read(flags.images, '--images'), flags.images);
  const labels = readIdxLabels(await read(flags.labels, '--labels'), flags.labels);
  const model = flags.against
    ? loadLfcModel(await read(flags.against, '--against'), flags.against)
    : undefined;
  const predictions = new Uint8Array(images.count);
  const report = verify(params, images, labels, {
    imagesName: flags.images,
    labelsName: flags.labels,
    predictions,
  });
  const against = model
    ? compareWithFloatModel(model, params, images, labels, {
        imagesName: flags.images,
        labelsName: flags.labels,
      })
    : undefined;
  if (flags.predictions) {
    const lines = Array.from(predictions, (p) => `${p}\n`).join('');
    try {
      await fs.writeFile(resolveIn(env, flags.predictions), lines);
    } catch (err) {
      throw new UserError(`${flags.predictions}: cannot write predictions (${(err as Error).message})`);
    }
  }
  if (flags.json) {
    env.term.out(`${JSON.stringify({ paramDir, ...report, ...(against ? { against } : {}) })}\n`);
    return;
  }
  env.term.out(formatReport(report, params.classes));
  if (against) env.term.out(formatComparison(against));
}

const pct = (v: number | null) => (v === null ? '   -  ' : `${v.toFixed(2).padStart(6)} %`);

export function formatReport(r: VerifyReport, classes: string[]): string {
  const out: string[] = [];
  out.push(
    `board rule (hardware-exact): ${r.accuracy.toFixed(2)} % (${r.correct} / ${r.total}), ${r.microsecondsPerImage.toFixed(1)} µs per image`,
  );
  out.push(
    `  no output bit fired: ${r.noBitFired} images (read as class 0); several bits fired: ${r.severalBitsFired} (the highest wins)`,
  );
  out.push('per class:');
  for (const c of r.perClass)
    out.push(
      `  ${String(c.index).padStart(2)} ${c.name.padEnd(14)} ${pct(c.accuracy)}  (${c.correct} / ${c.total})`,
    );
  out.push('confusion (rows: label, columns: predicted):');
  const w = Math.max(4, ...r.confusion.flat().map((v) => String(v).length + 1));
  out.push(`    ${classes.map((_, i) => String(i).padStart(w)).join('')}`);
  r.confusion.forEach((row, i) => {
    out.push(`  ${String(i).padStart(2)}${row.map((v) => String(v).padStart(w)).join('')}`);
  });
  return `${out.join('\n')}\n`;
}

export function formatComparison(c: FloatComparison): string {
  const out: string[] = [];
  out.push('float model (--against):');
  out.push(
    `  argmax (what training reports):   ${c.argmax.accuracy.toFixed(2)} % (${c.argmax.correct} / ${c.total})`,
  );
  out.push(
    `  board rule on float outputs:      ${c.boardRule.accuracy.toFixed(2)} % (${c.boardRule.correct} / ${c.total})`,
  );
  out.push(
    `  hardware-exact param folder:      ${c.hardware.accuracy.toFixed(2)} % (${c.hardware.correct} / ${c.total})`,
  );
  out.push(
    `  float board rule == hardware on ${c.agreement.same} / ${c.total} images (${c.agreement.percent.toFixed(2)} %)`,
  );
  if (c.disagreements.length > 0) {
    out.push('  images that differ (only threshold rounding at exact ties can differ):');
    for (const d of c.disagreements.slice(0, 50))
      out.push(
        `    #${d.image} label ${d.label}: hardware ${d.board}, float ${d.floatBoardRule}: ${d.reason}`,
      );
    if (c.disagreements.length > 50) out.push(`    ... ${c.disagreements.length - 50} more (see --json)`);
  }
  const gap = c.argmax.accuracy - c.hardware.accuracy;
  out.push(
    `  the ${gap.toFixed(2)} point gap between training's argmax and the board is the board's decision rule${c.agreement.same === c.total ? ', not the conversion' : ''}`,
  );
  return `${out.join('\n')}\n`;
}
