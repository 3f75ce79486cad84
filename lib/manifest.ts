import { createHash } from 'node:crypto';

/**
 * `manifest.json` of a param folder (published or per run): every file with its SHA-256 and size.
 * It is written last, so a reader trusts a folder only when every file matches its manifest
 * (`aws s3 sync` can never hand out a half-written folder unnoticed).
 */
export interface ManifestFile {
  /** Path relative to the folder that holds manifest.json, with `/` separators, e.g. `0-0-weights.bin`. */
  path: string;
  sha256: string;
  size: number;
}

export interface ParamManifest {
  schema: 'bnn-pynq-params/1';
  runId: string | null;
  dataset: string;
  network: string;
  /** Board-rule accuracy in percent on the dataset's test set, as verified before publishing. */
  accuracy: number | null;
  createdAt: string;
  files: ManifestFile[];
}

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export function buildManifest(
  files: ReadonlyMap<string, Uint8Array>,
  meta: Omit<ParamManifest, 'schema' | 'files' | 'createdAt'> & { createdAt?: string },
): ParamManifest {
  const entries = [...files.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, bytes]) => ({ path, sha256: sha256Hex(bytes), size: bytes.length }));
  return {
    schema: 'bnn-pynq-params/1',
    runId: meta.runId,
    dataset: meta.dataset,
    network: meta.network,
    accuracy: meta.accuracy,
    createdAt: meta.createdAt ?? new Date().toISOString(),
    files: entries,
  };
}

/** Problems found when checking files against a manifest (empty when the folder matches exactly). */
export function checkAgainstManifest(
  manifest: ParamManifest,
  files: ReadonlyMap<string, Uint8Array>,
): string[] {
  const problems: string[] = [];
  const listed = new Set(manifest.files.map((f) => f.path));
  for (const f of manifest.files) {
    const bytes = files.get(f.path);
    if (!bytes) problems.push(`${f.path}: missing`);
    else if (bytes.length !== f.size)
      problems.push(`${f.path}: ${bytes.length} bytes, manifest says ${f.size}`);
    else if (sha256Hex(bytes) !== f.sha256) problems.push(`${f.path}: SHA-256 differs from the manifest`);
  }
  for (const name of files.keys()) if (!listed.has(name)) problems.push(`${name}: not in the manifest`);
  return problems;
}

/** Parses and shape-checks a manifest.json; throws an Error naming `where` on anything unexpected. */
export function parseManifest(text: string, where: string): ParamManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${where}: manifest.json is not valid JSON`);
  }
  const m = value as Partial<ParamManifest>;
  if (m?.schema !== 'bnn-pynq-params/1' || !Array.isArray(m.files)) {
    throw new Error(`${where}: not a bnn-pynq param manifest (schema bnn-pynq-params/1 expected)`);
  }
  for (const f of m.files) {
    if (typeof f?.path !== 'string' || typeof f.sha256 !== 'string' || typeof f.size !== 'number') {
      throw new Error(`${where}: a file entry lacks path, sha256 or size`);
    }
    if (f.path.startsWith('/') || f.path.split('/').includes('..')) {
      throw new Error(`${where}: file path ${JSON.stringify(f.path)} leaves the folder`);
    }
  }
  return m as ParamManifest;
}
