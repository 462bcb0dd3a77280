// Operator pages (admin role): products, sale windows and limits, restock, orders by status with
// advance/hold/release, and the per-sale summary, live during a drop.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, get, session } from '../api';
import { formatDateTime, formatPrice, t, useLang, type MessageKey } from '../i18n';
import { match, navigate, route } from '../router';
import { useLiveStock } from '../stock';
import { useStore } from '../store';
import type { Page, Product } from '../types';
import { Field, Loading, Notice, PageFrame, StateBadge, errorText } from '../ui';

type Msg = { kind: 'success' | 'error'; text: string } | null;

function useAction() {
  const [msg, setMsg] = useState<Msg>(null);
  const [busy, setBusy] = useState(false);
  const run = async (fn: () => Promise<string>) => {
    if (busy) return;
    setBusy(true);
    setMsg(null);
    try {
      setMsg({ kind: 'success', text: await fn() });
    } catch (e) {
      setMsg({ kind: 'error', text: errorText(e) });
    } finally {
      setBusy(false);
    }
  };
  return { msg, busy, run };
}

function OperatorNav() {
  return (
    <nav aria-label={t('op.nav')} class="subnav">
      <a href="/operator">{t('op.products')}</a> <a href="/operator/orders">{t('op.orders')}</a>
    </nav>
  );
}

