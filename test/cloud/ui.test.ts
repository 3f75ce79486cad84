import { formatDuration, progressBar, renderTable } from '../../lib/cli/ui/format';
import { startSpinner } from '../../lib/cli/ui/spinner';
import { captureTerminal, paint } from '../../lib/cli/ui/terminal';

test('durations, bars and tables', () => {
  expect([9, 125, 3725, 0, -1].map(formatDuration)).toEqual(['9s', '2m05s', '1h02m', '0s', '?']);
  expect(progressBar(0.5, 10)).toBe('[#####-----]');
  expect(progressBar(2, 4)).toBe('[####]');
  expect(progressBar(Number.NaN, 4)).toBe('[----]');
  expect(
    renderTable(
      ['run', 'epochs', 'state'],
      [
        ['a', '3/40', 'running'],
        ['bbbb', '40/40', 'succeeded'],
      ],
    ),
  ).toBe(
    [
      'run   epochs  state',
      '----  ------  ---------',
      'a     3/40    running',
      'bbbb  40/40   succeeded',
      '',
    ].join('\n'),
  );
  expect(
    renderTable(
      ['x', 'err'],
      [
        ['a', '1.50 %'],
        ['b', '12.00 %'],
      ],
    ),
  ).toContain('a   1.50 %\nb  12.00 %');
});

test('plain terminal: no escape codes, a line per spinner step; a live one redraws in place with colour', () => {
  let t = 0;
  const plain = captureTerminal();
  const s = startSpinner(plain, 'waiting', () => t);
  t = 65_000;
  s.update('still waiting');
  s.succeed('done');
  expect(plain.stderr).toBe('... waiting\n... still waiting (1m05s)\nok done (1m05s)\n');
  expect(paint(plain, 'red', 'x')).toBe('x');

  const live = { ...captureTerminal(), live: true, color: true };
  let out = '';
  live.err = (text: string) => {
    out += text;
  };
  const l = startSpinner(live, 'go', () => t);
  l.fail('broke');
  expect(out.startsWith('\r\x1b[K\x1b[36m⠋\x1b[39m go')).toBe(true);
  expect(out).toContain('\x1b[31mfailed:\x1b[39m broke (0s)\n');
});
