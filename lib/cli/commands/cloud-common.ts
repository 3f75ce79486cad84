import { type Command, InvalidArgumentError } from 'commander';
import { type CloudClients, createClients } from '../../cloud/clients';
import { type Clock, realClock } from '../../cloud/instance';
import { DEFAULT_STACK_NAME } from '../../layout';
import { processTerminal, type Terminal } from '../ui/terminal';

/** The global options of every cloud command. */
export interface CloudOptions {
  stack: string;
  region?: string;
  profile?: string;
}

/** What a cloud command runs with: injected in tests, built from the process in the CLI. */
export interface CloudEnv {
  clients: CloudClients;
  term: Terminal;
  clock: Clock;
  stackName: string;
  region?: string;
}

export function addCloudOptions(cmd: Command): Command {
  return cmd
    .option('--stack <name>', 'name of the deployed stack', DEFAULT_STACK_NAME)
    .option('--region <region>', 'AWS region of the stack (default: AWS_REGION or your profile)')
    .option('--profile <name>', 'AWS profile from ~/.aws/config (default: AWS_PROFILE or default chain)');
}

export function cloudEnvFromOptions(options: CloudOptions): CloudEnv {
  const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  return {
    clients: createClients({ region: options.region, profile: options.profile }),
    term: processTerminal(),
    clock: realClock,
    stackName: options.stack,
    region,
  };
}

/** Parses a positive integer option, with a message naming the option. */
export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) {
      throw new InvalidArgumentError(`${name} must be a positive whole number, got "${value}"`);
    }
    return n;
  };
}
