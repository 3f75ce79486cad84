import { isOverlayName, type OverlayName } from '../bnn/overlays';
import { must } from '../defined';
import { UserError } from '../errors';
import type { ParamSet } from '../param-folder/layout';
import { aNetwork, checkDatasetName, setFileCount } from '../param-folder/layout';
import { INSTALL_BNN, type RefusalContext, refusal } from './refusals';
import { type BoardTarget, describeTarget, resolveLogin, runHelper } from './ssh';

/** What `board check` found (the helper's answer, typed). */
export interface BoardReport {
  where: string;
  python: string;
  executable: string;
  user: string;
  boardEnv: string | null;
  pynq: string | null;
  pynqError?: string;
  bnn: string | null;
  bnnError?: string;
  bnnVersion?: string | number | null;
  bnnImportError?: string;
  params?: string;
  /** Every `<params>/<dataset>/<network>/` folder, for each of the five overlays. */
  sets?: Array<{ dataset: string; network: string; files: number }>;
  /** Bitstreams in `<bnn>/bitstreams/<platform>/<network>-<platform>.bit`, for the board's platform. */
  overlays?: Array<{ network: string; platform: string; library?: boolean }>;
  /** The platform folder the board's BOARD selects (bnn.py: pynqZ1-Z2 or ultra96), if BOARD is known. */
  platform?: string | null;
  leftovers?: string[];
  freeBytes?: number;
  writable?: boolean;
}

async function context(target: BoardTarget, dataset?: string): Promise<RefusalContext> {
  const login = await resolveLogin(target);
  return {
    where: describeTarget({ ...login, port: target.port }),
    user: login.user,
    sudo: Boolean(target.sudo),
    python: target.python ?? 'python3',
    dataset,
  };
}

export async function checkBoard(target: BoardTarget): Promise<BoardReport> {
  const ctx = await context(target);
  const { answer } = await runHelper(target, 'check', {});
  if (!answer.ok) throw refusal(answer, ctx);
  return { ...(answer as unknown as BoardReport), where: ctx.where };
}

const formatBytes = (n: number): string =>
  n >= 1e9
    ? `${(n / 1e9).toFixed(1)} GB`
    : n >= 1e6
      ? `${(n / 1e6).toFixed(1)} MB`
      : `${(n / 1e3).toFixed(0)} kB`;

/** The report as aligned lines, and the problems (one line each, with the fix). */
export function formatCheck(r: BoardReport, sudo: boolean): { lines: string[]; problems: string[] } {
  const problems: string[] = [];
  const sets = (r.sets ?? []).map((s) => {
    const want = isOverlayName(s.network) ? setFileCount(s.network) : undefined;
    return `${s.dataset}/${s.network}${s.files === want ? '' : ` (${s.files} files: incomplete)`}`;
  });
  const overlays = (r.overlays ?? []).map(
    (o) =>
      `${o.network}${o.library === false ? ` (no libraries/${o.platform}/python_hw-${o.network}-${o.platform}.so)` : ''}`,
  );
  const lines = [
    `reachable   yes (${r.where}, logged in as ${r.user})`,
    `python      ${r.python} (${r.executable})`,
    `pynq        ${r.pynq ?? `not importable${r.pynqError ? `: ${r.pynqError}` : ''}`}`,
    `BOARD       ${r.boardEnv ?? 'not set'}`,
    `bnn         ${r.bnn ? `${r.bnn}${r.bnnVersion != null ? ` (version ${r.bnnVersion})` : ''}` : 'not installed'}`,
  ];
  if (!r.bnn) {
    problems.push(`board ${r.where}: ${r.bnnError ?? 'no bnn package'}; ${INSTALL_BNN}`);
    return { lines, problems };
  }
  lines.push(
    `overlays    ${overlays.length > 0 ? `${overlays.join(', ')} (bitstreams for ${r.platform ?? (r.overlays ?? [])[0]?.platform})` : `none found in ${r.bnn}/bitstreams/${r.platform ?? '<platform>'}/`}`,
    `params      ${r.params}`,
    `param sets  ${sets.length > 0 ? sets.join(', ') : 'none'}`,
    `free space  ${r.freeBytes !== undefined ? formatBytes(r.freeBytes) : 'unknown'}`,
    `writable    ${r.writable ? `yes${sudo ? ' (with sudo)' : ''}` : 'no'}`,
  );
  // Only validate imports bnn (push just needs its folder), so an import failure is a note, not a refusal.
  if (r.bnnImportError)
    lines.push(
      `import bnn  fails: ${r.bnnImportError} (validate needs it: ${!r.boardEnv ? 'BOARD is not set in ssh sessions; add BOARD=Pynq-Z1 (or Pynq-Z2, Ultra96) to /etc/environment on the board' : 'try --sudo, the overlay needs root'})`,
    );
  if (!r.writable)
    problems.push(
      sudo
        ? `board ${r.where}: ${r.params} is not writable even with sudo (a read-only file system?); check \`mount\` on the board`
        : `board ${r.where}: ${r.params} is not writable for ${r.user}; use --sudo (needs passwordless sudo), or on the board: sudo chown -R ${r.user} ${r.params}`,
    );
  if ((r.leftovers ?? []).length > 0)
    lines.push(
      `leftovers   ${(r.leftovers ?? []).join(', ')} (an interrupted push; the next push removes them)`,
    );
  return { lines, problems };
}

