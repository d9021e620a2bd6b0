export default async function globalTeardown(): Promise<void> {
  const stoppers =
    (globalThis as { __MDP_TEST_STOPPERS__?: Array<() => Promise<void>> }).__MDP_TEST_STOPPERS__ ??
    [];
  await Promise.all(stoppers.map((stop) => stop().catch(() => undefined)));
}
