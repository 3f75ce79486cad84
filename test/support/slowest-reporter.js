// Prints the ten slowest test files at the end of a jest run: wall time (jest's own measure, from the file's
// start to its end in its worker) and CPU time (recorded by test/support/cpu-environment.js: the worker's
// time for that file plus the child processes it ran). On a shared machine, CPU time is the figure to compare.
const { mkdtempSync, readdirSync, readFileSync, rmSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');

class SlowestReporter {
  constructor(globalConfig, options = {}) {
    this.rootDir = globalConfig.rootDir;
    this.count = options.count ?? 10;
    this.files = [];
    // Workers are started after the reporters and inherit this variable.
    this.cpuDir = mkdtempSync(path.join(os.tmpdir(), 'jest-cpu-'));
    process.env.BNN_JEST_CPU_DIR = this.cpuDir;
    // Also when the run is interrupted before onRunComplete.
    process.once('exit', () => rmSync(this.cpuDir, { recursive: true, force: true }));
  }

  onTestResult(_test, result) {
    const { start, end } = result.perfStats;
    this.files.push({ testPath: result.testFilePath, wallMs: end - start });
  }

  onRunComplete() {
    const cpu = new Map();
    try {
      for (const f of readdirSync(this.cpuDir)) {
        const r = JSON.parse(readFileSync(path.join(this.cpuDir, f), 'utf8'));
        cpu.set(r.testPath, r);
      }
      rmSync(this.cpuDir, { recursive: true, force: true });
    } catch {}
    if (this.files.length === 0) return;
    const rows = this.files
      .map((f) => ({ ...f, cpu: cpu.get(f.testPath) }))
      .sort(
        (a, b) =>
          (b.cpu ? b.cpu.ownCpuMs + b.cpu.childCpuMs : b.wallMs) -
          (a.cpu ? a.cpu.ownCpuMs + a.cpu.childCpuMs : a.wallMs),
      );
    const s = (ms) => `${(ms / 1000).toFixed(1)} s`.padStart(8);
    const totalCpu = rows.reduce((t, r) => t + (r.cpu ? r.cpu.ownCpuMs + r.cpu.childCpuMs : 0), 0);
    const lines = [
      '',
      `Slowest ${Math.min(this.count, rows.length)} of ${rows.length} test files by CPU time (all files: ${s(totalCpu).trim()} CPU; load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs):`,
      `${'CPU'.padStart(8)} ${'(jest'.padStart(8)}  + ${'children)'.padEnd(9)} ${'wall'.padStart(8)}  file`,
    ];
    for (const r of rows.slice(0, this.count)) {
      const c = r.cpu;
      lines.push(
        `${c ? s(c.ownCpuMs + c.childCpuMs) : '       ?'} ${c ? s(c.ownCpuMs) : '       ?'}  + ${c ? s(c.childCpuMs).trim().padEnd(9) : '?'.padEnd(9)} ${s(r.wallMs)}  ${path.relative(this.rootDir, r.testPath)}`,
      );
    }
    process.stderr.write(`${lines.join('\n')}\n`);
  }
}

module.exports = SlowestReporter;
