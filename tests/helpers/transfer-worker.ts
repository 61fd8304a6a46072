/**
 * A recording transfer worker in a process of its own, so a test can kill it mid-transfer
 * (SIGKILL: no cleanup, as when a Function is stopped at 10 s). Reads its settings as JSON
 * from argv[2]; prints one JSON line per finished part, then waits after part `holdAfter`
 * until it is killed.
 */
import { createDb } from '../../src/lib/runtime/db';
import { s3Client } from '../../src/lib/runtime/s3';
import { runRecordingJobs } from '../../src/lib/domain/recordings/transfer';

interface Settings {
  supabaseUrl: string;
  serviceRoleKey: string;
  s3: { endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string };
  twilio: { accountSid: string; authToken: string; apiBaseUrl: string };
  sid: string;
  partSize: number;
  holdAfter: number;
}

async function main(): Promise<void> {
  const s = JSON.parse(process.argv[2] ?? '{}') as Settings;
  const db = createDb({ url: s.supabaseUrl, serviceRoleKey: s.serviceRoleKey, timeoutMs: 5000 });
  const s3 = s3Client({ S3_BUCKET: s.s3.bucket, S3_REGION: 'sa-east-1', S3_ENDPOINT: s.s3.endpoint, S3_ACCESS_KEY_ID: s.s3.accessKeyId, S3_SECRET_ACCESS_KEY: s.s3.secretAccessKey });
  await runRecordingJobs(
    {
      db, s3, bucket: s.s3.bucket, sse: 'AES256', twilio: s.twilio, partSize: s.partSize, multipartThreshold: s.partSize, leaseSeconds: 5,
      onPart: async (sid, part) => {
        process.stdout.write(JSON.stringify({ sid, part: part.n }) + '\n');
        if (part.n >= s.holdAfter) await new Promise(() => undefined);
      },
    },
    { budgetMs: 60000, sid: s.sid, worker: 'killed-worker' },
  );
  process.stdout.write(JSON.stringify({ finished: true }) + '\n');
}

void main();