export interface PushResult {
  where: string;
  target: string;
  previous: string | null;
  droppedOlderPrevious: boolean;
  cleaned: string[];
  files: number;
  bytes: number;
}

/** Uploads a checked set to <bnn>/params/<dataset>/<network> on the board; see board_helper.py do_push. */
export async function pushParamSet(target: BoardTarget, set: ParamSet, dataset: string): Promise<PushResult> {
  checkDatasetName(dataset);
  const want = setFileCount(set.network);
  if (set.files.length !== want)
    throw new UserError(`${set.source}: ${set.files.length} files, ${aNetwork(set.network)} set has ${want}`);
  const ctx = await context(target, dataset);
  const payload = set.files.map((f) => must(set.bytes.get(f.path), f.path));
  const { answer } = await runHelper(
    target,
    'push',
    { dataset, network: set.network, files: set.files },
    payload,
  );
  if (!answer.ok) throw refusal(answer, ctx);
  return { ...(answer as unknown as PushResult), where: ctx.where };
}

export interface BoardRun {
  where: string;
  /** The overlay the board ran (the one asked for, or the only one of the family installed for the dataset). */
  network: OverlayName;
  predictions: Int32Array;
  usecPerImage: number;
  classes: string[];
  folder: string;
  /** The files of the set the board loaded, as read on the board in the same session. */
  files: Map<string, Uint8Array>;
}

/**
 * Runs the board's own classifier on `images` with the hardware runtime: LfcClassifier.classify_mnists on
 * an idx3 file (family `lfc`), CnvClassifier.classify_cifars on CIFAR-10 binary records (family `cnv`).
 * Without `network`, the board uses the only overlay of that family it has a set for under this dataset.
 */
export async function runOnBoard(
  target: BoardTarget,
  dataset: string,
  images: Uint8Array,
  input: { family: 'lfc' | 'cnv'; network?: OverlayName },
): Promise<BoardRun> {
  checkDatasetName(dataset);
  const ctx = await context(target, dataset);
  const { answer } = await runHelper(
    target,
    'validate',
    { dataset, family: input.family, network: input.network ?? null, imagesSize: images.length },
    [images],
  );
  if (!answer.ok) throw refusal(answer, ctx);
  const network = String(answer.network);
  if (!isOverlayName(network)) throw new UserError(`board ${ctx.where} ran an unknown network ${network}`);
  const files = new Map<string, Uint8Array>();
  for (const [name, b64] of Object.entries(answer.files as Record<string, string>))
    files.set(name, Buffer.from(b64, 'base64'));
  return {
    where: ctx.where,
    network,
    predictions: Int32Array.from(answer.predictions as number[]),
    usecPerImage: Number(answer.usecPerImage),
    classes: answer.classes as string[],
    folder: String(answer.folder),
    files,
  };
}
