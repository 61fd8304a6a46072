/**
 * The sign-in form every page has (the agent page, the dashboard, history): the same element
 * ids (#login-form, #login-email, #login-password, #login-submit, #login-error), the same
 * behaviour: both fields required, the button off while the request is out, the password
 * cleared on success and selected on failure, and, when the account is locked after
 * repeated failures (429 account_locked), a countdown with the button off until the lock
 * ends. What happens once signed in is the page's `enter`.
 */
import { ApiError, type Api } from '../agent/api';
import { errorText } from '../agent/format';
import type { LoginReply } from '../agent/types';

export interface SignInOptions {
  api: Api;
  /** Opens the page for the session just made; what it throws is shown on the form. */
  enter(reply: LoginReply): Promise<void>;
  /** The sentence for a failure other than a lock (the page's own wording). */
  describe(e: unknown): string;
}

const el = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} is missing`);
  return e as T;
};

export class SignInForm {
  private lockUntil = 0;
  private lockTimer: number | undefined;

  constructor(private readonly opts: SignInOptions) {}

  /** Listens to the form's submit. */
  wire(): this {
    el('login-form').addEventListener('submit', (ev) => void this.submit(ev as SubmitEvent));
    return this;
  }

  /** True while a lock counts down (the button stays off). */
  get locked(): boolean {
    return Date.now() < this.lockUntil;
  }

  /** Shows a sentence under the form (null clears it). */
  showError(text: string | null): void {
    const e = el('login-error');
    e.textContent = text ?? '';
    e.hidden = !text;
  }

  /** Back to an empty, usable form with `message` (a countdown in progress goes on). */
  reset(message: string | null): void {
    if (!this.locked) {
      el<HTMLButtonElement>('login-submit').disabled = false;
      this.showError(message);
    }
  }

  /** Counts `seconds` down under the form, the button off until then. */
  showLockout(seconds: number): void {
    this.lockUntil = Date.now() + Math.max(1, seconds) * 1000;
    const submit = el<HTMLButtonElement>('login-submit');
    const tick = () => {
      const left = Math.ceil((this.lockUntil - Date.now()) / 1000);
      if (left <= 0) {
        window.clearInterval(this.lockTimer);
        submit.disabled = false;
        this.showError('Você já pode tentar entrar de novo.');
        return;
      }
      submit.disabled = true;
      this.showError(errorText('account_locked', left));
    };
    window.clearInterval(this.lockTimer);
    tick();
    this.lockTimer = window.setInterval(tick, 1000);
  }

  async submit(ev: SubmitEvent): Promise<void> {
    ev.preventDefault();
    if (this.locked) return;
    const email = el<HTMLInputElement>('login-email').value.trim();
    const password = el<HTMLInputElement>('login-password').value;
    if (!email || !password) {
      this.showError('Informe e-mail e senha.');
      (email ? el('login-password') : el('login-email')).focus();
      return;
    }
    const submit = el<HTMLButtonElement>('login-submit');
    submit.disabled = true;
    this.showError(null);
    try {
      const reply = await this.opts.api.login(email, password);
      el<HTMLInputElement>('login-password').value = '';
      await this.opts.enter(reply);
      submit.disabled = false;
    } catch (e) {
      submit.disabled = false;
      if (e instanceof ApiError && e.code === 'account_locked') this.showLockout(e.retryAfter ?? 60);
      else this.showError(this.opts.describe(e));
      el<HTMLInputElement>('login-password').select();
    }
  }
}
