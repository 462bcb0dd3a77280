// The shop: product list (search, sort, sale state), product page (likes, wishlist, cart), the
// wishlist and the cart with all-or-nothing checkout.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, NetworkError, api, get, newKey, purchase, session } from '../api';
import { formatPrice, t, useLang, type MessageKey } from '../i18n';
import { match, navigate, route } from '../router';
import type { SaleState } from '../stock';
import { useStore } from '../store';
import type { PaidOrder, Page, Product } from '../types';
import { Field, Loading, Notice, PageFrame, StateBadge, errorText } from '../ui';

interface BasketLine {
  productId: number;
  name: string;
  quantity: number;
  price: number;
  lineTotal: number;
  stock: number;
  saleState: SaleState;
}
interface Basket {
  items: BasketLine[];
  total: number;
}

const SORTS = ['newest', 'price', '-price', 'name', 'likes'] as const;
const STATES: SaleState[] = ['live', 'upcoming', 'soldout', 'ended', 'none'];

function LoginFirst({ next }: { next: string }) {
  return (
    <p>
      <a class="button" href={`/account/login?next=${encodeURIComponent(next)}`}>
        {t('shop.loginFirst')}
      </a>
    </p>
  );
}

function ShopList() {
  useLang();
  const { query } = useStore(route);
  const [q, setQ] = useState(query.get('q') ?? '');
  const sort = query.get('sort') ?? 'newest';
  const saleState = query.get('saleState') ?? '';
  const [items, setItems] = useState<Product[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const params = (extra: Record<string, string> = {}) => {
    const p = new URLSearchParams({ limit: '24', sort });
    if (query.get('q')) p.set('q', query.get('q')!);
    if (saleState) p.set('saleState', saleState);
    for (const [k, v] of Object.entries(extra)) p.set(k, v);
    return p.toString();
  };
  useEffect(() => {
    setItems(null);
    setError(null);
    get<Page<Product>>(`/products?${params()}`).then((page) => {
      setItems(page.items);
      setCursor(page.nextCursor);
    }, setError);
  }, [query.toString()]);

  const apply = (changes: Record<string, string>) => {
    const p = new URLSearchParams(query);
    for (const [k, v] of Object.entries(changes)) (v ? p.set(k, v) : p.delete(k));
    navigate(`/shop${p.toString() ? `?${p}` : ''}`, true);
  };
  const more = () =>
    cursor &&
    get<Page<Product>>(`/products?${params({ cursor })}`).then((page) => {
      setItems((prev) => [...(prev ?? []), ...page.items]);
      setCursor(page.nextCursor);
    }, setError);

  return (
    <PageFrame title={t('shop.title')} wide>
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          apply({ q });
        }}
      >
        <Field label={t('shop.search')} name="q" type="search" value={q} onValue={setQ} />
        <div class="field">
          <label for="f-sort">{t('shop.sort')}</label>
          <select id="f-sort" value={sort} onChange={(e) => apply({ sort: (e.target as HTMLSelectElement).value })}>
            {SORTS.map((s) => (
              <option value={s} key={s}>
                {t(`sort.${s}` as MessageKey)}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="f-state">{t('shop.saleState')}</label>
          <select id="f-state" value={saleState} onChange={(e) => apply({ saleState: (e.target as HTMLSelectElement).value })}>
            <option value="">{t('shop.anyState')}</option>
            {STATES.map((s) => (
              <option value={s} key={s}>
                {t(`state.${s}` as MessageKey)}
              </option>
            ))}
          </select>
        </div>
        <button type="submit">{t('shop.searchButton')}</button>
      </form>
      {error ? <Notice kind="error">{errorText(error)}</Notice> : null}
      {!items && !error && <Loading />}
      {items && items.length === 0 && <p>{t('shop.empty')}</p>}
      <ul class="cards" data-testid="product-list">
        {items?.map((p) => (
          <li class="card" key={p.id}>
            <a class="card-link" href={`/shop/${p.id}`}>
              <span class="card-title">{p.name}</span>
              <span class="card-price">{formatPrice(p.price)}</span>
              <span class="card-meta">
                <StateBadge state={p.saleState} /> {t('shop.stock', { n: p.stock })} · {t('shop.likes', { n: p.likes })}
              </span>
            </a>
          </li>
        ))}
      </ul>
      {cursor && (
        <button type="button" onClick={more}>
          {t('shop.more')}
        </button>
      )}
    </PageFrame>
  );
}

function ProductPage({ id }: { id: number }) {
  useLang();
  const s = useStore(session);
  const [product, setProduct] = useState<Product | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [message, setMessage] = useState<{ kind: 'success' | 'error'; text: string } | null>(null);
  const [quantity, setQuantity] = useState('1');
  useEffect(() => {
    get<Product>(`/products/${id}`).then(setProduct, setError);
  }, [id, s?.memberId]);
  if (error) {
    return (
      <PageFrame title={t('shop.product')}>
        <Notice kind="error">{errorText(error)}</Notice>
      </PageFrame>
    );
  }
  if (!product) return <Loading />;
  const act = async (fn: () => Promise<string>) => {
    setMessage(null);
    try {
      setMessage({ kind: 'success', text: await fn() });
    } catch (e) {
      setMessage({ kind: 'error', text: errorText(e) });
    }
  };
  const like = () =>
    act(async () => {
      const res = await api<{ likes: number; likedByMe: boolean }>(product.likedByMe ? 'DELETE' : 'PUT', `/products/${id}/like`);
      setProduct({ ...product, likes: res.data.likes, likedByMe: res.data.likedByMe });
      return res.data.likedByMe ? t('shop.liked') : t('shop.unliked');
    });
  const wish = () =>
    act(async () => {
      await api('POST', '/products/wishlist', { body: { productId: id, quantity: Number(quantity) } });
      return t('shop.wished');
    });
  const toCart = () =>
    act(async () => {
      await api('PUT', `/cart/items/${id}`, { body: { quantity: Number(quantity) } });
      return t('shop.carted');
    });
  return (
    <PageFrame title={product.name}>
      {product.imageUrl && <img class="drop-image" src={product.imageUrl} alt="" width={480} height={320} />}
      <p class="drop-price">{formatPrice(product.price)}</p>
      <p>
        <StateBadge state={product.saleState} /> {t('shop.stock', { n: product.stock })}
      </p>
      {product.description && <p class="description">{product.description}</p>}
      {product.sale && (
        <p>
          <a href={`/drop/${id}`}>{t('shop.toDrop')}</a>
        </p>
      )}
      <p>
        <span data-testid="likes">{t('shop.likes', { n: product.likes })}</span>
      </p>
      {s ? (
        <div class="actions">
          <button type="button" aria-pressed={!!product.likedByMe} onClick={like} data-testid="like">
            {product.likedByMe ? t('shop.unlike') : t('shop.like')}
          </button>
          <Field
            label={t('shop.quantity')}
            name="quantity"
            type="number"
            min={1}
            max={99}
            inputMode="numeric"
            value={quantity}
            onValue={setQuantity}
          />
          <button type="button" onClick={wish} data-testid="wish">
            {t('shop.addToWishlist')}
          </button>
          <button type="button" onClick={toCart} data-testid="add-to-cart">
            {t('shop.addToCart')}
          </button>
        </div>
      ) : (
        <LoginFirst next={`/shop/${id}`} />
      )}
      {message && <Notice kind={message.kind}>{message.text}</Notice>}
    </PageFrame>
  );
}

/** What stops a cart line from being bought now, or null. */
function lineProblem(line: BasketLine): string | null {
  if (line.saleState === 'none') return t('cart.noSale');
  if (line.saleState === 'upcoming') return t('cart.notStarted');
  if (line.saleState === 'preparing') return t('cart.preparing');
  if (line.saleState === 'ended') return t('cart.ended');
  if (line.saleState === 'soldout' || line.stock <= 0) return t('cart.soldOut');
  if (line.quantity > line.stock) return t('cart.onlyLeft', { n: line.stock });
  return null;
}

function CartPage() {
  useLang();
  const s = useStore(session);
  const [cart, setCart] = useState<Basket | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<{ kind: 'success'; order: PaidOrder } | { kind: 'error'; error: unknown } | null>(null);
  const [buying, setBuying] = useState(false);
  const key = useRef<string | null>(null);
  const load = () => get<Basket>('/cart').then(setCart, setError);
  useEffect(() => {
    if (s) void load();
  }, [s?.memberId]);
  if (!s) {
    return (
      <PageFrame title={t('cart.title')}>
        <LoginFirst next="/shop/cart" />
      </PageFrame>
    );
  }
  const change = async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
      await load();
    } catch (e) {
      setError(e);
    }
  };
  const checkout = async () => {
    if (buying) return;
    setBuying(true);
    setResult(null);
    key.current ??= newKey();
    try {
      const answer = await purchase<PaidOrder>('/cart/checkout', undefined, key.current);
      setResult({ kind: 'success', order: answer.data });
      key.current = null;
      await load();
    } catch (e) {
      setResult({ kind: 'error', error: e });
      if (!(e instanceof NetworkError) && !(e instanceof ApiError && e.status >= 500)) key.current = null;
      await load().catch(() => undefined); // show what is wrong with each line now
    } finally {
      setBuying(false);
    }
  };
  const problems = cart?.items.map(lineProblem) ?? [];
  const blocked = problems.some(Boolean);
  return (
    <PageFrame title={t('cart.title')}>
      {error ? <Notice kind="error">{errorText(error)}</Notice> : null}
      {!cart && !error && <Loading />}
      {cart && cart.items.length === 0 && result?.kind !== 'success' && <p>{t('cart.empty')}</p>}
      {cart && cart.items.length > 0 && (
        <>
          <ul class="lines" data-testid="cart-lines">
            {cart.items.map((line, i) => (
              <li key={line.productId} class={problems[i] ? 'line has-problem' : 'line'}>
                <a href={`/shop/${line.productId}`}>{line.name}</a>
                <span>{formatPrice(line.price)}</span>
                <label>
                  {t('shop.quantity')}{' '}
                  <select
                    value={line.quantity}
                    aria-label={t('cart.quantityOf', { name: line.name })}
                    onChange={(e) =>
                      change(() =>
                        api('PUT', `/cart/items/${line.productId}`, {
                          body: { quantity: Number((e.target as HTMLSelectElement).value) },
                        }),
                      )
                    }
                  >
                    {Array.from({ length: Math.max(10, line.quantity) }, (_, n) => n + 1).map((n) => (
                      <option value={n} key={n}>
                        {n}
                      </option>
                    ))}
                  </select>
                </label>
                <span>{formatPrice(line.lineTotal)}</span>
                <button
                  type="button"
                  class="link"
                  aria-label={t('cart.removeName', { name: line.name })}
                  onClick={() => change(() => api('DELETE', `/cart/items/${line.productId}`))}
                >
                  {t('cart.remove')}
                </button>
                {problems[i] && (
                  <p class="field-error" data-testid="line-problem">
                    {problems[i]}
                  </p>
                )}
              </li>
            ))}
          </ul>
          <p class="total">
            {t('cart.total')} <strong>{formatPrice(cart.total)}</strong>
          </p>
          {blocked && <Notice kind="info">{t('cart.fixLines')}</Notice>}
          <button type="button" class="buy" onClick={checkout} disabled={buying || blocked} aria-busy={buying} data-testid="checkout">
            {buying ? t('drop.buying') : t('cart.checkout')}
          </button>
        </>
      )}
      {result?.kind === 'success' && (
        <Notice kind="success" testId="checkout-result">
          {t('cart.paid')} {t('drop.orderNumber')} <span data-testid="order-id">{result.order.orderId}</span>.{' '}
          <a href="/account/me">{t('drop.seeOrders')}</a>
        </Notice>
      )}
      {result?.kind === 'error' && <Notice kind="error">{errorText(result.error)}</Notice>}
    </PageFrame>
  );
}

