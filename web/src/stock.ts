// Live stock from the server (Server-Sent Events). EventSource reconnects by itself and sends
// Last-Event-ID, so the server replays only what changed while the page was away; when the server
// refuses (503 past its stream bound) the page tries again later with the last id it saw.
import { useEffect, useState } from 'preact/hooks';

export type SaleState = 'none' | 'upcoming' | 'preparing' | 'live' | 'soldout' | 'ended';

export interface LiveStock {
  stock: number | null;
  state: SaleState;
  startsAt?: string;
  endsAt?: string;
}

export type StreamStatus = 'connecting' | 'open' | 'retrying';

export function useLiveStock(ids: number[]): { stock: Map<number, LiveStock>; status: StreamStatus } {
  const [stock, setStock] = useState<Map<number, LiveStock>>(new Map());
  const [status, setStatus] = useState<StreamStatus>('connecting');
  const key = ids.join(',');
  useEffect(() => {
    if (!key) return;
    let source: EventSource | null = null;
    let lastId = '';
    let timer = 0;
    let closed = false;
    const open = () => {
      const base = key.includes(',') ? `/stock/stream?products=${key}` : `/products/${key}/stock/stream`;
      const url = lastId ? `${base}${base.includes('?') ? '&' : '?'}lastEventId=${lastId}` : base;
      source = new EventSource(url);
      source.onopen = () => setStatus('open');
      source.addEventListener('stock', (e) => {
        const ev = e as MessageEvent<string>;
        if (ev.lastEventId) lastId = ev.lastEventId;
        const d = JSON.parse(ev.data) as LiveStock & { productId: number };
        setStock((prev) => new Map(prev).set(d.productId, { stock: d.stock, state: d.state, startsAt: d.startsAt, endsAt: d.endsAt }));
      });
      source.onerror = () => {
        if (source?.readyState === EventSource.CLOSED && !closed) {
          // Refused (not 200): EventSource gives up; we do not.
          setStatus('retrying');
          source.close();
          timer = window.setTimeout(open, 3000 + Math.random() * 2000);
        } else {
          setStatus('retrying');
        }
      };
    };
    open();
    return () => {
      closed = true;
      window.clearTimeout(timer);
      source?.close();
    };
  }, [key]);
  return { stock, status };
}
