"""Theano's compile cache (base_compiledir) is one folder shared by every training process on a host, and Theano 1.0.5
can lose a module from it while another process uses it. This fixes the two halves of that race.

The race (seen in CI, where several real trainings run at once on one warm cache): process B opens the cache
(ModuleCache.__init__ -> refresh) without the compile lock and reads a key.pkl that process A is rewriting at that moment
(KeyData.save_pkl truncates the file, then writes it, when A adds a key to a module it has loaded). B gets an EOFError,
deletes the module's folder as "broken", and A's next compile fails: "A module that was loaded by this ModuleCache can
no longer be read", then AssertionError in KeyData.add_key. Upstream's report and fix are in Theano's successor Aesara
(aesara-devs/aesara#858, fixed by #969: refresh under the compile lock); Theano 1.0.5 is pinned (the conda package on
the instance, the vendored release in CI), so the fix is applied at run time instead of as a source patch.

  - ModuleCache.refresh runs under the compile lock (Aesara's fix): every key.pkl writer holds that lock, so a refresh
    never reads a file that is being written.
  - KeyData.save_pkl writes a temporary file and renames it over key.pkl: a reader that does not take the lock (an
    unpatched process, or the cache opened while `import theano` initialises a GPU) sees the old file or the new one,
    never a truncated one.

Call install() after importing theano and before the first compile (model.py does, at import)."""

import functools
import os
import pickle
import tempfile

from theano.gof import cmodule, compilelock

MARK = "_bnn_train_shared_cache_fix"


def install():
    """Patches ModuleCache.refresh and KeyData.save_pkl once per process (a second call does nothing)."""
    if getattr(cmodule.ModuleCache.refresh, MARK, False):
        return
    refresh = cmodule.ModuleCache.refresh

    @functools.wraps(refresh)
    def locked_refresh(self, *args, **kwargs):
        with compilelock.lock_ctx():  # re-entrant: Theano's own callers that already hold it just nest
            return refresh(self, *args, **kwargs)

    setattr(locked_refresh, MARK, True)
    cmodule.ModuleCache.refresh = locked_refresh
    cmodule.KeyData.save_pkl = atomic_save_pkl


def atomic_save_pkl(self):
    """KeyData.save_pkl, written to a temporary file in the same folder and renamed over key.pkl. A key that cannot be
    pickled leaves the previous key.pkl as it was (Theano's own version deletes the file it had half-written)."""
    fd, tmp = tempfile.mkstemp(prefix=".key.pkl.", dir=os.path.dirname(self.key_pkl))
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, self.key_pkl)
    except pickle.PicklingError:
        os.unlink(tmp)
        cmodule._logger.warning("Cache leak due to unpickle-able key data %s", self.keys)
        raise
    except BaseException:
        os.unlink(tmp)
        raise