interface WishLine {
  productId: number;
  name: string;
  quantity: number;
  price: number;
}

function WishlistPage() {
  useLang();
  const s = useStore(session);
  const [items, setItems] = useState<WishLine[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = () => get<{ items: WishLine[] }>('/products/wishlist').then((w) => setItems(w.items), setError);
  useEffect(() => {
    if (s) void load();
  }, [s?.memberId]);
  if (!s) {
    return (
      <PageFrame title={t('wish.title')}>
        <LoginFirst next="/shop/wishlist" />
      </PageFrame>
    );
  }
  return (
    <PageFrame title={t('wish.title')}>
      {error ? <Notice kind="error">{errorText(error)}</Notice> : null}
      {!items && !error && <Loading />}
      {items && items.length === 0 && <p>{t('wish.empty')}</p>}
      <ul class="lines" data-testid="wishlist">
        {items?.map((w) => (
          <li class="line" key={w.productId}>
            <a href={`/shop/${w.productId}`}>{w.name}</a>
            <span>× {w.quantity}</span>
            <span>{formatPrice(w.price)}</span>
            <button
              type="button"
              class="link"
              aria-label={t('cart.removeName', { name: w.name })}
              onClick={() => api('DELETE', `/products/wishlist/${w.productId}`).then(load, setError)}
            >
              {t('cart.remove')}
            </button>
          </li>
        ))}
      </ul>
    </PageFrame>
  );
}

export function ShopRoutes({ path }: { path: string }) {
  if (path === '/shop') return <ShopList />;
  if (path === '/shop/cart') return <CartPage />;
  if (path === '/shop/wishlist') return <WishlistPage />;
  const p = match('/shop/{id}', path);
  if (p && /^\d+$/.test(p.id)) return <ProductPage key={p.id} id={Number(p.id)} />;
  return (
    <PageFrame title={t('notFound.title')}>
      <a href="/shop">{t('nav.shop')}</a>
    </PageFrame>
  );
}
