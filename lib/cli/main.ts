import { Command, CommanderError } from 'commander';
import { UserError } from '../errors';
import { registerCommands } from './commands';
import { type CliContext, processContext } from './env';

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

/** Entry point of bin/bnn-pynq.js: one clear line and a non-zero exit for any user error. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram(argv).exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof UserError) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    process.stderr.write(
      `internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 70;
  }
}
