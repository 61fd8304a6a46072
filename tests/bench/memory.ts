/**
 * Memory of the process while a bench runs: peak RSS and heap sampled every 20 ms, and the
 * live heap (what a full collection leaves, every half second, when run with --expose-gc;
 * the peaks include garbage not yet collected).
 */
export interface MemoryReport {
  baseRss: number;
  peakRss: number;
  peakHeap: number;
  liveHeap: number;
}

/** Starts sampling; `stop()` ends it and returns what was seen. */
export function sampleMemory(): { stop: () => MemoryReport } {
  const baseRss = process.memoryUsage().rss;
  const r: MemoryReport = { baseRss, peakRss: baseRss, peakHeap: process.memoryUsage().heapUsed, liveHeap: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    r.peakRss = Math.max(r.peakRss, m.rss);
    r.peakHeap = Math.max(r.peakHeap, m.heapUsed);
  };
  const gc = (globalThis as { gc?: () => void }).gc;
  const timer = setInterval(sample, 20);
  const gcTimer = setInterval(() => {
    if (!gc) return;
    gc();
    r.liveHeap = Math.max(r.liveHeap, process.memoryUsage().heapUsed);
  }, 500);
  return {
    stop: () => {
      sample();
      clearInterval(timer);
      clearInterval(gcTimer);
      return r;
    },
  };
}
