import type { Command } from 'commander';
import { type CliContext, processContext } from '../env';

type Register = (program: Command, ctx: CliContext) => void;

/**
 * Every command of the CLI, in the order `--help` lists them: the top-level names a module adds, and the
 * module (loaded on demand). A command module exports `register(program, ctx)`: it declares the command and
 * its options, and its action builds the env from `ctx` and calls the module's `runX(env, ...)`.
 *
 * Loading is lazy because the modules' dependencies are heavy (the AWS SDK clients, sharp/libvips): a
 * `bnn-pynq convert` should not pay a second of start-up for the cloud commands. Help, no command or an
 * unknown one load them all, so `--help` and commander's suggestions see every command.
 */
const COMMAND_MODULES: ReadonlyArray<{ names: readonly string[]; load: () => { register: Register } }> = [
  { names: ['convert'], load: () => require('./convert') },
  { names: ['verify'], load: () => require('./verify') },
  { names: ['board'], load: () => require('./board') },
  { names: ['preflight'], load: () => require('./preflight') },
  { names: ['status'], load: () => require('./status') },
  { names: ['start', 'stop'], load: () => require('./instance') },
  { names: ['train', 'watch'], load: () => require('./train') },
  { names: ['logs'], load: () => require('./logs') },
  { names: ['runs'], load: () => require('./runs') },
  { names: ['convert-run'], load: () => require('./convert-run') },
  { names: ['fetch'], load: () => require('./fetch') },
  { names: ['report'], load: () => require('./report') },
  { names: ['dataset'], load: () => require('./dataset') },
  { names: ['sweep'], load: () => require('./sweep') },
];

/** All top-level command names (for tests and help). */
export const COMMAND_NAMES: readonly string[] = COMMAND_MODULES.flatMap((m) => m.names);

/**
 * Registers the commands on `program`. With `argv` (process.argv), only the module of the command being run
 * is loaded when it is a known one, and none for a bare `--version`; without it, all are.
 */
export function registerCommands(
  program: Command,
  argv?: readonly string[],
  ctx: CliContext = processContext,
): void {
  const args = argv?.slice(2) ?? [];
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) return;
  const first = args.find((a) => !a.startsWith('-'));
  const only = COMMAND_MODULES.find((m) => first !== undefined && m.names.includes(first));
  for (const m of only ? [only] : COMMAND_MODULES) m.load().register(program, ctx);
}
