import path from 'node:path';
import type { Command } from 'commander';
import type { CloudClients } from '../cloud/clients';
import type { Clock } from '../cloud/instance';
import { DEFAULT_STACK_NAME } from '../layout';
import { processTerminal, type Terminal } from './ui/terminal';

/**
 * What every command runs with: where it writes, and the folder its relative paths mean. Commands are
 * `runX(env, ...)` functions; the CLI builds the env from the process, tests inject one (a captured
 * terminal, a temporary folder).
 */
export interface CommandEnv {
  term: Terminal;
  /** The folder relative paths in arguments and defaults resolve against (default: process.cwd()). */
  cwd?: string;
}

/** The global options of every command that can reach AWS. */
export interface CloudOptions {
  stack: string;
  region?: string;
  profile?: string;
}

/** What a cloud command runs with: injected in tests, built from the process in the CLI. */
export interface CloudEnv extends CommandEnv {
  /** Created lazily: a command that never calls AWS never resolves credentials or a region. */
  clients: CloudClients;
  clock: Clock;
  stackName: string;
  region?: string;
}

/**
 * A path argument as the command uses it: unchanged when absolute or when env.cwd is the process's own
 * folder (so messages show the path as the user typed it), else resolved against env.cwd.
 */
export function resolveIn(env: CommandEnv, file: string): string {
  if (env.cwd === undefined || path.isAbsolute(file) || path.resolve(env.cwd) === process.cwd()) return file;
  return path.join(env.cwd, file);
}

/**
 * How the commander actions get their env: from the process in the CLI (processContext), from
 * injected clients and a captured terminal in tests (buildProgram's second argument).
 */
export interface CliContext {
  /** The env of a command that does not use AWS. */
  env(): CommandEnv;
  /** The env of a command from its --stack / --region / --profile. */
  cloudEnv(options: CloudOptions): CloudEnv;
}

export const processContext: CliContext = {
  env: () => ({ term: processTerminal(), cwd: process.cwd() }),
  // The cloud modules (and zod, which they use) are required here, when a cloud command runs, not when the
  // CLI starts: `--version` and the offline commands never load them.
  cloudEnv: (options) => ({
    clients: (require('../cloud/clients') as typeof import('../cloud/clients')).createClients({
      region: options.region,
      profile: options.profile,
    }),
    term: processTerminal(),
    cwd: process.cwd(),
    clock: (require('../cloud/instance') as typeof import('../cloud/instance')).realClock,
    stackName: options.stack,
    region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION,
  }),
};

/** The one builder of --stack / --region / --profile, shared by every command that can reach AWS. */
export function addCloudOptions(cmd: Command): Command {
  return cmd
    .option('--stack <name>', 'name of the deployed stack', DEFAULT_STACK_NAME)
    .option('--region <region>', 'AWS region of the stack (default: AWS_REGION or your profile)')
    .option('--profile <name>', 'AWS profile from ~/.aws/config (default: AWS_PROFILE or default chain)');
}
