/**
 * The microphone check: opens the microphone with getUserMedia and shows its level on a
 * meter for a few seconds, or says clearly why it cannot (refused, absent, busy).
 */

export interface MicCheckResult {
  ok: boolean;
  message: string;
  /** Highest level seen, 0–1. */
  peak: number;
}

/** pt-BR sentence for a getUserMedia failure. */
export function micErrorText(err: unknown): string {
  const name = (err as { name?: string } | null)?.name ?? '';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'O acesso ao microfone foi negado. Libere o microfone nas permissões do navegador (ícone ao lado do endereço) e tente de novo.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'Nenhum microfone encontrado. Conecte um fone com microfone e tente de novo.';
    case 'NotReadableError':
    case 'AbortError':
      return 'O microfone está em uso por outro programa ou não respondeu. Feche o outro programa e tente de novo.';
    default:
      return 'Não foi possível testar o microfone neste navegador.';
  }
}

/** Runs the check for `ms`, calling onLevel with 0–1 about 20 times a second. */
export async function checkMicrophone(onLevel: (level: number) => void, ms = 4000): Promise<MicCheckResult> {
  if (!navigator.mediaDevices?.getUserMedia) return { ok: false, message: micErrorText(null), peak: 0 };
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
  } catch (e) {
    return { ok: false, message: micErrorText(e), peak: 0 };
  }
  const ctx = new AudioContext();
  try {
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 1024;
    ctx.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    let peak = 0;
    const until = Date.now() + ms;
    while (Date.now() < until) {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const v of samples) sum += v * v;
      // RMS scaled so normal speech fills most of the meter.
      const level = Math.min(1, Math.sqrt(sum / samples.length) * 4);
      peak = Math.max(peak, level);
      onLevel(level);
      await new Promise((r) => setTimeout(r, 50));
    }
    onLevel(0);
    return peak > 0.01
      ? { ok: true, message: 'Microfone funcionando.', peak }
      : { ok: true, message: 'O microfone abriu, mas não captou som. Confira se ele não está mudo.', peak };
  } finally {
    for (const t of stream.getTracks()) t.stop();
    void ctx.close();
  }
}
