/**
 * Synthesised recording media and audio-length probing. Recordings are 8 kHz 16-bit PCM WAV
 * (one tone per channel, so dual-channel files are distinguishable) or MPEG-1 Layer III files
 * made of silent frames (valid for any decoder, no encoder needed).
 */

const WAV_RATE = 8000;

/** A PCM WAV of `seconds` with `channels` channels (1 or 2), each a quiet sine tone of its own pitch. */
export function synthWav(seconds: number, channels: 1 | 2): Buffer {
  return wavRange(seconds, channels, 0, wavSize(seconds, channels));
}

/** Bytes of synthWav(seconds, channels). */
export function wavSize(seconds: number, channels: 1 | 2): number {
  return 44 + Math.max(0, Math.round(seconds * WAV_RATE)) * channels * 2;
}

const PITCHES = [440, 660];
// Both pitches repeat every 400 frames at 8 kHz (440/8000 = 11/200, 660/8000 = 33/400).
const PERIOD = 400;
const SINES = PITCHES.map((p) => Float64Array.from({ length: PERIOD }, (_, i) => Math.sin((2 * Math.PI * p * i) / WAV_RATE)));

/** Loudness of second `b`: varies from second to second so no two stretches of a long file are alike. */
function amplitude(b: number): number {
  return 2000 + (Math.imul(b + 1, 2654435761) >>> 0) % 2000;
}

/**
 * Bytes [start, end) of synthWav(seconds, channels), made without building the whole file
 * (a one-hour dual-channel WAV is 115 MB): media is streamed and served by range.
 */
export function wavRange(seconds: number, channels: 1 | 2, start: number, end: number): Buffer {
  const frames = Math.max(0, Math.round(seconds * WAV_RATE));
  const dataBytes = frames * channels * 2;
  const total = 44 + dataBytes;
  end = Math.min(end, total);
  start = Math.max(0, Math.min(start, end));
  const out = Buffer.alloc(end - start);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + dataBytes, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(WAV_RATE, 24);
  header.writeUInt32LE(WAV_RATE * channels * 2, 28);
  header.writeUInt16LE(channels * 2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(dataBytes, 40);
  if (start < 44) header.copy(out, 0, start, Math.min(44, end));
  const frameBytes = channels * 2;
  const dStart = Math.max(0, start - 44);
  const dEnd = end - 44;
  if (dEnd <= dStart) return out;
  const f0 = Math.floor(dStart / frameBytes);
  const f1 = Math.ceil(dEnd / frameBytes);
  const tmp = Buffer.alloc((f1 - f0) * frameBytes);
  let off = 0;
  for (let i = f0; i < f1; i++) {
    const amp = amplitude(Math.floor(i / WAV_RATE));
    const k = i % PERIOD;
    for (let c = 0; c < channels; c++) {
      tmp.writeInt16LE(Math.round(amp * SINES[c]![k]!), off);
      off += 2;
    }
  }
  tmp.copy(out, Math.max(0, 44 - start), dStart - f0 * frameBytes, dEnd - f0 * frameBytes);
  return out;
}

// MPEG-1 Layer III, 32 kbit/s, 48 kHz, no padding, no CRC: 144 * 32000 / 48000 = 96 bytes per
// frame of 1152 samples (24 ms). All-zero side info and main data decode to silence.
const MP3_FRAME_BYTES = 96;
const MP3_FRAME_SECONDS = 1152 / 48000;

/** An MP3 of `seconds` of silence, mono, or stereo when `channels` is 2. */
export function synthMp3(seconds: number, channels: 1 | 2): Buffer {
  const frames = Math.max(1, Math.ceil(seconds / MP3_FRAME_SECONDS));
  const frame = Buffer.alloc(MP3_FRAME_BYTES);
  frame[0] = 0xff;
  frame[1] = 0xfb; // sync, MPEG-1, Layer III, no CRC
  frame[2] = 0x14; // bitrate index 1 (32 kbit/s), 48 kHz, no padding
  frame[3] = channels === 2 ? 0x04 : 0xc4; // stereo or mono, original
  const out = Buffer.alloc(frames * MP3_FRAME_BYTES);
  for (let i = 0; i < frames; i++) frame.copy(out, i * MP3_FRAME_BYTES);
  return out;
}

/** Description of an audio file's header, for tests and for timing `<Play>`. */
export interface AudioInfo {
  format: 'wav' | 'mp3';
  channels: number;
  sampleRate: number;
  seconds: number;
}

const MP3_BITRATES_V1_L3 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const MP3_BITRATES_V2_L3 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
const MP3_RATES: Record<number, number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };

/** Reads a WAV or MP3 header and returns its length; undefined when the bytes are neither. */
export function probeAudio(buf: Buffer): AudioInfo | undefined {
  if (buf.length >= 44 && buf.toString('ascii', 0, 4) === 'RIFF' && buf.toString('ascii', 8, 12) === 'WAVE') {
    let off = 12;
    let channels = 0;
    let rate = 0;
    let byteRate = 0;
    while (off + 8 <= buf.length) {
      const id = buf.toString('ascii', off, off + 4);
      const size = buf.readUInt32LE(off + 4);
      if (id === 'fmt ') {
        channels = buf.readUInt16LE(off + 10);
        rate = buf.readUInt32LE(off + 12);
        byteRate = buf.readUInt32LE(off + 16);
      } else if (id === 'data' && byteRate > 0) {
        const bytes = Math.min(size, buf.length - off - 8);
        return { format: 'wav', channels, sampleRate: rate, seconds: bytes / byteRate };
      }
      off += 8 + size + (size % 2);
    }
    return undefined;
  }
  let off = 0;
  if (buf.toString('ascii', 0, 3) === 'ID3' && buf.length > 10) {
    const b = (i: number) => (buf[i] ?? 0) & 0x7f;
    off = 10 + ((b(6) << 21) | (b(7) << 14) | (b(8) << 7) | b(9));
  }
  for (; off + 4 <= buf.length; off++) {
    if (buf[off] !== 0xff || ((buf[off + 1] ?? 0) & 0xe0) !== 0xe0) continue;
    const b1 = buf[off + 1] ?? 0;
    const b2 = buf[off + 2] ?? 0;
    const b3 = buf[off + 3] ?? 0;
    const version = (b1 >> 3) & 3; // 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5
    const layer = (b1 >> 1) & 3; // 1 = Layer III
    if (layer !== 1 || version === 1) continue;
    const kbps = (version === 3 ? MP3_BITRATES_V1_L3 : MP3_BITRATES_V2_L3)[(b2 >> 4) & 15];
    const rate = MP3_RATES[version]?.[(b2 >> 2) & 3];
    if (!kbps || !rate) continue;
    const channels = (b3 >> 6) === 3 ? 1 : 2;
    return { format: 'mp3', channels, sampleRate: rate, seconds: ((buf.length - off) * 8) / (kbps * 1000) };
  }
  return undefined;
}
