// Writes a param folder with lib/safe-output.ts and sends itself `process.argv[3]` (a signal) after the
// `process.argv[4]`-th file: the write is interrupted at a known point, whatever the machine's speed.

import { PARAM_FOLDER_KIND } from '../../../lib/param-folder/layout';
import { type FolderFile, writeFolderAtomic } from '../../../lib/safe-output';

const [target, signal, after] = process.argv.slice(2) as [string, NodeJS.Signals, string];
function* files(): Generator<FolderFile> {
  for (let i = 0; i < 200; i++) {
    if (i === Number(after)) process.kill(process.pid, signal);
    yield { name: `${i}-0-weights.bin`, bytes: Buffer.alloc(64 * 1024, i) };
  }
}
writeFolderAtomic(target, files(), { replace: true, kind: PARAM_FOLDER_KIND, what: '--out' }).then(() => {
  process.stdout.write('finished\n');
});
