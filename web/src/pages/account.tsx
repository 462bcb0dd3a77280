// Account: sign up, confirm the mailed link (with a POST: a mail scanner that opens the link must
// not use it up), log in and out, forgotten password, my page (orders with their history, cancel
// and return, refunds), profile.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, get, logout, saveTokens, session } from '../api';
import { formatDateTime, formatPrice, t, useLang, type MessageKey } from '../i18n';
import { navigate, route } from '../router';
import { useStore } from '../store';
import type { Page } from '../types';
import { Field, Loading, Notice, PageFrame, errorText } from '../ui';

type Msg = { kind: 'success' | 'error' | 'info'; text: string } | null;

function useForm<T extends Record<string, string>>(initial: T) {
  const [values, setValues] = useState(initial);
  const [fieldError, setFieldError] = useState<{ field?: string; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof T) => (v: string) => setValues((prev) => ({ ...prev, [k]: v }));
  const errorFor = (k: string) => (fieldError?.field === k ? fieldError.text : undefined);
  const submit = (fn: () => Promise<void>) => async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setFieldError(null);
    try {
      await fn();
    } catch (err) {
      setFieldError({ field: err instanceof ApiError ? err.field : undefined, text: errorText(err) });
    } finally {
      setBusy(false);
    }
  };
  return { values, set, submit, busy, fieldError, errorFor };
}

function FormError({ error }: { error: { field?: string; text: string } | null }) {
  return error ? <Notice kind="error">{error.text}</Notice> : null;
}

/** Only same-site paths: a `next` parameter must never send anyone elsewhere. */
function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/account/me';
}

function Login() {
  useLang();
  const { query } = useStore(route);
  const f = useForm({ email: '', password: '' });
  const onSubmit = f.submit(async () => {
    const res = await api<{ accessToken: string; refreshToken: string; expiresIn: number }>('POST', '/auth/login', {
      body: f.values,
      auth: false,
    });
    saveTokens(res.data);
    navigate(safeNext(query.get('next')), true);
  });
  return (
    <PageFrame title={t('login.title')}>
      <form onSubmit={onSubmit} noValidate>
        <Field label={t('field.email')} name="email" type="email" autoComplete="email" required value={f.values.email} onValue={f.set('email')} />
        <Field
          label={t('field.password')}
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={f.values.password}
          onValue={f.set('password')}
        />
        <FormError error={f.fieldError} />
        <button type="submit" disabled={f.busy} data-testid="login-submit">
          {t('login.submit')}
        </button>
      </form>
      <p>
        <a href="/account/signup">{t('login.toSignup')}</a> · <a href="/account/forgot">{t('login.forgot')}</a>
      </p>
    </PageFrame>
  );
}

function Signup() {
  useLang();
  const f = useForm({ email: '', password: '', name: '', phone: '', address: '' });
  const [done, setDone] = useState(false);
  const onSubmit = f.submit(async () => {
    await api('POST', '/member/signup', { body: f.values, auth: false });
    setDone(true);
  });
  if (done) {
    return (
      <PageFrame title={t('signup.title')}>
        <Notice kind="success" testId="signup-done">
          {t('signup.checkMail', { email: f.values.email })}
        </Notice>
      </PageFrame>
    );
  }
  return (
    <PageFrame title={t('signup.title')}>
      <form onSubmit={onSubmit} noValidate>
        <Field label={t('field.email')} name="email" type="email" autoComplete="email" required value={f.values.email} onValue={f.set('email')} error={f.errorFor('email')} />
        <Field
          label={t('field.password')}
          name="password"
          type="password"
          autoComplete="new-password"
          required
          minLength={8}
          hint={t('signup.passwordHint')}
          value={f.values.password}
          onValue={f.set('password')}
          error={f.errorFor('password')}
        />
        <Field label={t('field.name')} name="name" autoComplete="name" required value={f.values.name} onValue={f.set('name')} error={f.errorFor('name')} />
        <Field label={t('field.phone')} name="phone" type="tel" autoComplete="tel" value={f.values.phone} onValue={f.set('phone')} error={f.errorFor('phone')} />
        <Field
          label={t('field.address')}
          name="address"
          autoComplete="street-address"
          value={f.values.address}
          onValue={f.set('address')}
          error={f.errorFor('address')}
        />
        <FormError error={f.fieldError} />
        <button type="submit" disabled={f.busy} data-testid="signup-submit">
          {t('signup.submit')}
        </button>
      </form>
    </PageFrame>
  );
}

