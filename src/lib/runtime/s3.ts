/**
 * The S3 client of a deployment: the recordings bucket in S3_REGION, or an S3-compatible
 * endpoint (the local stack's s3rver, path-style addressing). Checksums are computed and
 * validated only where an operation requires them (requestChecksumCalculation and
 * responseChecksumValidation WHEN_REQUIRED): with the SDK's defaults a streamed PutObject is
 * sent aws-chunked with a trailing CRC32, which s3rver stores with the chunk framing inside
 * the object. discador checks integrity itself: a SHA-256 sent with the upload and compared
 * on read-back.
 */
import { S3Client } from '@aws-sdk/client-s3';
import type { Config } from './config';

/** The S3 settings of a deployment, as configuration holds them. */
export type S3Settings = Pick<Config, 'S3_BUCKET' | 'S3_REGION' | 'S3_ENDPOINT' | 'S3_ACCESS_KEY_ID' | 'S3_SECRET_ACCESS_KEY'>;

/** Thrown when recordings are to be stored but no bucket is configured. */
export class S3NotConfigured extends Error {
  constructor() {
    super('S3_BUCKET is not set: recordings stay in Twilio');
  }
}

/** Whether the deployment stores recordings in S3. */
export function s3Configured(config: S3Settings): config is S3Settings & { S3_BUCKET: string } {
  return config.S3_BUCKET !== undefined;
}

/** An S3 client for the deployment's bucket. `timeoutMs` bounds each request (connection and response). */
export function s3Client(config: S3Settings, opts: { timeoutMs?: number; maxAttempts?: number } = {}): S3Client {
  if (!s3Configured(config)) throw new S3NotConfigured();
  const credentials =
    config.S3_ACCESS_KEY_ID && config.S3_SECRET_ACCESS_KEY
      ? { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY }
      : undefined;
  return new S3Client({
    region: config.S3_REGION,
    ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT, forcePathStyle: true } : {}),
    ...(credentials ? { credentials } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: opts.maxAttempts ?? 2,
    ...(opts.timeoutMs ? { requestHandler: { connectionTimeout: opts.timeoutMs, requestTimeout: opts.timeoutMs } } : {}),
  });
}
