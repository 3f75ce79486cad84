import { at } from '../../defined';
import { formatDuration } from './format';
import { paint, type Terminal } from './terminal';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface Spinner {
  /** Changes the text; on a non-TTY it prints the new text once as its own line. */
  update(text: string): void;
  /** Stops and prints a final line (with the elapsed time). */
  succeed(text: string): void;
  fail(text: string): void;
  stop(): void;
}

/**
 * A spinner with elapsed time on stderr. On a TTY it redraws one line every 100 ms; otherwise it
 * prints a line only when the text changes, so logs and CI output stay readable.
 */
export function startSpinner(term: Terminal, text: string, now: () => number = Date.now): Spinner {
  const started = now();
  let current = text;
  let frame = 0;
  const elapsed = () => formatDuration((now() - started) / 1000);
  const draw = () => {
    term.err(
      `\r\x1b[K${paint(term, 'cyan', at(FRAMES, frame++ % FRAMES.length, 'the spinner frames'))} ${current} ${paint(term, 'dim', elapsed())}`,
    );
  };
  let timer: NodeJS.Timeout | undefined;
  if (term.live) {
    draw();
    timer = setInterval(draw, 100);
    timer.unref();
  } else {
    term.err(`... ${current}\n`);
  }
  const end = (mark: string, final: string | undefined) => {
    if (timer) clearInterval(timer);
    timer = undefined;
    if (term.live) term.err('\r\x1b[K');
    if (final !== undefined) term.err(`${mark} ${final} (${elapsed()})\n`);
  };
  return {
    update(next) {
      if (next === current) return;
      current = next;
      if (term.live) draw();
      else term.err(`... ${current} (${elapsed()})\n`);
    },
    succeed: (final) => end(paint(term, 'green', 'ok'), final),
    fail: (final) => end(paint(term, 'red', 'failed:'), final),
    stop: () => end('', undefined),
  };
}