function Verify() {
  useLang();
  const { query } = useStore(route);
  const token = query.get('token') ?? '';
  const [msg, setMsg] = useState<Msg>(null);
  const [busy, setBusy] = useState(false);
  const confirm = async () => {
    setBusy(true);
    try {
      let res;
      try {
        res = await api<{ status?: string; alreadyVerified?: boolean }>('POST', '/member/verify', { body: { token }, auth: false });
      } catch (e) {
        // A server without the POST form yet confirms with the link itself.
        if (!(e instanceof ApiError && e.status === 405)) throw e;
        res = await api<{ status?: string; alreadyVerified?: boolean }>('GET', `/member/verify?token=${encodeURIComponent(token)}`, { auth: false });
      }
      const already = res.data?.alreadyVerified === true || res.data?.status === 'already_verified';
      setMsg({ kind: 'success', text: already ? t('verify.already') : t('verify.done') });
    } catch (e) {
      setMsg({ kind: 'error', text: errorText(e) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <PageFrame title={t('verify.title')}>
      {!token && <Notice kind="error">{t('verify.noToken')}</Notice>}
      {token && msg?.kind !== 'success' && (
        <>
          <p>{t('verify.lead')}</p>
          <button type="button" onClick={confirm} disabled={busy} data-testid="verify-confirm">
            {t('verify.confirm')}
          </button>
        </>
      )}
      {msg && (
        <Notice kind={msg.kind} testId="verify-result">
          {msg.text}
        </Notice>
      )}
      {msg?.kind === 'success' && (
        <p>
          <a class="button" href="/account/login">
            {t('login.title')}
          </a>
        </p>
      )}
    </PageFrame>
  );
}

function Forgot() {
  useLang();
  const f = useForm({ email: '' });
  const [done, setDone] = useState(false);
  const onSubmit = f.submit(async () => {
    await api('POST', '/member/find-password', { body: f.values, auth: false });
    setDone(true);
  });
  return (
    <PageFrame title={t('forgot.title')}>
      {done ? (
        <Notice kind="success">{t('forgot.sent')}</Notice>
      ) : (
        <form onSubmit={onSubmit} noValidate>
          <Field label={t('field.email')} name="email" type="email" autoComplete="email" required value={f.values.email} onValue={f.set('email')} />
          <FormError error={f.fieldError} />
          <button type="submit" disabled={f.busy}>
            {t('forgot.submit')}
          </button>
        </form>
      )}
    </PageFrame>
  );
}

function Reset() {
  useLang();
  const { query } = useStore(route);
  const f = useForm({ newPassword: '' });
  const [done, setDone] = useState(false);
  const onSubmit = f.submit(async () => {
    await api('POST', '/member/reset-password', { body: { token: query.get('token') ?? '', newPassword: f.values.newPassword }, auth: false });
    setDone(true);
  });
  return (
    <PageFrame title={t('reset.title')}>
      {done ? (
        <>
          <Notice kind="success">{t('reset.done')}</Notice>
          <p>
            <a class="button" href="/account/login">
              {t('login.title')}
            </a>
          </p>
        </>
      ) : (
        <form onSubmit={onSubmit} noValidate>
          <Field
            label={t('field.newPassword')}
            name="newPassword"
            type="password"
            autoComplete="new-password"
            required
            minLength={8}
            hint={t('signup.passwordHint')}
            value={f.values.newPassword}
            onValue={f.set('newPassword')}
          />
          <FormError error={f.fieldError} />
          <button type="submit" disabled={f.busy}>
            {t('reset.submit')}
          </button>
        </form>
      )}
    </PageFrame>
  );
}

interface Profile {
  id: number;
  email: string;
  name: string;
  phone: string | null;
  address: string | null;
  emailVerified: boolean;
  role: string;
}
interface OrderLine {
  productId: number;
  quantity: number;
  price: number;
  name?: string;
}
interface Order {
  id: number;
  status: string;
  total: number;
  createdAt: string;
  onHold?: boolean;
  lines: OrderLine[];
  history?: { status: string; at: string; cause: string }[]; // only on GET /order/{id}
  refund?: { status?: string; amount?: number } | null;
}

// Order lines may carry only a product id: names come from the catalog, once per product.
const productNames = new Map<number, Promise<string | null>>();
function useProductName(id: number, known?: string): string | null {
  const [name, setName] = useState<string | null>(known ?? null);
  useEffect(() => {
    if (known) return;
    if (!productNames.has(id)) {
      productNames.set(id, get<{ name: string }>(`/products/${id}`).then((p) => p.name, () => null));
    }
    productNames.get(id)!.then(setName);
  }, [id, known]);
  return name;
}

function LineName({ line }: { line: OrderLine }) {
  const name = useProductName(line.productId, line.name);
  return <a href={`/shop/${line.productId}`}>{name ?? t('order.product', { id: line.productId })}</a>;
}

function statusText(status: string): string {
  const key = `order.${status}` as MessageKey;
  const text = t(key);
  return text === key ? status : text;
}

function OrderCard({ order, onChange }: { order: Order; onChange: () => void }) {
  const [msg, setMsg] = useState<Msg>(null);
  const [busy, setBusy] = useState(false);
  const [history, setHistory] = useState(order.history ?? null);
  const [opened, setOpened] = useState(false);
  const loadHistory = (e: Event) => {
    if ((e.target as HTMLDetailsElement).open) {
      setOpened(true);
      get<Order>(`/order/${order.id}`).then((o) => setHistory(o.history ?? []), () => setHistory([]));
    }
  };
  const act = async (method: string, path: string, done: MessageKey) => {
    setBusy(true);
    setMsg(null);
    try {
      await api(method, path);
      setMsg({ kind: 'success', text: t(done) });
      onChange();
    } catch (e) {
      setMsg({ kind: 'error', text: errorText(e) });
    } finally {
      setBusy(false);
    }
  };
  const refunded = order.status === 'CANCELLED' || order.status === 'RETURNED';
  return (
    <li class="order" data-testid="order" data-order-id={order.id} data-status={order.status}>
      <h3>
        {t('order.number', { id: order.id })} · <span class="status">{statusText(order.status)}</span>
      </h3>
      <p>
        {formatDateTime(order.createdAt)} · {formatPrice(order.total)}
      </p>
      <ul class="order-lines">
        {order.lines.map((l) => (
          <li key={l.productId}>
            <LineName line={l} /> × {l.quantity} · {formatPrice(l.price)}
          </li>
        ))}
      </ul>
      {refunded && (
        <p class="refund" data-testid="refund">
          {order.refund?.status
            ? t('order.refundStatus', { status: order.refund.status, amount: formatPrice(order.refund.amount ?? order.total) })
            : t('order.refunded', { amount: formatPrice(order.total) })}
        </p>
      )}
      <details onToggle={loadHistory}>
        <summary>{t('order.history')}</summary>
        {history ? (
          <ol class="history" data-testid="history">
            {history.map((h, i) => (
              <li key={i}>
                {formatDateTime(h.at)} — {statusText(h.status)} {h.cause ? `(${h.cause})` : ''}
              </li>
            ))}
          </ol>
        ) : (
          opened && <Loading />
        )}
      </details>
      <div class="actions">
        {order.status === 'PAID' && (
          <button type="button" disabled={busy} onClick={() => act('DELETE', `/order/${order.id}`, 'order.cancelled')} data-testid="cancel">
            {t('order.cancel')}
          </button>
        )}
        {order.status === 'DELIVERED' && (
          <button type="button" disabled={busy} onClick={() => act('POST', `/order/return/${order.id}`, 'order.returnRequested')} data-testid="return">
            {t('order.return')}
          </button>
        )}
      </div>
      {msg && <Notice kind={msg.kind}>{msg.text}</Notice>}
    </li>
  );
}

function MyPage() {
  useLang();
  const s = useStore(session);
  const [profile, setProfile] = useState<Profile | null>(null);
  const [orders, setOrders] = useState<Order[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [msg, setMsg] = useState<Msg>(null);
  const load = () => {
    get<Profile>('/member/me').then(setProfile, setError);
    get<Page<Order>>('/order?limit=50').then((p) => setOrders(p.items), setError);
  };
  useEffect(() => {
    if (!s) navigate('/account/login?next=/account/me', true);
    else load();
  }, [s?.memberId]);
  if (!s) return <Loading />;
  const resend = async () => {
    try {
      await api('POST', '/member/resend-verification', { body: { email: profile?.email ?? '' }, auth: false });
      setMsg({ kind: 'success', text: t('me.resent') });
    } catch (e) {
      setMsg({ kind: 'error', text: errorText(e) });
    }
  };
  return (
    <PageFrame title={t('me.title')} wide>
      {error ? <Notice kind="error">{errorText(error)}</Notice> : null}
      {profile && (
        <section aria-labelledby="me-profile" class="panel">
          <h2 id="me-profile">{t('me.profile')}</h2>
          <p>
            {profile.name} · {profile.email}
          </p>
          {!profile.emailVerified && (
            <p>
              {t('me.notVerified')}{' '}
              <button type="button" class="link" onClick={resend}>
                {t('me.resend')}
              </button>
            </p>
          )}
          <p>
            <a href="/account/profile">{t('me.editProfile')}</a> · <a href="/shop/wishlist">{t('wish.title')}</a> · <a href="/shop/cart">{t('cart.title')}</a>
          </p>
        </section>
      )}
      {msg && <Notice kind={msg.kind}>{msg.text}</Notice>}
      <section aria-labelledby="me-orders" class="panel">
        <h2 id="me-orders">{t('me.orders')}</h2>
        {!orders && !error && <Loading />}
        {orders && orders.length === 0 && <p>{t('me.noOrders')}</p>}
        <ul class="orders" data-testid="orders">
          {orders?.map((o) => <OrderCard key={o.id} order={o} onChange={load} />)}
        </ul>
      </section>
      <div class="actions">
        <button type="button" onClick={() => logout().then(() => navigate('/'))} data-testid="logout">
          {t('me.logout')}
        </button>
        <button type="button" class="secondary" onClick={() => logout(true).then(() => navigate('/'))}>
          {t('me.logoutAll')}
        </button>
      </div>
    </PageFrame>
  );
}

function ProfilePage() {
  useLang();
  const s = useStore(session);
  const f = useForm({ name: '', phone: '', address: '' });
  const pw = useForm({ currentPassword: '', newPassword: '' });
  const [msg, setMsg] = useState<Msg>(null);
  useEffect(() => {
    if (!s) {
      navigate('/account/login?next=/account/profile', true);
      return;
    }
    get<Profile>('/member/me').then((p) => {
      f.set('name')(p.name);
      f.set('phone')(p.phone ?? '');
      f.set('address')(p.address ?? '');
    });
  }, [s?.memberId]);
  const save = f.submit(async () => {
    await api('PUT', '/member/update-profile', { body: f.values });
    setMsg({ kind: 'success', text: t('profile.saved') });
  });
  const change = pw.submit(async () => {
    await api('PUT', '/member/update-password', { body: pw.values });
    setMsg({ kind: 'success', text: t('profile.passwordChanged') });
  });
  return (
    <PageFrame title={t('profile.title')}>
      <form onSubmit={save} noValidate>
        <Field label={t('field.name')} name="name" autoComplete="name" value={f.values.name} onValue={f.set('name')} error={f.errorFor('name')} />
        <Field label={t('field.phone')} name="phone" type="tel" autoComplete="tel" value={f.values.phone} onValue={f.set('phone')} error={f.errorFor('phone')} />
        <Field label={t('field.address')} name="address" autoComplete="street-address" value={f.values.address} onValue={f.set('address')} error={f.errorFor('address')} />
        <FormError error={f.fieldError} />
        <button type="submit" disabled={f.busy}>
          {t('profile.save')}
        </button>
      </form>
      <h2>{t('profile.password')}</h2>
      <form onSubmit={change} noValidate>
        <Field
          label={t('field.currentPassword')}
          name="currentPassword"
          type="password"
          autoComplete="current-password"
          value={pw.values.currentPassword}
          onValue={pw.set('currentPassword')}
        />
        <Field
          label={t('field.newPassword')}
          name="newPassword"
          type="password"
          autoComplete="new-password"
          value={pw.values.newPassword}
          onValue={pw.set('newPassword')}
        />
        <FormError error={pw.fieldError} />
        <button type="submit" disabled={pw.busy}>
          {t('profile.changePassword')}
        </button>
      </form>
      {msg && <Notice kind={msg.kind}>{msg.text}</Notice>}
    </PageFrame>
  );
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, true), [to]);
  return <Loading />;
}

export function AccountRoutes({ path }: { path: string }) {
  const s = useStore(session);
  switch (path) {
    case '/account':
      return <Redirect to={s ? '/account/me' : '/account/login'} />;
    case '/account/login':
      return <Login />;
    case '/account/signup':
      return <Signup />;
    case '/account/verify':
      return <Verify />;
    case '/account/forgot':
      return <Forgot />;
    case '/account/reset':
      return <Reset />;
    case '/account/me':
      return <MyPage />;
    case '/account/profile':
      return <ProfilePage />;
    default:
      return (
        <PageFrame title={t('notFound.title')}>
          <a href="/account/me">{t('nav.myPage')}</a>
        </PageFrame>
      );
  }
}
