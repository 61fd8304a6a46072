import { mkdirSync } from 'node:fs';
// s3rver ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (opts: Record<string, unknown>) => { run(): Promise<unknown>; close(): Promise<void> };
import { LOCAL } from './defaults';

/** A local S3 (s3rver) with the recordings bucket created. */
export interface LocalS3 {
  endpoint: string;
  bucket: string;
  stop(): Promise<void>;
}

/** Starts s3rver on `port`, storing objects under `dir`. */
export async function startS3(opts: { port: number; dir: string; bucket?: string }): Promise<LocalS3> {
  mkdirSync(opts.dir, { recursive: true });
  const bucket = opts.bucket ?? LOCAL.s3Bucket;
  const server = new S3rver({
    port: opts.port,
    address: '127.0.0.1',
    silent: true,
    directory: opts.dir,
    configureBuckets: [{ name: bucket }],
  });
  await server.run();
  return { endpoint: `http://127.0.0.1:${opts.port}`, bucket, stop: () => server.close() };
}
