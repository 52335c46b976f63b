/** Tries `attempt` every `intervalMs` (two seconds) until it gives a value (an error counts as not yet), at most `seconds`. */
export async function eventually<T>(what: string, seconds: number, attempt: () => Promise<T | undefined>, intervalMs = 2_000): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const result = await attempt().catch(() => undefined);
    if (result !== undefined) return result;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${seconds}s`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
