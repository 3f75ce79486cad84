/**
 * Start time of the `bnn-pynq` command, as a user runs it: `node bin/bnn-pynq.js <args>` in a fresh
 * process, output discarded. Wall time is what the user waits; CPU time (the child's user + system time,
 * from this process's cutime/cstime in /proc/self/stat once the child is reaped) is what the command costs,
 * and is the figure to read on a loaded machine. Budgets: 150 ms for `--help` / `--version`, 250 ms for
 * `convert --help`.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { must } from '../../lib/defined';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'bnn-pynq.js');
/** Clock ticks per second of /proc's times (USER_HZ; 100 on Linux). */
const TICKS_PER_SECOND = 100;

export interface StartTiming {
  args: string[];
  budgetMs: number;
  runs: number;
  /** Median wall time of one start. */
  wallMs: number;
  /** Fastest start: what the command takes when the scheduler leaves it alone. */
  bestWallMs: number;
  /** Mean CPU time (user + system) of one start. */
  cpuMs: number;
}

/** Children's CPU time so far (ms): reaped children's user + system time of this process. */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  // Fields after the command name (which may contain spaces): cutime and cstime are the 16th and 17th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / TICKS_PER_SECOND;
}

export function measureStart(args: string[], budgetMs: number, runs = 15): StartTiming {
  const walls: number[] = [];
  spawnSync(process.execPath, [BIN, ...args], { stdio: 'ignore' }); // warm the file cache (and the bundle)
  const cpu0 = childrenCpuMs();
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [BIN, ...args], { stdio: 'ignore' });
    walls.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`bnn-pynq ${args.join(' ')} exited ${r.status}`);
  }
  const cpuMs = (childrenCpuMs() - cpu0) / runs;
  walls.sort((a, b) => a - b);
  return {
    args,
    budgetMs,
    runs,
    wallMs: must(walls[Math.floor(runs / 2)], 'median wall'),
    bestWallMs: must(walls[0], 'best wall'),
    cpuMs,
  };
}

/** The three figures of the issue's budget. */
export const START_CASES: ReadonlyArray<[string[], number]> = [
  [['--version'], 150],
  [['--help'], 150],
  [['convert', '--help'], 250],
];

export const formatStart = (t: StartTiming): string =>
  `cli start ${`bnn-pynq ${t.args.join(' ')}`.padEnd(24)} ${t.wallMs.toFixed(0)} ms wall (median; best ${t.bestWallMs.toFixed(0)}), ${t.cpuMs.toFixed(0)} ms CPU  (${t.runs} starts; budget ${t.budgetMs} ms wall)`;

if (require.main === module) {
  for (const [args, budget] of START_CASES)
    process.stdout.write(`${formatStart(measureStart(args, budget))}\n`);
}
