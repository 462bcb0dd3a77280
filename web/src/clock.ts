// Server time. The drop's countdown must be right whatever the device clock says, so the page
// measures the offset between the device clock and the server's (GET /time, the sample with the
// shortest round trip, half of it added as the one-way delay) and counts on the server's clock.
// That midpoint can be early by up to half the round trip (a loaded server answers late), so what
// must never happen before the server agrees (opening the buy button) waits for the earliest the
// server's clock can be: the reply was stamped no later than it arrived.
import { Store } from './store';

let offsetMs = 0;
let uncertaintyMs = 0;
let synced: Promise<void> | null = null;
/** True once the offset was measured: until then a countdown would count on the device clock. */
export const clockSynced = new Store(false);

async function sample(): Promise<{ offset: number; rtt: number }> {
  const sent = performance.now();
  const res = await fetch('/time', { cache: 'no-store' });
  const { epochMs } = (await res.json()) as { epochMs: number };
  const received = performance.now();
  const rtt = received - sent;
  return { offset: epochMs + rtt / 2 - Date.now(), rtt };
}

export function syncClock(): Promise<void> {
  if (!synced) {
    synced = (async () => {
      let best: { offset: number; rtt: number } | null = null;
      for (let i = 0; i < 3; i++) {
        try {
          const s = await sample();
          if (!best || s.rtt < best.rtt) best = s;
        } catch {
          // offline for now: keep the device clock until a later sync works
        }
      }
      if (best) {
        offsetMs = best.offset;
        uncertaintyMs = best.rtt / 2;
        clockSynced.set(true);
      } else {
        synced = null;
      }
    })();
  }
  return synced;
}

/** Measures again (the device clock moved, or the server disagreed with what we measured). */
export function resyncClock(): Promise<void> {
  synced = null;
  return syncClock();
}

// Re-measure when the page comes back to the foreground (a laptop lid, a phone's lock screen).
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') void resyncClock();
});

/** Milliseconds since the epoch on the server's clock. */
export function serverNow(): number {
  return Date.now() + offsetMs;
}

/** The earliest the server's clock can read now: what may only happen once the server agrees. */
export function serverNowEarliest(): number {
  return serverNow() - uncertaintyMs;
}

export function clockOffsetMs(): number {
  return offsetMs;
}
