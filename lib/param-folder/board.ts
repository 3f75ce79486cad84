/** The board back end of the param folder: a checked set pushed to `<bnn>/params/<dataset>/<network>`. */
import { type PushResult, pushParamSet } from '../board/board';
import type { BoardTarget } from '../board/ssh';
import { toParamSet } from './layout';
import type { ParamFolderStore } from './store';

/** `<bnn>/params/<dataset>/<network>` on a PYNQ board; the set is checked (sizes, classes) before it is sent. */
export function boardParamFolders(target: BoardTarget): ParamFolderStore<PushResult> {
  return {
    where: (dataset, network) => `${target.host}:<bnn>/params/${dataset}/${network}`,
    write: async (c) =>
      pushParamSet(
        target,
        toParamSet(c.files, c.source ?? `${c.dataset}/${c.network}`, c.dataset, c.network),
        c.dataset,
      ),
  };
}
