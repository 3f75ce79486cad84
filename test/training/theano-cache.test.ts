import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuEnv, PYTHON } from './trainer';

// Theano's compile cache is shared by every training on a host (and by the real-training test files running at once).
// Theano 1.0.5 opens it without the compile lock and can read a key.pkl that another process is rewriting: the
// EOFError makes it delete that module as "broken" while the other process has it loaded, whose next compile fails
// (the CI failure: "A module that was loaded by this ModuleCache can no longer be read", then AssertionError in
// add_key). bnn_train/theano_cache.py fixes both halves; these tests reproduce the race on a throwaway cache.
// `cxx=` keeps Theano from compiling anything: the cache is only read and written, so each process takes ~1 s.

let env: NodeJS.ProcessEnv;
let cache: string;
beforeAll(() => {
  const cpu = cpuEnv();
  cache = fs.mkdtempSync(path.join(os.tmpdir(), 'theano-cache-'));
  // Theano: the last base_compiledir wins. compile.wait=1: a process waiting for the lock retries every 1-2 s.
  env = { ...cpu, THEANO_FLAGS: `${cpu.THEANO_FLAGS},cxx=,base_compiledir=${cache},compile.wait=1` };
});
afterAll(() => fs.rmSync(cache, { recursive: true, force: true }));

function python(script: string, args: string[] = []) {
  const r = spawnSync(PYTHON, ['-W', 'ignore', '-c', script, ...args], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python exited ${r.status}:\n${r.stderr}`);
  return r.stdout.trim();
}

/** A module folder as Theano leaves it after a compile: the library and its key.pkl (one versioned key). */
function cachedModule(): string {
  return python(`
import os, tempfile, theano
from theano.gof import cmodule
os.makedirs(theano.config.compiledir, exist_ok=True)
folder = tempfile.mkdtemp(prefix="tmp", dir=theano.config.compiledir)
entry = os.path.join(folder, "m0123.so")
open(entry, "wb").close()
cmodule.KeyData(keys={((1,), "signature")}, module_hash="h0123", key_pkl=os.path.join(folder, "key.pkl"), entry=entry).save_pkl()
print(folder)`);
}

/** Resolves once the process has printed `line` on stdout; rejects if it exits first (with its stderr). */
function started(child: ChildProcessWithoutNullStreams, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes(line)) resolve();
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('close', (code) => reject(new Error(`exited ${code} before "${line}":\n${err}`)));
  });
}

const exited = (child: ChildProcessWithoutNullStreams) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on('close', resolve);
  });

/**
 * Process A holds the compile lock with key.pkl truncated (the moment inside Theano's save_pkl, between open(, "wb")
 * and the pickle) while process B opens the cache; A finishes writing once B is waiting for the lock (Theano logs
 * that: B waits at the start of its refresh with the fix, or before deleting what it read without it). No timing
 * assumption, so a loaded machine gives the same answer. `opener` is B's import line. Returns whether the module
 * folder survived, and B's exit code.
 */
async function openWhileRewritten(opener: string): Promise<{ survived: boolean; openerExit: number | null }> {
  const folder = cachedModule();
  const keyPkl = path.join(folder, 'key.pkl');
  const writer = spawn(PYTHON, ['-W', 'ignore', '-c', WRITER, keyPkl], { env });
  await started(writer, 'truncated');
  const reader = spawn(PYTHON, ['-W', 'ignore', '-c', `${opener}\n${READER}`], { env });
  await started(reader, 'Waiting for existing lock');
  writer.stdin.end('\n');
  const [writerExit, openerExit] = await Promise.all([exited(writer), exited(reader)]);
  expect(writerExit).toBe(0);
  return { survived: fs.existsSync(keyPkl) && fs.existsSync(path.join(folder, 'm0123.so')), openerExit };
}

const WRITER = `
import sys, theano
from theano.gof import compilelock
compilelock.get_lock()
key_pkl = sys.argv[1]
data = open(key_pkl, "rb").read()
open(key_pkl, "wb").close()
print("truncated", flush=True)
sys.stdin.readline()
with open(key_pkl, "wb") as f:
    f.write(data)
compilelock.release_lock()`;

const READER = `
import logging, sys
from theano.gof import cc
waiting = logging.getLogger("theano.gof.compilelock")  # "Waiting for existing lock by process ..." (INFO)
waiting.setLevel(logging.INFO)
waiting.addHandler(logging.StreamHandler(sys.stdout))
cache = cc.get_module_cache()
assert "h0123" in cache.module_hash_to_key_data, "the module is not in the cache"`;

test('without the fix, Theano 1.0.5 deletes a module whose key.pkl another process is writing', async () => {
  // The race itself, so that the next test cannot pass by never reaching it.
  const r = await openWhileRewritten('import theano');
  expect(r.survived).toBe(false);
  expect(r.openerExit).not.toBe(0);
});

test("with bnn_train's model imported, opening the cache waits for the writer and keeps the module", async () => {
  const r = await openWhileRewritten('import bnn_train.model');
  expect(r).toEqual({ survived: true, openerExit: 0 });
});

test('save_pkl replaces key.pkl in one step: a reader during the write sees the previous file, whole', () => {
  // Mid-pickle, each version reads key.pkl as another process would: Theano's own finds it empty.
  const readDuringWrite = (setup: string) =>
    JSON.parse(
      python(`
import json, os, pickle, tempfile, theano
from theano.gof import cmodule
${setup}
folder = tempfile.mkdtemp()
entry = os.path.join(folder, "m.so")
data = cmodule.KeyData(keys={((1,), "a")}, module_hash="h", key_pkl=os.path.join(folder, "key.pkl"), entry=entry)
data.save_pkl()
seen = []
dump = pickle.dump
def observed_dump(*args, **kwargs):
    try:
        with open(data.key_pkl, "rb") as f:
            seen.append(sorted(k[1] for k in pickle.load(f).keys))
    except EOFError:
        seen.append("EOFError")
    dump(*args, **kwargs)
pickle.dump = observed_dump
data.add_key(((1,), "b"))
pickle.dump = dump
with open(data.key_pkl, "rb") as f:
    after = sorted(k[1] for k in pickle.load(f).keys)
print(json.dumps({"during": seen, "after": after, "files": sorted(os.listdir(folder))}))`),
    );
  expect(readDuringWrite('')).toEqual({ during: ['EOFError'], after: ['a', 'b'], files: ['key.pkl'] });
  expect(readDuringWrite('import bnn_train.model')).toEqual({
    during: [['a']],
    after: ['a', 'b'],
    files: ['key.pkl'],
  });
});
