import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UserError } from '../../errors';
import {
  type CheckResult,
  describeRequest,
  type PreflightReport,
  runPreflight,
} from '../../preflight/checks';
import { parseContextOption, readDeployConfig } from '../../preflight/project-config';
import { fileQuotaRequest, planQuotaRequest } from '../../preflight/quota-request';
import { addCloudOptions, type CliContext, type CloudEnv, type CloudOptions } from '../env';
import { startSpinner } from '../ui/spinner';
import { paint, type Terminal } from '../ui/terminal';

export interface PreflightOptions {
  /** `-c key=value` overrides of cdk.json's context, as `cdk deploy -c` takes them. */
  context?: Record<string, string>;
  /** --stack given explicitly (else the config's stackName). */
  stackOverride?: string;
  requestQuota?: boolean;
  yes?: boolean;
}

export interface PreflightEnv extends CloudEnv {
  /** Asks a yes/no question on the terminal; undefined when stdin is not interactive. */
  confirm?: (question: string) => Promise<boolean>;
  /** cdk.json to read (tests); default the project's. */
  cdkJson?: string;
}

const MARK: Record<CheckResult['status'], { mark: string; style: 'green' | 'red' | 'yellow' | 'dim' }> = {
  ok: { mark: '✔', style: 'green' },
  fail: { mark: '✘', style: 'red' },
  warn: { mark: '!', style: 'yellow' },
  unknown: { mark: '?', style: 'yellow' },
  skipped: { mark: '-', style: 'dim' },
};

/** One line per check: mark, label, what was found and (after a colon) what to do. */
export function formatCheck(term: Pick<Terminal, 'color'>, c: CheckResult): string {
  const m = MARK[c.status];
  return `${paint(term, m.style, m.mark)} ${c.label.padEnd(19)}${c.text}\n`;
}

/** The bootstrap template version the installed aws-cdk CLI deploys (its bootstrap-template.yaml), if found. */
function installedBootstrapVersion(): number | undefined {
  try {
    const dir = require.resolve('aws-cdk/package.json').replace(/package\.json$/, '');
    const yaml = readFileSync(`${dir}lib/api/bootstrap/bootstrap-template.yaml`, 'utf8');
    const m = /CdkBootstrapVersion:[\s\S]*?Value:\s*'(\d+)'/.exec(yaml);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs the checks and prints their lines; returns the report (status uses it too). */
export async function printPreflight(env: PreflightEnv, options: PreflightOptions): Promise<PreflightReport> {
  const { term } = env;
  const { config, qualifier } = readDeployConfig(
    { ...options.context, ...(options.stackOverride ? { stackName: options.stackOverride } : {}) },
    env.cdkJson,
  );
  const spinner = term.live
    ? startSpinner(term, `checking what a deploy of ${config.stackName} needs`)
    : undefined;
  const report = await runPreflight(env.clients, {
    config,
    qualifier,
    latestBootstrapVersion: installedBootstrapVersion(),
    now: env.clock.now,
  }).finally(() => spinner?.stop());
  for (const c of report.checks) term.out(formatCheck(term, c));
  return report;
}

/** `bnn-pynq preflight [--request-quota [--yes]]`. Exit 0 when nothing blocks a deploy, 1 otherwise. */
export async function runPreflightCommand(env: PreflightEnv, options: PreflightOptions): Promise<void> {
  const { term } = env;
  const report = await printPreflight(env, options);
  const where = report.region ?? 'your region';
  const seconds = `${(report.elapsedMs / 1000).toFixed(1)} s`;
  const contextFlags = Object.entries(options.context ?? {})
    .map(([k, v]) => ` -c ${k}=${v}`)
    .join('');

  if (options.requestQuota) await requestQuota(env, report, options);

  if (report.blockers > 0) {
    throw new UserError(
      `${report.blockers} check${report.blockers === 1 ? '' : 's'} block${report.blockers === 1 ? 's' : ''} a deploy to ${where} (checked in ${seconds}): fix the ✘ line${report.blockers === 1 ? '' : 's'} above, then run \`bnn-pynq preflight\` again`,
      { exitCode: 1 },
    );
  }
  term.out(
    `nothing blocks a deploy to ${where} (checked in ${seconds}): \`npx cdk deploy${contextFlags}\`\n`,
  );
}

async function requestQuota(
  env: PreflightEnv,
  report: PreflightReport,
  options: PreflightOptions,
): Promise<void> {
  const { term } = env;
  const plan = planQuotaRequest(report.quota);
  if (plan.action !== 'request' || !report.quota) {
    term.out(`${plan.action === 'request' ? '' : plan.why}\n`);
    return;
  }
  term.out(`${plan.summary}\n`);
  if (!options.yes) {
    if (!env.confirm) {
      throw new UserError(
        'not filing the quota request: no terminal to confirm on; re-run with `--request-quota --yes` to file it',
        { exitCode: 2 },
      );
    }
    if (!(await env.confirm('File this request? [y/N] '))) {
      term.out('not filed\n');
      return;
    }
  }
  const filed = await fileQuotaRequest(env.clients, report.quota, plan.desired);
  term.out(
    `filed: ${describeRequest(filed)}; \`bnn-pynq preflight\` shows its status until AWS answers (usually within hours)\n`,
  );
}

/** A yes/no question on the controlling terminal, or undefined when stdin is not one. */
function terminalConfirm(): PreflightEnv['confirm'] {
  if (!process.stdin.isTTY) return undefined;
  return async (question) => {
    const readline = await import('node:readline/promises');
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
    try {
      return /^y(es)?$/i.test((await rl.question(question)).trim());
    } finally {
      rl.close();
    }
  };
}

export function register(program: Command, ctx: CliContext): void {
  addCloudOptions(
    program
      .command('preflight')
      .description(
        'Check, in seconds, everything a first `cdk deploy` needs: credentials, region, CDK bootstrap, the instance type and its AZs, the vCPU quota, the AMI, permissions',
      )
      .option(
        '-c, --context <key=value>',
        'override a cdk.json context value, as `cdk deploy -c` does (repeatable)',
        (value: string, previous: Record<string, string>) => parseContextOption(value, previous),
        {} as Record<string, string>,
      )
      .option('--request-quota', 'file the EC2 vCPU quota increase the instance type needs (shows it first)')
      .option('--yes', 'with --request-quota: file without asking'),
  ).action(async (options: CloudOptions & PreflightOptions, cmd: Command) => {
    const stackOverride = cmd.getOptionValueSource('stack') === 'default' ? undefined : options.stack;
    await runPreflightCommand(
      { ...ctx.cloudEnv(options), confirm: terminalConfirm() },
      { ...options, stackOverride },
    );
  });
}
