/**
 * Local-only defaults, following the Supabase CLI's habits (API on 54321, Postgres on 54322,
 * the well-known demo JWT secret and the keys signed with it). Never use these in production:
 * they are public. The same values are written in .env.example.
 */
export const LOCAL = {
  apiPort: 54321,
  dbPort: 54322,
  s3Port: 54329,
  postgrestPort: 54330,
  functionsPort: 3000,
  twilioRunPort: 3001,
  emulatorPort: 3010,
  jwtSecret: 'super-secret-jwt-token-with-at-least-32-characters-long',
  anonKey:
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0',
  serviceRoleKey:
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU',
  dbUser: 'postgres',
  dbPassword: 'postgres',
  /** The emulator's main account (shaped like a real one: twilio-run checks the shape). */
  accountSid: 'AC0000000000000000000000000000d15c',
  authToken: 'local0twilio0auth0token000000000',
  s3Bucket: 'discador-recordings',
  s3AccessKeyId: 'S3RVER',
  s3SecretAccessKey: 'S3RVER',
} as const;
