import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors';

/**
 * The board, as the user's own OpenSSH client reaches it. We only ever run `ssh` (never a library
 * SSH stack), so ~/.ssh/config, agents, ProxyJump and known_hosts behave exactly as in a terminal.
 */
export interface BoardTarget {
  /** Host name, IP or ~/.ssh/config alias; `user@host` is accepted too. */
  host: string;
  /** Login user; when absent: the user ~/.ssh/config names for the host, else `xilinx` (PYNQ's default). */
  user?: string;
  port?: number;
  identity?: string;
  /** An ssh config file instead of ~/.ssh/config (`ssh -F`). */
  configFile?: string;
  /** Extra `-o Key=Value` options, passed first so they win over our defaults. */
  options?: string[];
  /** Run the board-side steps with `sudo -n` (the PYNQ package folder is root-owned). */
  sudo?: boolean;
  /** The board's Python (PYNQ >= 2.7 keeps the package in a venv: /usr/local/share/pynq-venv/bin/python3). */
  python?: string;
}

export const DEFAULT_BOARD_USER = 'xilinx';

/** Quotes a word for the remote POSIX shell. */
export const shellQuote = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`;

/** Our defaults: fail fast on a dead address, notice a dropped link within ~45 s. */
const DEFAULT_OPTIONS = ['ConnectTimeout=10', 'ServerAliveInterval=15', 'ServerAliveCountMax=3'];

function baseArgs(target: BoardTarget): string[] {
  const args: string[] = [];
  if (target.configFile) args.push('-F', target.configFile);
  for (const o of target.options ?? []) args.push('-o', o);
  for (const o of DEFAULT_OPTIONS) args.push('-o', o);
  if (target.port !== undefined) args.push('-p', String(target.port));
  if (target.identity) args.push('-i', target.identity);
  return args;
}

function splitHost(host: string): { user?: string; host: string } {
  const at = host.lastIndexOf('@');
  return at > 0 ? { user: host.slice(0, at), host: host.slice(at + 1) } : { host };
}

/** What `ssh -G` says the effective login user is (no connection is made). */
function configuredUser(args: string[], host: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = spawn('ssh', [...args, '-G', host], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('error', () => resolve(undefined));
    child.on('close', () => resolve(/^user (.+)$/m.exec(out)?.[1]));
  });
}

/**
 * The login user: --user, else `user@` in the host, else a User that ~/.ssh/config sets for the host,
 * else `xilinx`. `ssh -G` with and without the config tells whether the config sets one.
 */
export async function resolveLogin(target: BoardTarget): Promise<{ user: string; host: string }> {
  const { user: inHost, host } = splitHost(target.host);
  if (target.user) return { user: target.user, host };
  if (inHost) return { user: inHost, host };
  const args = baseArgs(target);
  const [withConfig, withoutConfig] = await Promise.all([
    configuredUser(args, host),
    configuredUser(
      [...args.filter((_, i) => args[i - 1] !== '-F' && args[i] !== '-F'), '-F', '/dev/null'],
      host,
    ),
  ]);
  if (withConfig && withoutConfig && withConfig !== withoutConfig) return { user: withConfig, host };
  return { user: DEFAULT_BOARD_USER, host };
}

/** The helper script sent to the board on every call (read once). */
let helperSource: Buffer | undefined;
const helper = (): Buffer => {
  helperSource ??= readFileSync(path.join(__dirname, 'remote', 'board_helper.py'));
  return helperSource;
};

/** Reads the script (length-prefixed) from stdin and runs it; the rest of stdin is its request + payload. */
const BOOTSTRAP =
  'import sys;b=sys.stdin.buffer;exec(compile(b.read(int(b.readline())),"bnn-pynq-board-helper","exec"))';

/** The remote shell command line: `[sudo -n env ...] python3 -c <bootstrap> <action>`. */
export function remoteCommand(target: BoardTarget, action: string): string {
  const python = shellQuote(target.python ?? 'python3');
  const run = `${python} -c ${shellQuote(BOOTSTRAP)} ${shellQuote(action)}`;
  if (!target.sudo) return `exec ${run}`;
  // sudo resets the environment; the bnn package needs BOARD (and PYTHONPATH/XILINX_XRT where set).
  const keep = ['BOARD', 'PYTHONPATH', 'XILINX_XRT'].map((v) => `\${${v}+"${v}=$${v}"}`).join(' ');
  return `exec sudo -n env ${keep} ${run}`;
}

export interface RemoteResult {
  answer: Record<string, unknown> & { ok: boolean; code?: string; message?: string };
  stderr: string;
}

const MARK = '@@bnn-pynq-result@@';

/** Where the board is, for messages: `xilinx@pynq:22`. */
export const describeTarget = (t: { user: string; host: string; port?: number }): string =>
  `${t.user}@${t.host}${t.port ? `:${t.port}` : ''}`;

/**
 * Runs the helper's `action` on the board in one ssh session: script, one JSON request line, then the
 * payload chunks, all on stdin. Returns the helper's answer; throws a UserError with the fix for any
 * ssh-level failure.
 */
export async function runHelper(
  target: BoardTarget,
  action: string,
  request: object,
  payload: Iterable<Uint8Array> = [],
): Promise<RemoteResult> {
  const login = await resolveLogin(target);
  const where = describeTarget({ ...login, port: target.port });
  const args = [...baseArgs(target), '-l', login.user, '--', login.host, remoteCommand(target, action)];
  const child = spawn('ssh', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new UserError(
              'ssh: command not found; install the OpenSSH client (Debian/Ubuntu: apt-get install openssh-client)',
            )
          : err,
      ),
    );
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : -1)));
  });
  // A dead connection makes stdin writes fail with EPIPE; the exit code and stderr tell the story.
  child.stdin.on('error', () => {});
  const script = helper();
  await writeAll(child.stdin, Buffer.from(`${script.length}\n`));
  await writeAll(child.stdin, script);
  await writeAll(child.stdin, Buffer.from(`${JSON.stringify(request)}\n`));
  for (const chunk of payload) {
    if (child.stdin.destroyed || child.exitCode !== null) break;
    await writeAll(child.stdin, chunk);
  }
  child.stdin.end();
  const code = await exited;

  const line = stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith(`${MARK} `));
  if (line) {
    const answer = JSON.parse(line.slice(MARK.length + 1)) as RemoteResult['answer'];
    return { answer, stderr };
  }
  throw sshFailure(code, stderr, where, target);
}

function writeAll(stream: NodeJS.WritableStream & { destroyed?: boolean }, chunk: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed) return resolve();
    const ok = stream.write(chunk, () => resolve());
    if (!ok) stream.once('drain', () => resolve());
  });
}

/** The last meaningful line ssh (or the remote shell) printed. */
const lastLine = (stderr: string): string =>
  stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('Warning: Permanently added'))
    .at(-1) ?? '';

/**
 * What OpenSSH prints (then exits 255 without connecting) for a bad command-line option or config file
 * (OpenSSH 9.x: `command-line line 0: Bad configuration option: foo`, `Bad port 'abc'`,
 * `Can't open user config file ...`, `unknown option -- Z` + usage, `<file>: line 3: Bad configuration
 * option: foo`, `<file>: terminating, 1 bad configuration options`).
 */
const SSH_OPTION_ERRORS: readonly RegExp[] = [
  /^command-line:? line \d+: .*$/m,
  /^.*: line \d+: Bad configuration option: .*$/m,
  /^.*terminating, \d+ bad configuration options?$/m,
  /^Bad port '.*'$/m,
  /^Can't open user config file .*$/m,
  /^unknown option -- .*$/m,
  /^ssh: illegal option -- .*$/m,
  /^option requires an argument -- .*$/m,
  /^usage: ssh .*$/m,
  /^.*(?:no argument after keyword|Unsupported option|invalid time value|unsupported option).*$/im,
];

/** One line with the fix for each way an ssh session fails before the helper answers. */
export function sshFailure(code: number, stderr: string, where: string, target: BoardTarget): UserError {
  const said = lastLine(stderr);
  const host = splitHost(target.host).host;
  // ssh stops before connecting when an option is wrong (exit 255, like a dropped link): say which one.
  const optionError = SSH_OPTION_ERRORS.map((re) => re.exec(stderr)?.[0]).find((m) => m !== undefined);
  if (code === 255 && optionError)
    return new UserError(
      `ssh refused its options before connecting to ${where} (${optionError.trim()}); check --ssh-option, --port, --identity and --ssh-config (and the Host entry in your ssh config)`,
    );
  if (/Could not resolve hostname/i.test(stderr))
    return new UserError(
      `board ${where} is unreachable: ssh cannot resolve the name ${host}; use the board's IP address (PYNQ's static default is 192.168.2.99) or add a Host entry to ~/.ssh/config`,
    );
  if (
    /Connection refused|timed out|No route to host|Network is unreachable/i.test(stderr) &&
    !/Permission denied/.test(stderr)
  )
    return new UserError(
      `board ${where} is unreachable (${said}); check the board is powered and on the network (ping ${host}), and the address and --port`,
    );
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i.test(stderr))
    return new UserError(
      `board ${where}: host key verification failed; if the board was re-flashed its key changed: run \`ssh-keygen -R ${host}\`, then \`ssh ${where.split(':')[0]}\` once to accept the new key`,
    );
  if (/Permission denied|Too many authentication failures|Authentication failed/i.test(stderr))
    return new UserError(
      `board ${where} refused the login (${said}); check --user (PYNQ's is xilinx), install your key with \`ssh-copy-id ${where.split(':')[0]}\`, or pass --identity <key>`,
    );
  if (/sudo: a (terminal|password) is required|is not in the sudoers file|may not run sudo/i.test(stderr))
    return new UserError(
      `board ${where}: \`sudo -n\` was refused (${said}); --sudo needs passwordless sudo for that user (on the board: echo '${where.split('@')[0]} ALL=(ALL) NOPASSWD: ALL' | sudo tee /etc/sudoers.d/bnn-pynq), or make the params folder writable instead`,
    );
  if (/sudo: .*command not found|sudo: not found/i.test(stderr))
    return new UserError(
      `board ${where} has no sudo; run without --sudo as a user that can write the params folder`,
    );
  if (code === 127 || /python3?: (command )?not found|No such file or directory/i.test(said))
    return new UserError(
      `board ${where} has no ${target.python ?? 'python3'} on the PATH of a non-interactive ssh session (${said}); pass --python <path> (PYNQ 2.7+: /usr/local/share/pynq-venv/bin/python3)`,
    );
  if (
    code === 255 ||
    /Broken pipe|Connection reset|closed by remote host|Connection to .* closed/i.test(stderr)
  )
    return new UserError(
      `the connection to board ${where} dropped (${said || `ssh exit ${code}`}); check the link and run the command again (an interrupted upload never replaces the live set; its temporary folder is removed at once, or by the next push)`,
      { exitCode: 4 },
    );
  return new UserError(`the board helper on ${where} failed (exit ${code}): ${said || 'no output'}`);
}
