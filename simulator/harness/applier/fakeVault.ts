/** A vault server's KV v1 secrets engine, in memory, shared by the stacks of one test. */
export class FakeVault {
  readonly secrets = new Map<string, Record<string, string>>();
}
