/**
 * Commands that only follow something (`train --follow` once its run is started, `watch`, `logs -f`) have
 * nothing left to finish when their reader goes away: after `| head` closes the pipe (EPIPE on stdout or
 * stderr) they end at once, quietly, with the exit code so far (0), instead of polling AWS until the run
 * ends (hours). Any other command keeps going so its output is safely written (quietOnClosedPipes).
 */
let followers = 0;
let closed = false;

/** Runs `follow` as a follower: a closed output, before or during it, ends the process quietly. */
export async function following<T>(follow: () => Promise<T>): Promise<T> {
  if (closed) endQuietly();
  followers++;
  try {
    return await follow();
  } finally {
    followers--;
  }
}

/** Called when stdout or stderr is closed by its reader. */
export function outputClosed(): void {
  closed = true;
  if (followers > 0) endQuietly();
}

function endQuietly(): never {
  // Nothing is being written (followers only read); the exit code set so far stays.
  process.exit();
}