/** datetime-local (the operator's local time) <-> RFC 3339 UTC. */
function toLocalInput(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
function fromLocalInput(value: string): string {
  return new Date(value).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function ProductsPage() {
  useLang();
  const [items, setItems] = useState<Product[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [draft, setDraft] = useState({ name: '', description: '', price: '', stock: '', imageUrl: '' });
  const action = useAction();
  const load = () => get<Page<Product>>('/products?limit=100&sort=newest').then((p) => setItems(p.items), setError);
  useEffect(() => {
    void load();
  }, []);
  const set = (k: keyof typeof draft) => (v: string) => setDraft((d) => ({ ...d, [k]: v }));
  const create = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      const body: Record<string, unknown> = { name: draft.name, price: Number(draft.price), stock: Number(draft.stock) };
      if (draft.description) body.description = draft.description;
      if (draft.imageUrl) body.imageUrl = draft.imageUrl;
      const res = await api<Product>('POST', '/products', { body });
      setDraft({ name: '', description: '', price: '', stock: '', imageUrl: '' });
      await load();
      navigate(`/operator/products/${res.data.id}`);
      return t('op.created', { id: res.data.id });
    });
  };
  return (
    <PageFrame title={t('op.products')} wide>
      <OperatorNav />
      {error ? <Notice kind="error">{errorText(error)}</Notice> : null}
      <div class="table-wrap">
        <table data-testid="op-products">
          <caption class="visually-hidden">{t('op.products')}</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">{t('field.productName')}</th>
              <th scope="col">{t('field.price')}</th>
              <th scope="col">{t('field.stock')}</th>
              <th scope="col">{t('shop.saleState')}</th>
              <th scope="col">
                <span class="visually-hidden">{t('op.actions')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items?.map((p) => (
              <tr key={p.id}>
                <td>{p.id}</td>
                <td>
                  <a href={`/operator/products/${p.id}`}>{p.name}</a>
                </td>
                <td>{formatPrice(p.price)}</td>
                <td>{p.stock}</td>
                <td>
                  <StateBadge state={p.saleState} />
                </td>
                <td>
                  {p.sale && (
                    <a href={`/operator/sales/${p.id}`} aria-label={t('op.summaryOf', { name: p.name })}>
                      {t('op.summary')}
                    </a>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {!items && !error && <Loading />}
      <h2>{t('op.newProduct')}</h2>
      <form onSubmit={create} class="grid-form" noValidate>
        <Field label={t('field.productName')} name="name" required value={draft.name} onValue={set('name')} />
        <Field label={t('field.description')} name="description" value={draft.description} onValue={set('description')} />
        <Field label={t('field.price')} name="price" type="number" min={0} inputMode="numeric" required value={draft.price} onValue={set('price')} />
        <Field label={t('field.stock')} name="stock" type="number" min={0} inputMode="numeric" required value={draft.stock} onValue={set('stock')} />
        <Field label={t('field.imageUrl')} name="imageUrl" type="url" value={draft.imageUrl} onValue={set('imageUrl')} />
        <button type="submit" disabled={action.busy} data-testid="op-create">
          {t('op.create')}
        </button>
      </form>
      {action.msg && <Notice kind={action.msg.kind}>{action.msg.text}</Notice>}
    </PageFrame>
  );
}

function ProductAdmin({ id }: { id: number }) {
  useLang();
  const [product, setProduct] = useState<Product | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [edit, setEdit] = useState({ name: '', description: '', price: '', imageUrl: '' });
  const [sale, setSale] = useState({ startsAt: '', endsAt: '', perMemberLimit: '1' });
  const [restock, setRestock] = useState('');
  const action = useAction();
  const load = () =>
    get<Product>(`/products/${id}`).then((p) => {
      setProduct(p);
      setEdit({ name: p.name, description: p.description ?? '', price: String(p.price), imageUrl: p.imageUrl ?? '' });
      const start = p.sale?.startsAt ?? new Date(Date.now() + 60_000).toISOString();
      const end = p.sale?.endsAt ?? new Date(Date.now() + 3_600_000).toISOString();
      setSale({ startsAt: toLocalInput(start), endsAt: toLocalInput(end), perMemberLimit: String(p.sale?.perMemberLimit ?? 1) });
    }, setError);
  useEffect(() => {
    void load();
  }, [id]);
  if (error) return <Notice kind="error">{errorText(error)}</Notice>;
  if (!product) return <Loading />;
  const save = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      await api('PUT', `/products/${id}`, {
        body: { name: edit.name, description: edit.description, price: Number(edit.price), ...(edit.imageUrl ? { imageUrl: edit.imageUrl } : {}) },
      });
      await load();
      return t('op.saved');
    });
  };
  const saveSale = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      await api('PUT', `/payment/${id}/sale`, {
        body: { startsAt: fromLocalInput(sale.startsAt), endsAt: fromLocalInput(sale.endsAt), perMemberLimit: Number(sale.perMemberLimit) },
      });
      await load();
      return t('op.saleSaved');
    });
  };
  const doRestock = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      const res = await api<{ available: number }>('POST', `/payment/${id}/restock`, { body: { quantity: Number(restock) } });
      setRestock('');
      await load();
      return t('op.restocked', { n: res.data.available });
    });
  };
  const retire = () =>
    action.run(async () => {
      if (!confirm(t('op.retireConfirm', { name: product.name }))) return t('op.notRetired');
      await api('DELETE', `/products/${id}`);
      navigate('/operator');
      return t('op.retired');
    });
  return (
    <PageFrame title={product.name} wide>
      <OperatorNav />
      <p>
        <StateBadge state={product.saleState} /> {t('shop.stock', { n: product.stock })} ·{' '}
        <a href={`/operator/sales/${id}`}>{t('op.summary')}</a> · <a href={`/drop/${id}`}>{t('op.dropPage')}</a>
      </p>
      {action.msg && (
        <Notice kind={action.msg.kind} testId="op-message">
          {action.msg.text}
        </Notice>
      )}
      <div class="columns">
        <form onSubmit={save} class="panel" noValidate aria-labelledby="op-edit">
          <h2 id="op-edit">{t('op.edit')}</h2>
          <Field label={t('field.productName')} name="name" value={edit.name} onValue={(v) => setEdit({ ...edit, name: v })} />
          <Field label={t('field.description')} name="description" value={edit.description} onValue={(v) => setEdit({ ...edit, description: v })} />
          <Field label={t('field.price')} name="price" type="number" inputMode="numeric" value={edit.price} onValue={(v) => setEdit({ ...edit, price: v })} />
          <Field label={t('field.imageUrl')} name="imageUrl" type="url" value={edit.imageUrl} onValue={(v) => setEdit({ ...edit, imageUrl: v })} />
          <button type="submit" disabled={action.busy}>
            {t('op.save')}
          </button>
        </form>
        <form onSubmit={saveSale} class="panel" noValidate aria-labelledby="op-sale">
          <h2 id="op-sale">{t('op.sale')}</h2>
          <Field label={t('field.startsAt')} name="startsAt" type="datetime-local" step={1} value={sale.startsAt} onValue={(v) => setSale({ ...sale, startsAt: v })} />
          <Field label={t('field.endsAt')} name="endsAt" type="datetime-local" step={1} value={sale.endsAt} onValue={(v) => setSale({ ...sale, endsAt: v })} />
          <Field
            label={t('field.perMemberLimit')}
            name="perMemberLimit"
            type="number"
            min={1}
            inputMode="numeric"
            value={sale.perMemberLimit}
            onValue={(v) => setSale({ ...sale, perMemberLimit: v })}
          />
          <button type="submit" disabled={action.busy} data-testid="op-save-sale">
            {t('op.saveSale')}
          </button>
        </form>
        <form onSubmit={doRestock} class="panel" noValidate aria-labelledby="op-restock">
          <h2 id="op-restock">{t('op.restock')}</h2>
          <Field label={t('field.quantity')} name="restock" type="number" min={1} inputMode="numeric" value={restock} onValue={setRestock} />
          <button type="submit" disabled={action.busy}>
            {t('op.restock')}
          </button>
        </form>
      </div>
      <p>
        <button type="button" class="danger" onClick={retire}>
          {t('op.retire')}
        </button>
      </p>
    </PageFrame>
  );
}

