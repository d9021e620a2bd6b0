/** The root README's "Where is" table names files; this fails when one of them is moved or removed. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

function whereIs(): Map<string, string[]> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## Where is$/m)[1]?.split(/^## /m)[0] ?? '';
  const rows = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 4 || cells[1] === 'behaviour' || cells[1].startsWith('---')) continue;
    rows.set(
      cells[1],
      [...cells[2].matchAll(/`([^`]+)`/g)].map((m) => m[1]),
    );
  }
  return rows;
}

describe('README "Where is"', () => {
  const rows = whereIs();

  it('names a file for each behaviour people look for', () => {
    const behaviours = [...rows.keys()].join('\n');
    for (const wanted of [
      'reclaim',
      'dead-letter',
      'dedup',
      'watermarks',
      'circuit breaker',
      'COPY',
      'token bucket',
      'feedback policy',
      'control handling',
      'audit',
    ])
      expect(behaviours).toContain(wanted);
  });

  it('names only files that exist', () => {
    const missing = [...rows.values()].flat().filter((path) => !existsSync(join(ROOT, path)));
    expect(missing).toEqual([]);
    expect([...rows.values()].flat().length).toBeGreaterThanOrEqual(rows.size);
  });
});
