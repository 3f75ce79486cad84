// The test environment of every jest file: Node's, plus a record of the CPU time the file cost (this worker's
// own user + system time, and that of the child processes it spawned and reaped: the CLI, bash, python), from
// before the file's first hook to after its last. test/support/slowest-reporter.js prints the slowest files.
const { mkdirSync, readFileSync, writeFileSync } = require('node:fs');
const path = require('node:path');
const { TestEnvironment } = require('jest-environment-node');

/** CPU ms of this process and of its reaped children (cutime + cstime in /proc/self/stat, USER_HZ = 100). */
function cpuMs() {
  const own = process.cpuUsage();
  let children = 0;
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    children = (Number(fields[13]) + Number(fields[14])) * 10;
  } catch {}
  return { own: (own.user + own.system) / 1000, children };
}

class CpuTimedEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    this.testPath = context.testPath;
  }

  async setup() {
    this.started = cpuMs();
    await super.setup();
  }

  async teardown() {
    await super.teardown();
    const dir = process.env.BNN_JEST_CPU_DIR;
    if (!dir || !this.started) return;
    const now = cpuMs();
    try {
      mkdirSync(dir, { recursive: true });
      const name = `${path.basename(this.testPath)}-${process.pid}-${Date.now()}.json`;
      writeFileSync(
        path.join(dir, name),
        JSON.stringify({
          testPath: this.testPath,
          ownCpuMs: now.own - this.started.own,
          childCpuMs: now.children - this.started.children,
        }),
      );
    } catch {}
  }
}

module.exports = CpuTimedEnvironment;
