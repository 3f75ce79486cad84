import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * A stand-in PYNQ board: Debian's real OpenSSH server on a loopback port, with a throw-away host
 * key and client key, and a stand-in `bnn` package (test/board/support/standin-site) installed in a
 * temp "site-packages" on PYTHONPATH (sshd SetEnv). The test talks to it through the real `ssh`
 * client with a temp ssh config (`--ssh-config`), exactly as a user's ssh talks to a board.
 */
export interface StandInBoard {
  /** ssh config alias of the board (direct). */
  host: string;
  /** Aliases: the board with a key it does not accept; an address where nothing listens. */
  strangerHost: string;
  downHost: string;
  /** ssh config alias of the same board behind a slow link (ProxyCommand relay, ~rate bytes/s upstream). */
  slowHost: string;
  sshConfig: string;
  port: number;
  /** The folder the stand-in package reports (`os.path.dirname(bnn.__file__)`). */
  bnnDir: string;
  paramsDir: string;
  dir: string;
  /** Board-side login options the CLI needs: --ssh-config, --user root, --python /usr/bin/python3. */
  cliArgs: string[];
  /** SIGKILLs the sshd listener and every sshd session it forked (not the commands they run). */
  killSshd(): void;
  stop(): Promise<void>;
}

export interface StandInOptions {
  /** Install the stand-in bnn package (default true). */
  bnn?: boolean;
  /**
   * Run every session as the unprivileged user nobody (sshd ForceCommand + setpriv), like PYNQ's
   * xilinx user facing the root-owned package folder. We run as root here and root ignores file
   * permissions, so this is how a test gets a board where the params folder is really not writable.
   */
  unprivileged?: boolean;
  /** The overlays whose bitstream the board has for its platform (default: all five). */
  bitstreams?: string[];
  /** Bytes per second of the slow link (slowHost). */
  slowRate?: number;
}

const SITE = path.join(__dirname, 'standin-site');
const SLOW_LINK = path.join(__dirname, 'slow-link.py');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Waits until sshd answers with its banner. */
async function waitForBanner(port: number, sshd: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (sshd.exitCode !== null) throw new Error(`sshd exited: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('data', (d) => {
        s.destroy();
        resolve(d.toString().startsWith('SSH-2.0'));
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not start: ${log()}`);
}

/** Child pids of `pid` (from /proc), recursively. */
export function descendants(pid: number): Array<{ pid: number; comm: string }> {
  const all: Array<{ pid: number; ppid: number; comm: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      all.push({ pid: Number(entry), ppid, comm });
    } catch {
      // the process went away while we looked
    }
  }
  const out: Array<{ pid: number; comm: string }> = [];
  const walk = (p: number) => {
    for (const c of all.filter((x) => x.ppid === p)) {
      out.push({ pid: c.pid, comm: c.comm });
      walk(c.pid);
    }
  };
  walk(pid);
  return out;
}

export async function startStandInBoard(options: StandInOptions = {}): Promise<StandInBoard> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bnn-pynq-board-'));
  chmodSync(dir, 0o755); // the unprivileged board user must reach the package
  const keygen = (file: string) =>
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bnn-pynq-test', '-f', file]);
  keygen(path.join(dir, 'host_key'));
  keygen(path.join(dir, 'client_key'));
  keygen(path.join(dir, 'stranger_key')); // a key the board does not know
  writeFileSync(path.join(dir, 'authorized_keys'), readFileSync(path.join(dir, 'client_key.pub')));

  const site = path.join(dir, 'site');
  const bnnDir = path.join(site, 'bnn');
  mkdirSync(site, { mode: 0o755 });
  cpSync(path.join(SITE, 'pynq'), path.join(site, 'pynq'), { recursive: true });
  if (options.bnn !== false) {
    cpSync(path.join(SITE, 'bnn'), bnnDir, { recursive: true });
    mkdirSync(path.join(bnnDir, 'params'), { mode: 0o755 });
    // Bitstreams and hardware-runtime libraries where BNN-PYNQ installs them (bitstreams/<platform>/
    // <network>-<platform>.bit, libraries/<platform>/python_hw-<network>-<platform>.so); the stand-in never
    // loads them, so a few bytes each. One for another platform, which check must not list.
    for (const [platform, networks] of [
      ['pynqZ1-Z2', options.bitstreams ?? ['cnvW1A1', 'cnvW1A2', 'cnvW2A2', 'lfcW1A1', 'lfcW1A2']],
      ['ultra96', ['lfcW1A1']],
    ] as const) {
      mkdirSync(path.join(bnnDir, 'bitstreams', platform), { recursive: true });
      mkdirSync(path.join(bnnDir, 'libraries', platform), { recursive: true });
      for (const n of networks) {
        writeFileSync(path.join(bnnDir, 'bitstreams', platform, `${n}-${platform}.bit`), 'stand-in');
        writeFileSync(path.join(bnnDir, 'libraries', platform, `python_hw-${n}-${platform}.so`), 'stand-in');
      }
    }
  }
  execFileSync('chmod', ['-R', 'a+rX', site]);

  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege-separation dir
  const port = await freePort();
  const forceCommand = options.unprivileged
    ? // SSH_ORIGINAL_COMMAND is the CLI's command line; run it as nobody (uid 65534).
      'ForceCommand /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n'
    : '';
  const sshdConfig = path.join(dir, 'sshd_config');
  writeFileSync(
    sshdConfig,
    `Port ${port}
ListenAddress 127.0.0.1
HostKey ${dir}/host_key
PidFile none
AuthorizedKeysFile ${dir}/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
SetEnv PYTHONPATH=${site} BOARD=Pynq-Z1
LogLevel ERROR
${forceCommand}`,
  );
  let log = '';
  const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', sshdConfig], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  sshd.stderr?.on('data', (d) => {
    log += d;
  });
  await waitForBanner(port, sshd, () => log);

  const hostKey = readFileSync(path.join(dir, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  writeFileSync(path.join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostKey}\n`);
  const common = `  HostName 127.0.0.1
  Port ${port}
  IdentityFile ${dir}/client_key
  IdentitiesOnly yes
  UserKnownHostsFile ${dir}/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  HostKeyAlias [127.0.0.1]:${port}
  BatchMode yes
  LogLevel ERROR
`;
  const sshConfig = path.join(dir, 'ssh_config');
  const closedPort = await freePort(); // nothing listens there
  writeFileSync(
    sshConfig,
    `Host board
${common}
Host board-slow
${common}  ProxyCommand /usr/bin/python3 ${SLOW_LINK} 127.0.0.1 ${port} ${options.slowRate ?? 100_000}
Host board-stranger
${common.replace(`${dir}/client_key`, `${dir}/stranger_key`)}
Host board-down
${common.replace(`Port ${port}`, `Port ${closedPort}`)}
`,
  );

  const killSshd = () => {
    const pids = [
      sshd.pid as number,
      ...descendants(sshd.pid as number)
        .filter((p) => p.comm === 'sshd')
        .map((p) => p.pid),
    ];
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };

  return {
    host: 'board',
    slowHost: 'board-slow',
    strangerHost: 'board-stranger',
    downHost: 'board-down',
    sshConfig,
    port,
    bnnDir,
    paramsDir: path.join(bnnDir, 'params'),
    dir,
    cliArgs: ['--ssh-config', sshConfig, '--user', 'root', '--python', '/usr/bin/python3'],
    killSshd,
    async stop() {
      killSshd();
      if (sshd.exitCode === null && sshd.signalCode === null) await new Promise((r) => sshd.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
