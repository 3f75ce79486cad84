/**
 * The deploy configuration exactly as `cdk synth|deploy` would see it: cdk.json "context", then
 * `-c key=value` overrides, validated by lib/config.ts. Preflight checks what a deploy would do.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type BnnPynqConfig, ConfigError, parseConfig } from '../config';

/** The project's cdk.json (next to package.json), which `npx cdk` reads from the project folder. */
const CDK_JSON = path.resolve(__dirname, '..', '..', 'cdk.json');

/** aws-cdk-lib's context key for the bootstrap qualifier, and its default. */
const QUALIFIER_CONTEXT = '@aws-cdk/core:bootstrapQualifier';
const DEFAULT_QUALIFIER = 'hnb659fds';

/**
 * The bootstrap version a deploy of this app needs: aws-cdk-lib's DefaultStackSynthesizer requires 6 for
 * deploying and 8 for its lookup role (context lookups); the template's CheckBootstrapVersion rule
 * refuses older ones.
 */
export const MIN_BOOTSTRAP_VERSION = 8;

interface DeployConfig {
  config: BnnPynqConfig;
  qualifier: string;
  /** The file the context came from (for messages). */
  source: string;
}

/** Parses `-c key=value` (repeatable, as cdk takes it); the value stays a string like cdk's. */
export function parseContextOption(
  value: string,
  previous: Record<string, string> = {},
): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new ConfigError(`-c ${value}: expected key=value, e.g. -c instanceType=g5.xlarge`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

export function readDeployConfig(
  overrides: Record<string, string> = {},
  file: string = CDK_JSON,
): DeployConfig {
  let context: Record<string, unknown> = {};
  if (existsSync(file)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`${file}: not valid JSON (${(err as Error).message}): fix the file`);
    }
    const ctx = (parsed as { context?: unknown }).context;
    if (ctx !== undefined && (typeof ctx !== 'object' || ctx === null || Array.isArray(ctx))) {
      throw new ConfigError(`${file}: "context" must be an object`);
    }
    context = (ctx as Record<string, unknown>) ?? {};
  }
  const merged = { ...context, ...overrides };
  const qualifier = merged[QUALIFIER_CONTEXT];
  return {
    config: parseConfig(merged),
    qualifier: typeof qualifier === 'string' && qualifier ? qualifier : DEFAULT_QUALIFIER,
    source: file,
  };
}
