// Starts the test database once for the whole run: MONGODB_URI when set (real MongoDB or any
// compatible server), otherwise FerretDB built from tools/ferretdb/ on a free loopback port.
import type { TestProject } from 'vitest/node';
// @ts-expect-error plain JS module shared with the demo and the benchmarks
import { startFerretdb } from '../../scripts/ferretdb.js';

declare module 'vitest' {
  export interface ProvidedContext {
    mongodbUri: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.MONGODB_URI;
  if (external) {
    project.provide('mongodbUri', external);
    return async () => {};
  }
  let server: { uri: string; stop: () => Promise<void> };
  try {
    server = await startFerretdb({ log: (m: string) => process.stderr.write(`ferretdb: ${m}\n`) });
  } catch (err) {
    throw new Error(`test database: ${(err as Error).message}`);
  }
  project.provide('mongodbUri', server.uri);
  return () => server.stop();
}
