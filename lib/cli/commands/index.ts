import type { Command } from 'commander';
import { register as registerBoard } from './board';
import { register as registerConvert } from './convert';
import { register as registerVerify } from './verify';

/**
 * Every command of the CLI, in the order `--help` lists them. A command module exports
 * `register(program)`, which adds its sub-command(s) to the program.
 */
export function registerCommands(_program: Command): void {
  // Commands are added here as they are built (convert, verify, train, fetch, dataset, board, ...).
  registerConvert(_program);
  registerVerify(_program);
  registerBoard(_program);
}
