/**
 * Writes src/assets/queue-music.wav: the overflow queue's hold music, a soft 10-second
 * arpeggio (8 kHz, 16-bit mono PCM, a format Twilio's <Play> takes). Ten seconds on purpose:
 * the queue's wait document plays it a whole number of times between announcements, so the
 * announcement interval and the maximum wait land within ten seconds of their settings.
 * Committed; run only to change it: `npx tsx scripts/make-queue-music.ts`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const RATE = 8000;
const SECONDS = 10;
/** Notes (Hz) of the arpeggio, 0.5 s each: C major, A minor, F major, G major, twice over. */
const NOTES = [262, 330, 392, 523, 220, 262, 330, 440, 175, 220, 262, 349, 196, 247, 294, 392, 262, 330, 392, 523];

const samples = new Int16Array(RATE * SECONDS);
const noteLen = (RATE * SECONDS) / NOTES.length;
for (let i = 0; i < samples.length; i++) {
  const n = Math.floor(i / noteLen);
  const t = (i - n * noteLen) / RATE;
  const f = NOTES[n]!;
  // A plucked tone: the fundamental and a softer octave, decaying, with short fades at both ends.
  const env = Math.exp(-4 * t) * Math.min(1, t / 0.01) * Math.min(1, (noteLen / RATE - t) / 0.02);
  const v = (Math.sin(2 * Math.PI * f * t) + 0.3 * Math.sin(4 * Math.PI * f * t)) * env;
  samples[i] = Math.round(v * 0.35 * 32767);
}
const data = Buffer.from(samples.buffer);
const header = Buffer.alloc(44);
header.write('RIFF', 0);
header.writeUInt32LE(36 + data.length, 4);
header.write('WAVE', 8);
header.write('fmt ', 12);
header.writeUInt32LE(16, 16);
header.writeUInt16LE(1, 20);
header.writeUInt16LE(1, 22);
header.writeUInt32LE(RATE, 24);
header.writeUInt32LE(RATE * 2, 28);
header.writeUInt16LE(2, 32);
header.writeUInt16LE(16, 34);
header.write('data', 36);
header.writeUInt32LE(data.length, 40);
writeFileSync(join(__dirname, '..', 'src', 'assets', 'queue-music.wav'), Buffer.concat([header, data]));
