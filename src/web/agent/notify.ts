/**
 * Desktop notifications for the events an agent must not miss (an offered call, a customer
 * waiting too long, a new voicemail, a missed call, a text message). Permission is asked only from a button;
 * when it is refused or the browser has no Notification API, the same events are shown
 * in-page as toasts. Each event is raised once, whatever the number of polls that show it.
 */

export type NoticeKind = 'offer' | 'waiting' | 'voicemail' | 'missed' | 'message';

export interface Notice {
  kind: NoticeKind;
  /** Unique per event (e.g. `offer:CA…`): an event already raised is not raised again. */
  key: string;
  title: string;
  body: string;
}

export type NotifyMode = 'desktop' | 'page';

export class Notifier {
  private readonly seen = new Set<string>();
  /** Desktop notifications still shown, by key, so one whose event is over can be closed. */
  private readonly shown = new Map<string, Notification>();

  constructor(
    private readonly toasts: HTMLElement,
    private readonly onStateChange: (mode: NotifyMode, permission: string) => void,
  ) {}

  /** 'unsupported' when the browser has no Notification API, else its permission. */
  get permission(): NotificationPermission | 'unsupported' {
    return typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
  }

  get mode(): NotifyMode {
    return this.permission === 'granted' ? 'desktop' : 'page';
  }

  /** Asks the browser for permission (call from a click only). */
  async requestPermission(): Promise<void> {
    if (this.permission === 'unsupported') return this.onStateChange('page', 'unsupported');
    try {
      await Notification.requestPermission();
    } finally {
      this.onStateChange(this.mode, this.permission);
    }
  }

  /** Marks an event as already known without raising it (events present when the page loads). */
  remember(key: string): void {
    this.seen.add(key);
  }

  /** Raises a notice unless its key was raised or remembered before. Returns whether it was raised. */
  raise(n: Notice): boolean {
    if (this.seen.has(n.key)) return false;
    this.seen.add(n.key);
    if (this.mode === 'desktop') {
      try {
        const note = new Notification(n.title, { body: n.body, tag: n.key, requireInteraction: n.kind === 'offer' });
        note.onclick = () => {
          window.focus();
          note.close();
        };
        this.shown.set(n.key, note);
        note.onclose = () => this.shown.delete(n.key);
        return true;
      } catch {
        // Some browsers refuse the constructor (they want a service worker): show it in the page.
      }
    }
    this.toast(n);
    return true;
  }

  /**
   * Takes back a notice whose event is over (an offered call that was answered, hung up or
   * given up): its desktop notification is closed, its toast removed. It is not raised again.
   */
  dismiss(key: string): void {
    this.shown.get(key)?.close();
    this.shown.delete(key);
    for (const li of [...this.toasts.children]) if (li instanceof HTMLElement && li.dataset['key'] === key) li.remove();
  }

  private toast(n: Notice): void {
    const li = document.createElement('li');
    li.className = `toast toast-${n.kind}`;
    li.dataset['key'] = n.key;
    const title = document.createElement('strong');
    title.textContent = n.title;
    const body = document.createElement('span');
    body.textContent = n.body;
    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'toast-close';
    close.textContent = 'Fechar';
    close.setAttribute('aria-label', `Fechar aviso: ${n.title}`);
    close.addEventListener('click', () => li.remove());
    li.append(title, body, close);
    this.toasts.prepend(li);
    while (this.toasts.children.length > 8) this.toasts.lastElementChild?.remove();
  }
}
