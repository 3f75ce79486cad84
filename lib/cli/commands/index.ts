import type { Command } from 'commander';
import { register as registerBoard } from './board';
import { register as registerConvert } from './convert';
import { register as registerConvertRun } from './convert-run';
import { register as registerDataset } from './dataset';
import { register as registerFetch } from './fetch';
import { register as registerInstance } from './instance';
import { register as registerLogs } from './logs';
import { register as registerReport } from './report';
import { register as registerRuns } from './runs';
import { register as registerStatus } from './status';
import { register as registerTrain } from './train';
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
  registerStatus(_program);
  registerInstance(_program);
  registerTrain(_program);
  registerLogs(_program);
  registerRuns(_program);
  registerConvertRun(_program);
  registerFetch(_program);
  registerReport(_program);
  registerDataset(_program);
}
