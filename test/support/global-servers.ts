// Servers shared by every test file of one `npm test` run. Filled in by the harness.
export interface GlobalServers {
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startGlobalServers(): Promise<GlobalServers> {
  return { env: {}, async stop() {} };
}
