import type { Command } from 'commander';

/**
 * Every command of the CLI, in the order `--help` lists them. A command module exports
 * `register(program)`, which adds its sub-command(s) to the program.
 */
export function registerCommands(_program: Command): void {
  // Commands are added here as they are built (convert, verify, train, fetch, dataset, board, ...).
}
