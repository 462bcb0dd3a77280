// The drop page: the product, a countdown on the server's clock, live stock, one buy button.
//
// One click = one purchase attempt = one Idempotency-Key. While an attempt is under way the button
// is busy and further taps do nothing; its retries (lost answer, busy server) reuse the key, so the
// server answers them from the first request and never sells twice. A definite answer (paid,
// declined, sold out...) ends the attempt; an unknown outcome keeps the key for the next click.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, NetworkError, get, newKey, purchase, refreshSession, session } from '../api';
import { clockSynced, resyncClock, serverNow, serverNowEarliest, syncClock } from '../clock';
import { formatDateTime, formatPrice, t, useLang } from '../i18n';
import { useLiveStock, type SaleState } from '../stock';
import { useStore } from '../store';
import type { PaidOrder, Product } from '../types';
import { Loading, Notice, PageFrame, StateBadge, errorText } from '../ui';

type Outcome =
  | { kind: 'buying' }
  | { kind: 'success'; order: PaidOrder }
  | { kind: 'soldout' | 'limit' | 'declined' | 'unverified' | 'notstarted' | 'ended' | 'error'; error: unknown };

// Re-renders every `intervalMs` and reads the server's clock at each render, never a stored
// reading: a render caused by the clock's first sync must not show a time taken before it (an hour
// off on a device whose clock is an hour slow).
function useServerNow(intervalMs: number): number {
  const [, setTick] = useState(0);
  useEffect(() => {
    const id = window.setInterval(() => setTick((n) => n + 1), intervalMs);
    return () => window.clearInterval(id);
  }, [intervalMs]);
  return serverNow();
}

function countdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const hms = [h, m, s].map((n) => String(n).padStart(2, '0')).join(':');
  return d > 0 ? t('drop.days', { d, hms }) : hms;
}

function outcomeOf(e: unknown): Outcome {
  const code = e instanceof ApiError ? e.code : '';
  if (code === 'SOLD_OUT' || code === 'INSUFFICIENT_STOCK') return { kind: 'soldout', error: e };
  if (code === 'PURCHASE_LIMIT_REACHED') return { kind: 'limit', error: e };
  if (code === 'PAYMENT_DECLINED') return { kind: 'declined', error: e };
  if (code === 'EMAIL_NOT_VERIFIED') return { kind: 'unverified', error: e };
  if (code === 'SALE_NOT_STARTED') return { kind: 'notstarted', error: e };
  if (code === 'SALE_ENDED') return { kind: 'ended', error: e };
  return { kind: 'error', error: e };
}

