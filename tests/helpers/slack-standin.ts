/**
 * A client of a local stack's Slack stand-in (stack/slack-standin.ts), at the stack's
 * SLACK_STANDIN_URL: the posts it recorded (optionally only those whose body mentions a text),
 * forgetting them, and telling it to fail (status) or hang.
 */
export interface RecordedSlackPost {
  at: number;
  path: string;
  headers: Record<string, string>;
  /** The exact body the functions posted (JSON text). */
  body: string;
}

export function slackStandin(baseUrl: string | undefined) {
  if (!baseUrl) throw new Error('this stack has no Slack stand-in (SLACK_STANDIN_URL): was ALERT_SLACK_WEBHOOK_URL configured?');
  const call = (path: string, init?: RequestInit) => fetch(`${baseUrl}${path}`, init);
  return {
    async posts(about?: string): Promise<RecordedSlackPost[]> {
      const all = (await (await call('/_standin/posts')).json()) as RecordedSlackPost[];
      return about ? all.filter((p) => p.body.includes(about)) : all;
    },
    async clear(): Promise<void> {
      await call('/_standin/posts', { method: 'DELETE' });
    },
    /** {status: 500} answers that status; {hang: true} never answers; {status: 200} is Slack again; `times` limits it. */
    async mode(mode: { status?: number; hang?: boolean; times?: number }): Promise<void> {
      const res = await call('/_standin/mode', { method: 'PUT', body: JSON.stringify(mode) });
      if (!res.ok) throw new Error(`the Slack stand-in refused the mode: ${await res.text()}`);
    },
  };
}
