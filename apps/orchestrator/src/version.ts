import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The package version, read at run time so src (tests), dist and a deployed image agree. */
export function packageVersion(): string {
  try {
    return (
      (
        JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
          version?: string;
        }
      ).version ?? '0.0.0'
    );
  } catch {
    return '0.0.0';
  }
}