export function DropPage({ id }: { id: number }) {
  useLang();
  const s = useStore(session);
  const [product, setProduct] = useState<Product | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const attemptKey = useRef<string | null>(null);
  const busy = useRef(false);
  const { stock } = useLiveStock([id]);
  const now = useServerNow(250);
  const synced = useStore(clockSynced);

  useEffect(() => {
    void syncClock();
    setProduct(null);
    setOutcome(null);
    get<Product>(`/products/${id}`).then(setProduct, setLoadError);
  }, [id]);

  if (loadError) {
    return (
      <PageFrame title={t('drop.title')}>
        <Notice kind="error">{errorText(loadError)}</Notice>
      </PageFrame>
    );
  }
  if (!product) return <Loading />;

  const live = stock.get(id);
  const units = live ? live.stock : product.stock;
  // The stream carries the sale window too: an operator who moves it moves this countdown.
  const sale = product.sale && {
    ...product.sale,
    startsAt: live?.startsAt ?? product.sale.startsAt,
    endsAt: live?.endsAt ?? product.sale.endsAt,
  };
  let state: SaleState = live?.state ?? product.saleState;
  // The countdown opens the sale on the server's clock; the stream confirms it a moment later.
  // Opened on the earliest reading of the server's clock: a click the server would refuse as not
  // started yet never leaves the page, whatever the round trip of the clock sync was.
  if (synced && sale && state === 'upcoming' && serverNowEarliest() >= Date.parse(sale.startsAt)) state = units === 0 ? 'soldout' : 'live';
  if (synced && sale && (state === 'live' || state === 'soldout') && now >= Date.parse(sale.endsAt)) state = 'ended';
  if (state === 'live' && units === 0) state = 'soldout';

  const buy = async () => {
    if (busy.current) return; // a second tap while the first is under way
    busy.current = true;
    attemptKey.current ??= newKey();
    const key = attemptKey.current;
    setOutcome({ kind: 'buying' });
    try {
      let answer;
      try {
        answer = await purchase<PaidOrder>('/payment/request', { productId: id, amount: 1 }, key);
      } catch (e) {
        // Verified since this token was issued? A fresh token says so; then the same attempt.
        const current = session.get();
        if (!(e instanceof ApiError && e.code === 'EMAIL_NOT_VERIFIED' && current)) throw e;
        const renewed = await refreshSession(current);
        if (!renewed?.emailVerified) throw e;
        answer = await purchase<PaidOrder>('/payment/request', { productId: id, amount: 1 }, key);
      }
      setOutcome({ kind: 'success', order: answer.data });
      attemptKey.current = null;
    } catch (e) {
      const result = outcomeOf(e);
      setOutcome(result);
      // The server says not yet while this page counted it open: its clock moved; measure again.
      if (result.kind === 'notstarted') void resyncClock();
      // A definite answer ends the attempt; after an unknown one the next click asks again with
      // the same key, and gets the first request's outcome if it did go through.
      if (!(e instanceof NetworkError) && !(e instanceof ApiError && e.status >= 500)) attemptKey.current = null;
    } finally {
      busy.current = false;
    }
  };

  const buying = outcome?.kind === 'buying';
  const done = outcome?.kind === 'success' || outcome?.kind === 'limit';
  const canBuy = state === 'live' && !buying && !done && (units === null || units > 0);
  let label = t('drop.buy');
  if (buying) label = t('drop.buying');
  else if (outcome?.kind === 'success') label = t('drop.bought');
  else if (outcome?.kind === 'limit') label = t('drop.limitReached');
  else if (state === 'upcoming') label = t('drop.notStarted');
  else if (state === 'preparing') label = t('drop.preparing');
  else if (state === 'soldout') label = t('state.soldout');
  else if (state === 'ended') label = t('state.ended');
  else if (state === 'none') label = t('drop.noSale');

  const opensIn = sale ? Date.parse(sale.startsAt) - now : 0;

  return (
    <PageFrame title={product.name}>
      <div class="drop" data-state={state}>
        {product.imageUrl && <img class="drop-image" src={product.imageUrl} alt="" width={480} height={320} />}
        <p class="drop-price">{formatPrice(product.price)}</p>
        <p class="drop-meta">
          <StateBadge state={state} />{' '}
          <span class="stock" aria-live="polite" data-testid="stock" data-stock={units ?? ''}>
            {units === null ? t('drop.stockUnknown') : t('drop.left', { n: units })}
          </span>
        </p>
        {sale && state === 'upcoming' && (
          <p class="countdown">
            {t('drop.opensIn')}{' '}
            <span role="timer" data-testid="countdown" data-synced={synced}>
              {synced ? countdown(opensIn) : '…'}
            </span>
            <br />
            <small>{t('drop.opensAt', { at: formatDateTime(sale.startsAt) })}</small>
          </p>
        )}
        {sale && state === 'live' && <p class="hint">{t('drop.limit', { n: sale.perMemberLimit })}</p>}
        {s ? (
          <button
            type="button"
            class="buy"
            data-testid="buy"
            disabled={!canBuy}
            aria-disabled={!canBuy}
            aria-busy={buying}
            onClick={buy}
          >
            {label}
          </button>
        ) : (
          <a class="button buy" href={`/account/login?next=/drop/${id}`} data-testid="login-to-buy">
            {t('drop.loginToBuy')}
          </a>
        )}
        <div class="outcome" data-testid="outcome" data-outcome={outcome?.kind ?? ''}>
          {outcome?.kind === 'success' && (
            <Notice kind="success">
              <strong>{t('drop.yours')}</strong> {t('drop.orderNumber')}{' '}
              <span data-testid="order-id">{outcome.order.orderId}</span>.{' '}
              <a href="/account/me">{t('drop.seeOrders')}</a>
            </Notice>
          )}
          {outcome?.kind === 'soldout' && <Notice kind="info">{t('drop.soldOutMessage')}</Notice>}
          {outcome?.kind === 'limit' && <Notice kind="info">{t('drop.limitMessage')}</Notice>}
          {outcome?.kind === 'declined' && <Notice kind="error">{t('drop.declinedMessage')}</Notice>}
          {outcome?.kind === 'unverified' && (
            <Notice kind="error">
              {t('drop.unverifiedMessage')} <a href="/account/me">{t('drop.verifyLink')}</a>
            </Notice>
          )}
          {outcome?.kind === 'notstarted' && <Notice kind="info">{t('drop.notStartedMessage')}</Notice>}
          {outcome?.kind === 'ended' && <Notice kind="info">{t('drop.endedMessage')}</Notice>}
          {outcome?.kind === 'error' && <Notice kind="error">{errorText(outcome.error)}</Notice>}
        </div>
        {product.description && <p class="description">{product.description}</p>}
        <p>
          <a href={`/shop/${id}`}>{t('drop.productPage')}</a>
        </p>
      </div>
    </PageFrame>
  );
}
