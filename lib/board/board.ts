import { UserError } from '../errors';
import { DEFAULT_NETWORK } from '../layout';
import type { ParamSet } from './param-set';
import { checkDatasetName, LFC_SET_FILE_COUNT } from './param-set';
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
  sets?: Array<{ dataset: string; files: number }>;
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
  const sets = (r.sets ?? []).map(
    (s) => `${s.dataset}${s.files === LFC_SET_FILE_COUNT ? '' : ` (${s.files} files: incomplete)`}`,
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
    `params      ${r.params}`,
    `param sets  ${sets.length > 0 ? sets.join(', ') : `none for ${DEFAULT_NETWORK}`}`,
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

/** Uploads a checked set to <bnn>/params/<dataset>/lfcW1A1 on the board; see board_helper.py do_push. */
export async function pushParamSet(target: BoardTarget, set: ParamSet, dataset: string): Promise<PushResult> {
  checkDatasetName(dataset);
  if (set.files.length !== LFC_SET_FILE_COUNT)
    throw new UserError(`${set.source}: ${set.files.length} files, an lfcW1A1 set has ${LFC_SET_FILE_COUNT}`);
  const ctx = await context(target, dataset);
  const payload = set.files.map((f) => set.bytes.get(f.path) as Uint8Array);
  const { answer } = await runHelper(target, 'push', { dataset, files: set.files }, payload);
  if (!answer.ok) throw refusal(answer, ctx);
  return { ...(answer as unknown as PushResult), where: ctx.where };
}

export interface BoardRun {
  where: string;
  predictions: Int32Array;
  usecPerImage: number;
  classes: string[];
  folder: string;
  /** The files of the set the board loaded, as read on the board in the same session. */
  files: Map<string, Uint8Array>;
}

/** Runs the board's own classifier (LfcClassifier + classify_mnists, hardware runtime) on `images`. */
export async function runOnBoard(
  target: BoardTarget,
  dataset: string,
  images: Uint8Array,
): Promise<BoardRun> {
  checkDatasetName(dataset);
  const ctx = await context(target, dataset);
  const { answer } = await runHelper(target, 'validate', { dataset, imagesSize: images.length }, [images]);
  if (!answer.ok) throw refusal(answer, ctx);
  const files = new Map<string, Uint8Array>();
  for (const [name, b64] of Object.entries(answer.files as Record<string, string>))
    files.set(name, Buffer.from(b64, 'base64'));
  return {
    where: ctx.where,
    predictions: Int32Array.from(answer.predictions as number[]),
    usecPerImage: Number(answer.usecPerImage),
    classes: answer.classes as string[],
    folder: String(answer.folder),
    files,
  };
}