interface AdminOrder {
  id: number;
  status: string;
  total: number;
  createdAt: string;
  onHold: boolean;
  memberId?: number;
  lines: { productId: number; quantity: number }[];
}

const STATUSES = ['PAID', 'SHIPPING', 'DELIVERED', 'COMPLETED', 'CANCELLED', 'RETURN_REQUESTED', 'RETURNED'];
const FINAL = new Set(['COMPLETED', 'CANCELLED', 'RETURNED']);

function OrdersAdmin() {
  useLang();
  const { query } = useStore(route);
  const status = query.get('status') ?? 'PAID';
  const [orders, setOrders] = useState<AdminOrder[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [reason, setReason] = useState('');
  const action = useAction();
  const load = () => get<Page<AdminOrder>>(`/admin/orders?status=${status}&limit=50`).then((p) => setOrders(p.items), setError);
  useEffect(() => {
    setOrders(null);
    void load();
  }, [status]);
  const act = (o: AdminOrder, verb: 'advance' | 'hold' | 'release') =>
    action.run(async () => {
      await api('POST', `/admin/orders/${o.id}/${verb}`, { body: { reason: reason || t('op.defaultReason') } });
      await load();
      return t(`op.${verb}Done` as MessageKey, { id: o.id });
    });
  return (
    <PageFrame title={t('op.orders')} wide>
      <OperatorNav />
      <nav aria-label={t('op.byStatus')} class="tabs">
        {STATUSES.map((s) => (
          <a key={s} href={`/operator/orders?status=${s}`} aria-current={s === status ? 'page' : undefined}>
            {t(`order.${s}` as MessageKey)}
          </a>
        ))}
      </nav>
      <Field label={t('op.reason')} name="reason" value={reason} onValue={setReason} hint={t('op.reasonHint')} />
      {action.msg && <Notice kind={action.msg.kind}>{action.msg.text}</Notice>}
      {error ? <Notice kind="error">{errorText(error)}</Notice> : null}
      {!orders && !error && <Loading />}
      {orders && orders.length === 0 && <p>{t('op.noOrders')}</p>}
      <ul class="orders" data-testid="op-orders">
        {orders?.map((o) => (
          <li class="order" key={o.id} data-order-id={o.id}>
            <h3>
              {t('order.number', { id: o.id })} · {t(`order.${o.status}` as MessageKey)}
              {o.onHold ? ` · ${t('op.onHold')}` : ''}
            </h3>
            <p>
              {formatDateTime(o.createdAt)} · {formatPrice(o.total)}
              {o.memberId ? ` · ${t('op.member', { id: o.memberId })}` : ''}
            </p>
            {!FINAL.has(o.status) && (
              <div class="actions">
                <button type="button" disabled={action.busy} onClick={() => act(o, 'advance')}>
                  {t('op.advance')}
                </button>
                {o.onHold ? (
                  <button type="button" disabled={action.busy} onClick={() => act(o, 'release')}>
                    {t('op.release')}
                  </button>
                ) : (
                  <button type="button" disabled={action.busy} onClick={() => act(o, 'hold')}>
                    {t('op.hold')}
                  </button>
                )}
              </div>
            )}
          </li>
        ))}
      </ul>
    </PageFrame>
  );
}

interface Summary {
  productId: number;
  ordersByStatus: Record<string, number>;
  cancelled: { orders: number; units: number; amount: number };
  returned: { orders: number; units: number; amount: number };
  available: number | null;
  held: number | null;
  sold: number | null;
  refunded?: { units: number; amount: number } | null;
  revenue: number | null;
}

function SaleSummary({ id }: { id: number }) {
  useLang();
  const [summary, setSummary] = useState<Summary | null>(null);
  const [product, setProduct] = useState<Product | null>(null);
  const [error, setError] = useState<unknown>(null);
  const { stock } = useLiveStock([id]);
  const live = stock.get(id);
  useEffect(() => {
    get<Product>(`/products/${id}`).then(setProduct, setError);
  }, [id]);
  // The summary follows the live stream (every stock change re-reads it) and, for what the stock
  // does not show (a held unit becoming sold), re-reads itself every second.
  useEffect(() => {
    get<Summary>(`/admin/sales/${id}/summary`).then(setSummary, setError);
  }, [id, live?.stock, live?.state]);
  useEffect(() => {
    const timer = window.setInterval(() => get<Summary>(`/admin/sales/${id}/summary`).then(setSummary, () => undefined), 1000);
    return () => window.clearInterval(timer);
  }, [id]);
  const oversold = summary?.available != null && summary.available < 0 ? -summary.available : 0;
  const rows: [MessageKey, string | number][] = summary
    ? [
        ['op.liveStock', live?.stock ?? summary.available ?? '—'],
        ['op.sold', summary.sold ?? '—'],
        ['op.held', summary.held ?? '—'],
        ['op.available', summary.available ?? '—'],
        ['op.oversold', oversold],
        ['op.cancelledUnits', summary.cancelled.units],
        ['op.returnedUnits', summary.returned.units],
        ['op.revenue', summary.revenue == null ? '—' : formatPrice(summary.revenue)],
      ]
    : [];
  return (
    <PageFrame title={t('op.summaryTitle', { name: product?.name ?? `#${id}` })} wide>
      <OperatorNav />
      {live && (
        <p>
          <StateBadge state={live.state} />
        </p>
      )}
      {error instanceof ApiError && <Notice kind="error">{errorText(error)}</Notice>}
      {!summary && !error && <Loading />}
      {summary && (
        <dl class="figures" data-testid="summary">
          {rows.map(([k, v]) => (
            <div key={k} data-figure={k.slice(3)}>
              <dt>{t(k)}</dt>
              <dd>{v}</dd>
            </div>
          ))}
        </dl>
      )}
      {summary && Object.keys(summary.ordersByStatus).length > 0 && (
        <>
          <h2>{t('op.ordersByStatus')}</h2>
          <ul>
            {Object.entries(summary.ordersByStatus).map(([s, n]) => (
              <li key={s}>
                {t(`order.${s}` as MessageKey)}: {n}
              </li>
            ))}
          </ul>
        </>
      )}
    </PageFrame>
  );
}

export function OperatorRoutes({ path }: { path: string }) {
  const s = useStore(session);
  useLang();
  if (!s) {
    return (
      <PageFrame title={t('op.title')}>
        <a class="button" href={`/account/login?next=${encodeURIComponent(path)}`}>
          {t('shop.loginFirst')}
        </a>
      </PageFrame>
    );
  }
  if (s.role !== 'admin') {
    return (
      <PageFrame title={t('op.title')}>
        <Notice kind="error">{t('err.FORBIDDEN')}</Notice>
      </PageFrame>
    );
  }
  let p: Record<string, string> | null;
  if (path === '/operator' || path === '/operator/products') return <ProductsPage />;
  if (path === '/operator/orders') return <OrdersAdmin />;
  if ((p = match('/operator/products/{id}', path))) return <ProductAdmin key={p.id} id={Number(p.id)} />;
  if ((p = match('/operator/sales/{id}', path))) return <SaleSummary key={p.id} id={Number(p.id)} />;
  return (
    <PageFrame title={t('notFound.title')}>
      <a href="/operator">{t('op.products')}</a>
    </PageFrame>
  );
}
