import { Command, CommanderError } from 'commander';
import { UserError } from '../errors';
import { fsError, isFsError } from '../fs-errors';
import { registerCommands } from './commands';
import { type CliContext, processContext } from './env';
import { outputClosed } from './ui/follow';

/**
 * Builds the `bnn-pynq` program; each command lives in its own module under ./commands. With `argv`, only the
 * invoked command's module is loaded (see registerCommands). `ctx` gives the actions their env: the
 * process's in the CLI, injected clients and a captured terminal in tests.
 */
export function buildProgram(argv?: readonly string[], ctx: CliContext = processContext): Command {
  const program = new Command('bnn-pynq')
    .description(
      'Train a binarized neural network (BNN-PYNQ LFC) on AWS, convert it to the PYNQ param folder, verify it, and deliver it to the board.',
    )
    .version(require('../../package.json').version)
    .showHelpAfterError('(add --help for usage)');
  registerCommands(program, argv, ctx);
  return program;
}

/**
 * A closed stdout or stderr (`bnn-pynq verify … | head -3`) is not a failure: every output file is written
 * (atomically) before anything is printed, so the command finishes its work quietly and keeps its exit code;
 * a command that only follows a run ends there (lib/cli/ui/follow.ts). Any other error on the streams ends the command with one line.
 */
export function quietOnClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return outputClosed();
      if (stream === process.stdout)
        process.stderr.write(`error: ${fsError(err, { path: 'stdout' }).message}\n`);
      process.exitCode = 2;
    });
  }
}

/** The one line (and exit code) for anything a command throws: never a stack trace for a user's problem. */
export function describeFailure(err: unknown): { line: string; exitCode: number } {
  if (err instanceof UserError) return { line: `error: ${err.message}`, exitCode: err.exitCode };
  if (isFsError(err)) {
    const mapped = fsError(err);
    return { line: `error: ${mapped.message}`, exitCode: mapped.exitCode };
  }
  return {
    line: `internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    exitCode: 70,
  };
}

/** Entry point of bin/bnn-pynq.js: one clear line and a non-zero exit for any user error. */
export async function main(argv: string[]): Promise<void> {
  quietOnClosedPipes();
  const program = buildProgram(argv).exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    const { line, exitCode } = describeFailure(err);
    process.stderr.write(`${line}\n`);
    process.exitCode = exitCode;
  }
}
