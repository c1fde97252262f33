// Seeds for simulation tests: a fixed set plus one fresh seed per run, or the
// single seed named by SWIMD_SIM_SEED to replay a failure.
export function simSeeds(fixed: number[]): number[] {
  const forced = process.env.SWIMD_SIM_SEED;
  if (forced !== undefined) return [Number(forced)];
  const fresh = Math.floor(Math.random() * 2 ** 31);
  return [...fixed, fresh];
}

/** Runs a scenario; on failure prints the seed and the command that replays it. */
export function withReplay(file: string, seed: number, body: () => void): void {
  try {
    body();
  } catch (err) {
    console.log(`# replay: SWIMD_SIM_SEED=${seed} node --test ${file}`);
    throw err;
  }
}
