// This member's flap-damping score in node.dataDir, so that a restarted
// process carries on from its predecessor's score (a crash loop is damped like
// a stall loop). Written after each flap and each release, by write-and-rename;
// not fsync'd: a score lost in a power cut only damps less, it cannot make
// two members disagree, since every member reads the decision from the tag.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SavedDamping } from '../partition/flap-damping.js';

const FILE = 'damping.json';

export function loadDamping(dir: string, warn: (msg: string) => void): SavedDamping | null {
  let text: string;
  try {
    text = readFileSync(join(dir, FILE), 'utf8');
  } catch {
    return null;
  }
  try {
    const v = JSON.parse(text) as Partial<SavedDamping>;
    if (typeof v.value === 'number' && Number.isFinite(v.value) && v.value >= 0 && typeof v.atTick === 'number' && typeof v.suppressed === 'boolean') {
      return { value: v.value, atTick: v.atTick, suppressed: v.suppressed };
    }
  } catch {
    // fall through
  }
  warn(`${join(dir, FILE)} is not a damping score; starting from 0`);
  return null;
}

export function saveDamping(dir: string, s: SavedDamping, warn: (msg: string) => void): void {
  const path = join(dir, FILE);
  try {
    writeFileSync(`${path}.tmp`, JSON.stringify({ value: s.value, atTick: Number.isFinite(s.atTick) ? s.atTick : null, suppressed: s.suppressed }), { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  } catch (err) {
    warn(`could not save the damping score in ${dir}: ${(err as Error).message}`);
  }
}
