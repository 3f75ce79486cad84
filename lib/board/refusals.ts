import { UserError } from '../errors';
import type { RemoteResult } from './ssh';

/** Context for turning a board-side refusal into one line with the fix. */
export interface RefusalContext {
  where: string;
  user: string;
  sudo: boolean;
  python: string;
  dataset?: string;
}

export const INSTALL_BNN =
  'install BNN-PYNQ on the board (`sudo pip3 install git+https://github.com/Xilinx/BNN-PYNQ.git`), or pass --python the interpreter that has it';

/** One line per refusal code of lib/board/remote/board_helper.py. */
export function refusalMessage(answer: RemoteResult['answer'], ctx: RefusalContext): string {
  const said = answer.message ?? 'no message';
  switch (answer.code) {
    case 'no-bnn':
      return `board ${ctx.where}: ${said}; ${INSTALL_BNN}`;
    case 'not-writable':
      return ctx.sudo
        ? `board ${ctx.where}: ${said} even with sudo (a read-only file system?); check \`mount\` and the SD card on the board`
        : `board ${ctx.where}: ${said}; rerun with --sudo (needs passwordless sudo for ${ctx.user}), or on the board: sudo chown -R ${ctx.user} ${String(answer.params ?? '<bnn>/params')}`;
    case 'no-params':
      return `board ${ctx.where}: ${said}; reinstall BNN-PYNQ on the board`;
    case 'busy':
      return `board ${ctx.where}: ${said}; wait for it to finish (or for its ssh session to end), then push again`;
    case 'checksum':
      return `board ${ctx.where}: ${said}; nothing changed on the board (the upload was removed). Push again; if it repeats, check the board's SD card (dmesg)`;
    case 'connection-lost':
      return `board ${ctx.where}: ${said}; nothing changed on the board (the upload was removed). Check the link and push again`;
    case 'no-space':
      return `board ${ctx.where}: no space left (${said}); nothing changed on the board. Free some space (bnn-pynq board check shows it) and push again`;
    case 'no-set':
      return `board ${ctx.where}: ${said}; push it first: bnn-pynq board push <host> --params <dir> --dataset ${ctx.dataset ?? '<dataset>'}`;
    case 'several-sets':
      return `board ${ctx.where}: ${said}; pass --network to say which one to validate`;
    case 'bad-network':
      return `board ${ctx.where}: ${said}; pass --images of the kind the network reads (LFC: idx3 images with --labels; CNV: CIFAR-10 records, e.g. bnn-pynq dataset export-test's test_batch.bin)`;
    case 'bnn-import':
      return `board ${ctx.where}: ${said}; run \`bnn-pynq board check\` (is BOARD set for ssh sessions, e.g. in /etc/environment? does validate need --sudo to load the overlay?)`;
    case 'bad-dataset':
      return `board ${ctx.where}: ${said}; use lower-case letters, digits and dashes`;
    default:
      return `board ${ctx.where}: ${said}`;
  }
}

export const refusal = (answer: RemoteResult['answer'], ctx: RefusalContext): UserError =>
  new UserError(refusalMessage(answer, ctx));
