#include <stdexcept>

#include "infra/events/postgres_outbox/outbox.hpp"
#include "infra/postgres/migrations.hpp"
#include "services/checkout/adapters/postgres/postgres_checkout_internal.hpp"

namespace rocketmart::checkout {

namespace asio = boost::asio;

namespace {

// checkout.db's eight SQLite versions as one PostgreSQL schema (see sqlite_checkout_schema.cpp for
// why each column exists), plus checkout_place_hold: the whole hold transaction as one statement,
// so that many holds go to the server in one pipeline and commit together (group commit).
constexpr postgres::Migration kMigrations[] = {
    {1, "inventory, sales, holds, payments, ledger, idempotency, place_hold", R"sql(
      CREATE TABLE inventory (
        product_id      bigint  PRIMARY KEY,
        price           bigint  NOT NULL CHECK (price >= 0),
        initial         bigint  NOT NULL CHECK (initial >= 0),
        restocked       bigint  NOT NULL DEFAULT 0 CHECK (restocked >= 0),
        available       bigint  NOT NULL CHECK (available >= 0),
        held            bigint  NOT NULL DEFAULT 0 CHECK (held >= 0),
        sold            bigint  NOT NULL DEFAULT 0 CHECK (sold >= 0),
        refunded        bigint  NOT NULL DEFAULT 0 CHECK (refunded >= 0),
        retired         boolean NOT NULL DEFAULT false,
        catalog_version bigint  NOT NULL,
        name            text    NOT NULL DEFAULT ''
      );
      CREATE TABLE sales (
        product_id       bigint PRIMARY KEY,
        starts_at_ms     bigint NOT NULL,
        ends_at_ms       bigint NOT NULL,
        per_member_limit bigint NOT NULL CHECK (per_member_limit >= 1),
        updated_at_ms    bigint NOT NULL,
        CHECK (ends_at_ms > starts_at_ms)
      );
      CREATE TABLE member_units (
        product_id bigint NOT NULL,
        member_id  bigint NOT NULL,
        units      bigint NOT NULL CHECK (units >= 0),
        PRIMARY KEY (product_id, member_id)
      );
      CREATE TABLE holds (
        id                     bigserial PRIMARY KEY,
        member_id              bigint NOT NULL,
        status                 text   NOT NULL
          CHECK (status IN ('ACTIVE', 'PAYING', 'PAID', 'RELEASED', 'EXPIRED')),
        total                  bigint NOT NULL,
        created_at_ms          bigint NOT NULL,
        expires_at_ms          bigint NOT NULL,
        resolved_at_ms         bigint,
        release_reason         text,
        payer                  text,
        payment_lease_until_ms bigint
      );
      CREATE INDEX holds_active_by_expiry ON holds (expires_at_ms, id) WHERE status = 'ACTIVE';
      CREATE INDEX holds_active_by_member ON holds (member_id, id) WHERE status = 'ACTIVE';
      CREATE INDEX holds_paying ON holds (id) WHERE status = 'PAYING';
      CREATE TABLE hold_lines (
        hold_id    bigint NOT NULL,
        product_id bigint NOT NULL,
        quantity   bigint NOT NULL CHECK (quantity > 0),
        price      bigint NOT NULL CHECK (price >= 0),
        PRIMARY KEY (hold_id, product_id)
      );
      CREATE TABLE payments (
        id                    bigserial PRIMARY KEY,
        hold_id               bigint  NOT NULL UNIQUE,
        member_id             bigint  NOT NULL,
        amount                bigint  NOT NULL,
        provider_ref          text    NOT NULL,
        status                text    NOT NULL CHECK (status IN ('CAPTURED', 'REFUNDED')),
        created_at_ms         bigint  NOT NULL,
        refund_pending        boolean NOT NULL DEFAULT false,
        refunded_at_ms        bigint,
        refund_worker         text,
        refund_lease_until_ms bigint
      );
      CREATE INDEX payments_refund_pending ON payments (id) WHERE refund_pending;
      CREATE TABLE stock_ledger (
        seq        bigserial PRIMARY KEY,
        product_id bigint NOT NULL,
        kind       text   NOT NULL,
        quantity   bigint NOT NULL,
        hold_id    bigint,
        at_ms      bigint NOT NULL
      );
      CREATE TABLE idempotency (
        member_id     bigint NOT NULL,
        key           text   NOT NULL,
        request_hash  text   NOT NULL,
        operation     text   NOT NULL,
        hold_id       bigint NOT NULL,
        created_at_ms bigint NOT NULL,
        PRIMARY KEY (member_id, key)
      );
      CREATE INDEX idempotency_by_age ON idempotency (created_at_ms);

      -- Places one hold, whole or not at all, and answers its id, or -1 (the idempotency key is
      -- claimed already), -2 (sold out, retired or unknown product), -3 (the member's limit).
      -- The key is claimed first, so a retry is answered from the record before any refusal its
      -- first request caused (a concurrent first request with the key: this waits for it). A
      -- refusal rolls back the block (a subtransaction): the caller's other holds in the same
      -- transaction (a pipelined batch) are untouched. Lines are taken in product order, so two
      -- holds over the same products lock their rows in the same order.
      CREATE FUNCTION checkout_place_hold(
          p_member bigint, p_products bigint[], p_quantities bigint[], p_prices bigint[],
          p_limits bigint[], p_pay_now boolean, p_payer text, p_lease_until_ms bigint,
          p_now_ms bigint, p_expires_at_ms bigint, p_key text, p_request_hash text,
          p_operation text)
        RETURNS bigint LANGUAGE plpgsql AS $$
      DECLARE
        v_id    bigint := nextval(pg_get_serial_sequence('holds', 'id'));
        v_total bigint := 0;
        i       integer;
      BEGIN
        BEGIN
          IF p_key IS NOT NULL THEN
            INSERT INTO idempotency (member_id, key, request_hash, operation, hold_id,
                                     created_at_ms)
            VALUES (p_member, p_key, p_request_hash, p_operation, v_id, p_now_ms)
            ON CONFLICT DO NOTHING;
            IF NOT FOUND THEN RETURN -1; END IF;
          END IF;
          FOR i IN SELECT u.ord FROM unnest(p_products) WITH ORDINALITY AS u(product, ord)
                   ORDER BY u.product LOOP
            -- The truth about stock: this UPDATE cannot take more than is available.
            UPDATE inventory SET available = available - p_quantities[i],
                                 held = held + p_quantities[i]
             WHERE product_id = p_products[i] AND available >= p_quantities[i] AND NOT retired;
            IF NOT FOUND THEN RAISE EXCEPTION USING ERRCODE = 'RMS01'; END IF;
            IF p_quantities[i] > p_limits[i] THEN RAISE EXCEPTION USING ERRCODE = 'RML01'; END IF;
            INSERT INTO member_units AS m (product_id, member_id, units)
            VALUES (p_products[i], p_member, p_quantities[i])
            ON CONFLICT (product_id, member_id) DO UPDATE SET units = m.units + excluded.units
             WHERE m.units + excluded.units <= p_limits[i];
            IF NOT FOUND THEN RAISE EXCEPTION USING ERRCODE = 'RML01'; END IF;
            v_total := v_total + p_quantities[i] * p_prices[i];
          END LOOP;
          INSERT INTO holds (id, member_id, status, total, created_at_ms, expires_at_ms, payer,
                             payment_lease_until_ms)
          VALUES (v_id, p_member, CASE WHEN p_pay_now THEN 'PAYING' ELSE 'ACTIVE' END, v_total,
                  p_now_ms, p_expires_at_ms, CASE WHEN p_pay_now THEN p_payer END,
                  CASE WHEN p_pay_now THEN p_lease_until_ms END);
          INSERT INTO hold_lines (hold_id, product_id, quantity, price)
          SELECT v_id, u.p, u.q, u.pr FROM unnest(p_products, p_quantities, p_prices) AS u(p, q, pr);
          INSERT INTO stock_ledger (product_id, kind, quantity, hold_id, at_ms)
          SELECT u.p, 'HOLD', u.q, v_id, p_now_ms FROM unnest(p_products, p_quantities) AS u(p, q);
        EXCEPTION
          -- The key's record is rolled back with the refusal: a refused request claims nothing.
          WHEN SQLSTATE 'RMS01' THEN RETURN -2;
          WHEN SQLSTATE 'RML01' THEN RETURN -3;
        END;
        RETURN v_id;
      END;
      $$;
    )sql"},
    {2, "complete_payment, sell_held: payments completed in batches", R"sql(
      -- Completes one payment inside the caller's transaction (a batch of them, pipelined). One
      -- row per line of the hold (product, quantity, price, the product's name for order.paid;
      -- at least one row), each with the answer: 0 (paid now: o_payment is new), 1 (paid already: its payment), or
      -- one row of -1 (no such hold) or -2 (the hold is not awaiting payment). The hold's row is
      -- locked first, as every transition does. The inventory's held -> sold is left to
      -- checkout_sell_held, once per product for the whole batch, so the hot inventory row is
      -- locked only at the end of the batch's transaction. No exception block (no
      -- subtransaction): a refusal writes nothing, and an unexpected error fails the whole
      -- batch, which the adapter then replays payment by payment.
      CREATE FUNCTION checkout_complete_payment(p_hold bigint, p_now_ms bigint, p_ref text)
        RETURNS TABLE (o_answer integer, o_payment bigint, o_member bigint, o_total bigint,
                       o_paid_at_ms bigint, o_product bigint, o_quantity bigint, o_price bigint,
                       o_name text)
        LANGUAGE plpgsql AS $$
      DECLARE
        v_status  text;
        v_member  bigint;
        v_total   bigint;
        v_payment bigint;
        v_paid_at bigint;
        v_answer  integer;
      BEGIN
        SELECT h.status, h.member_id, h.total INTO v_status, v_member, v_total
          FROM holds h WHERE h.id = p_hold FOR UPDATE;
        IF NOT FOUND THEN
          RETURN QUERY SELECT -1, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
                              NULL::bigint, NULL::bigint, NULL::bigint, NULL::text;
          RETURN;
        END IF;
        IF v_status = 'PAID' THEN
          SELECT p.id, p.created_at_ms INTO v_payment, v_paid_at
            FROM payments p WHERE p.hold_id = p_hold;
          IF FOUND THEN v_answer := 1; END IF;
        END IF;
        IF v_answer IS NULL THEN
          IF v_status <> 'PAYING' THEN
            RETURN QUERY SELECT -2, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
                                NULL::bigint, NULL::bigint, NULL::bigint, NULL::text;
            RETURN;
          END IF;
          UPDATE holds SET status = 'PAID', resolved_at_ms = p_now_ms WHERE id = p_hold;
          INSERT INTO stock_ledger (product_id, kind, quantity, hold_id, at_ms)
          SELECT l.product_id, 'SELL', l.quantity, p_hold, p_now_ms
            FROM hold_lines l WHERE l.hold_id = p_hold;
          INSERT INTO payments (hold_id, member_id, amount, provider_ref, status, created_at_ms)
          VALUES (p_hold, v_member, v_total, p_ref, 'CAPTURED', p_now_ms)
          RETURNING id INTO v_payment;
          v_paid_at := p_now_ms;
          v_answer := 0;
        END IF;
        RETURN QUERY
          SELECT v_answer, v_payment, v_member, v_total, v_paid_at, l.product_id, l.quantity,
                 l.price, COALESCE(i.name, '')
            FROM (SELECT 1) AS one LEFT JOIN hold_lines l ON l.hold_id = p_hold
            LEFT JOIN inventory i ON i.product_id = l.product_id ORDER BY l.product_id;
      END;
      $$;

      -- Moves the units of a batch's payments from held to sold, one UPDATE per product (the
      -- sums), in product order, so two batches lock their products in the same order.
      CREATE FUNCTION checkout_sell_held(p_products bigint[], p_quantities bigint[])
        RETURNS void LANGUAGE plpgsql AS $$
      DECLARE
        r record;
      BEGIN
        FOR r IN SELECT u.p, sum(u.q) AS q FROM unnest(p_products, p_quantities) AS u(p, q)
                 GROUP BY u.p ORDER BY u.p LOOP
          UPDATE inventory SET held = held - r.q, sold = sold + r.q WHERE product_id = r.p;
        END LOOP;
      END;
      $$;
    )sql"},
    // A sale's version, carried by sale.changed (SQLite migration 9).
    {3, "sale versions", R"sql(
      ALTER TABLE sales ADD COLUMN version bigint NOT NULL DEFAULT 1;
    )sql"},
    {4, "release_hold: a release by id, every row by its key", R"sql(
      -- Releases one hold by id when it is in p_from (and p_member's, unless p_member is 0):
      -- marks it p_status with p_reason, returns its units to available and to the member,
      -- writes the ledger; answers its lines (none when the guards refused it). Every row is
      -- reached by its primary key, in the order every transaction keeps: the hold, its
      -- products' inventory rows in product order, then the member's units. (The set-based
      -- statement it replaces was planned with hash joins over full scans of member_units and
      -- inventory: the estimates said 82 lines per hold.)
      CREATE FUNCTION checkout_release_hold(p_hold bigint, p_from text, p_status text,
                                            p_reason text, p_now_ms bigint, p_member bigint)
        RETURNS TABLE (o_hold bigint, o_member bigint, o_product bigint, o_quantity bigint,
                       o_price bigint)
        LANGUAGE plpgsql AS $$
      DECLARE
        v_member bigint;
        l        record;
      BEGIN
        SELECT h.member_id INTO v_member FROM holds h
         WHERE h.id = p_hold AND h.status = p_from AND (p_member = 0 OR h.member_id = p_member)
         FOR UPDATE;
        IF NOT FOUND THEN RETURN; END IF;
        FOR l IN SELECT hl.product_id, hl.quantity FROM hold_lines hl WHERE hl.hold_id = p_hold
                 ORDER BY hl.product_id LOOP
          UPDATE inventory SET available = available + l.quantity, held = held - l.quantity
           WHERE product_id = l.product_id;
        END LOOP;
        UPDATE holds SET status = p_status, release_reason = p_reason, resolved_at_ms = p_now_ms
         WHERE id = p_hold;
        FOR l IN SELECT hl.product_id, hl.quantity FROM hold_lines hl WHERE hl.hold_id = p_hold
                 ORDER BY hl.product_id LOOP
          UPDATE member_units SET units = units - l.quantity
           WHERE product_id = l.product_id AND member_id = v_member;
          INSERT INTO stock_ledger (product_id, kind, quantity, hold_id, at_ms)
          VALUES (l.product_id, 'RELEASE', l.quantity, p_hold, p_now_ms);
        END LOOP;
        RETURN QUERY SELECT hl.hold_id, v_member, hl.product_id, hl.quantity, hl.price
                       FROM hold_lines hl WHERE hl.hold_id = p_hold ORDER BY hl.product_id;
      END;
      $$;
    )sql"},
    {5, "begin_payment: payments begun in batches; a paid hold's lines reach inventory by key",
     R"sql(
      -- Begins one payment inside the caller's transaction (a batch of them, pipelined): claims
      -- the idempotency key first (a retry is answered in flight before any refusal its first
      -- request caused), locks the hold, and marks it PAYING under p_worker's lease when it is
      -- p_member's, ACTIVE and not yet due. Answers one row per line of the hold (at least one
      -- row), each with o_answer 0 (begun), or one row of -1 (the key is in use), -2 (no such
      -- hold of p_member's), -3 (the hold expired) or -4 (paid or released already). No
      -- exception block (no subtransaction): a refusal deletes the key it claimed, so a refused
      -- request claims nothing, as the rollback of a transaction of its own did.
      CREATE FUNCTION checkout_begin_payment(p_hold bigint, p_member bigint, p_now_ms bigint,
                                             p_key text, p_request_hash text, p_operation text,
                                             p_worker text, p_lease_until_ms bigint)
        RETURNS TABLE (o_answer integer, o_total bigint, o_created_at_ms bigint,
                       o_expires_at_ms bigint, o_product bigint, o_quantity bigint,
                       o_price bigint)
        LANGUAGE plpgsql AS $$
      DECLARE
        v_member  bigint;
        v_status  text;
        v_total   bigint;
        v_created bigint;
        v_expires bigint;
        v_answer  integer := 0;
      BEGIN
        IF p_key IS NOT NULL THEN
          INSERT INTO idempotency (member_id, key, request_hash, operation, hold_id, created_at_ms)
          VALUES (p_member, p_key, p_request_hash, p_operation, p_hold, p_now_ms)
          ON CONFLICT DO NOTHING;
          IF NOT FOUND THEN
            RETURN QUERY SELECT -1, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
                                NULL::bigint, NULL::bigint;
            RETURN;
          END IF;
        END IF;
        SELECT h.member_id, h.status, h.total, h.created_at_ms, h.expires_at_ms
          INTO v_member, v_status, v_total, v_created, v_expires
          FROM holds h WHERE h.id = p_hold FOR UPDATE;
        IF NOT FOUND OR v_member <> p_member THEN
          v_answer := -2;
        ELSIF v_status = 'EXPIRED' OR (v_status = 'ACTIVE' AND p_now_ms >= v_expires) THEN
          v_answer := -3;
        ELSIF v_status <> 'ACTIVE' THEN
          v_answer := -4;
        END IF;
        IF v_answer <> 0 THEN
          IF p_key IS NOT NULL THEN
            DELETE FROM idempotency WHERE member_id = p_member AND key = p_key;
          END IF;
          RETURN QUERY SELECT v_answer, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
                              NULL::bigint, NULL::bigint;
          RETURN;
        END IF;
        UPDATE holds SET status = 'PAYING', payer = p_worker, payment_lease_until_ms = p_lease_until_ms
         WHERE id = p_hold;
        RETURN QUERY SELECT 0, v_total, v_created, v_expires, hl.product_id, hl.quantity, hl.price
                       FROM hold_lines hl WHERE hl.hold_id = p_hold ORDER BY hl.product_id;
      END;
      $$;

      -- checkout_complete_payment of migration 2, its answer's product names read by key: the
      -- join it replaces was planned, before the tables had statistics, as a hash join over a
      -- sequential scan of inventory, whose drop row's dead versions every payment then walked.
      CREATE OR REPLACE FUNCTION checkout_complete_payment(p_hold bigint, p_now_ms bigint,
                                                           p_ref text)
        RETURNS TABLE (o_answer integer, o_payment bigint, o_member bigint, o_total bigint,
                       o_paid_at_ms bigint, o_product bigint, o_quantity bigint, o_price bigint,
                       o_name text)
        LANGUAGE plpgsql AS $$
      DECLARE
        v_status  text;
        v_member  bigint;
        v_total   bigint;
        v_payment bigint;
        v_paid_at bigint;
        v_answer  integer;
      BEGIN
        SELECT h.status, h.member_id, h.total INTO v_status, v_member, v_total
          FROM holds h WHERE h.id = p_hold FOR UPDATE;
        IF NOT FOUND THEN
          RETURN QUERY SELECT -1, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
                              NULL::bigint, NULL::bigint, NULL::bigint, NULL::text;
          RETURN;
        END IF;
        IF v_status = 'PAID' THEN
          SELECT p.id, p.created_at_ms INTO v_payment, v_paid_at
            FROM payments p WHERE p.hold_id = p_hold;
          IF FOUND THEN v_answer := 1; END IF;
        END IF;
        IF v_answer IS NULL THEN
          IF v_status <> 'PAYING' THEN
            RETURN QUERY SELECT -2, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
                                NULL::bigint, NULL::bigint, NULL::bigint, NULL::text;
            RETURN;
          END IF;
          UPDATE holds SET status = 'PAID', resolved_at_ms = p_now_ms WHERE id = p_hold;
          INSERT INTO stock_ledger (product_id, kind, quantity, hold_id, at_ms)
          SELECT l.product_id, 'SELL', l.quantity, p_hold, p_now_ms
            FROM hold_lines l WHERE l.hold_id = p_hold;
          INSERT INTO payments (hold_id, member_id, amount, provider_ref, status, created_at_ms)
          VALUES (p_hold, v_member, v_total, p_ref, 'CAPTURED', p_now_ms)
          RETURNING id INTO v_payment;
          v_paid_at := p_now_ms;
          v_answer := 0;
        END IF;
        RETURN QUERY
          SELECT v_answer, v_payment, v_member, v_total, v_paid_at, l.product_id, l.quantity,
                 l.price,
                 COALESCE((SELECT i.name FROM inventory i WHERE i.product_id = l.product_id), '')
            FROM (SELECT 1) AS one LEFT JOIN hold_lines l ON l.hold_id = p_hold
           ORDER BY l.product_id;
      END;
      $$;
    )sql"},
    {6, "place_hold without a subtransaction", R"sql(
      -- checkout_place_hold of migration 1, its answers unchanged, without the exception block:
      -- a refusal now undoes what it wrote (the stock and units taken, the key claimed) itself.
      -- Why: a hold that waited for the drop row's lock inside its subtransaction locked the
      -- row's latest version before updating it (READ COMMITTED's re-check), and that lock
      -- stayed on every later version as a key-share lock of the waiting subtransaction, so each
      -- later hold of the batch (another subtransaction) created a MultiXact to update the row.
      -- Resolving those MultiXacts took a fifth of checkout's database CPU during a drop.
      CREATE OR REPLACE FUNCTION checkout_place_hold(
          p_member bigint, p_products bigint[], p_quantities bigint[], p_prices bigint[],
          p_limits bigint[], p_pay_now boolean, p_payer text, p_lease_until_ms bigint,
          p_now_ms bigint, p_expires_at_ms bigint, p_key text, p_request_hash text,
          p_operation text)
        RETURNS bigint LANGUAGE plpgsql AS $$
      DECLARE
        v_id     bigint := nextval(pg_get_serial_sequence('holds', 'id'));
        v_total  bigint := 0;
        v_order  integer[];
        v_lines  integer;
        v_stock  integer := 0;  -- lines (in product order) whose stock is taken
        v_units  integer := 0;  -- lines whose units are counted against the member's limit
        v_answer bigint := 0;
        i        integer;
        k        integer;
      BEGIN
        IF p_key IS NOT NULL THEN
          INSERT INTO idempotency (member_id, key, request_hash, operation, hold_id,
                                   created_at_ms)
          VALUES (p_member, p_key, p_request_hash, p_operation, v_id, p_now_ms)
          ON CONFLICT DO NOTHING;
          IF NOT FOUND THEN RETURN -1; END IF;
        END IF;
        SELECT array_agg(u.ord::integer ORDER BY u.product) INTO v_order
          FROM unnest(p_products) WITH ORDINALITY AS u(product, ord);
        v_lines := coalesce(array_length(v_order, 1), 0);
        FOR k IN 1 .. v_lines LOOP
          i := v_order[k];
          -- The truth about stock: this UPDATE cannot take more than is available.
          UPDATE inventory SET available = available - p_quantities[i],
                               held = held + p_quantities[i]
           WHERE product_id = p_products[i] AND available >= p_quantities[i] AND NOT retired;
          IF NOT FOUND THEN v_answer := -2; EXIT; END IF;
          v_stock := k;
          IF p_quantities[i] > p_limits[i] THEN v_answer := -3; EXIT; END IF;
          INSERT INTO member_units AS m (product_id, member_id, units)
          VALUES (p_products[i], p_member, p_quantities[i])
          ON CONFLICT (product_id, member_id) DO UPDATE SET units = m.units + excluded.units
           WHERE m.units + excluded.units <= p_limits[i];
          IF NOT FOUND THEN v_answer := -3; EXIT; END IF;
          v_units := k;
          v_total := v_total + p_quantities[i] * p_prices[i];
        END LOOP;
        IF v_answer <> 0 THEN
          -- A refused request changes nothing: its stock, units and key are given back (a
          -- member's row left at 0 units is deleted: no row means none).
          FOR k IN 1 .. v_stock LOOP
            i := v_order[k];
            UPDATE inventory SET available = available + p_quantities[i],
                                 held = held - p_quantities[i]
             WHERE product_id = p_products[i];
          END LOOP;
          FOR k IN 1 .. v_units LOOP
            i := v_order[k];
            UPDATE member_units SET units = units - p_quantities[i]
             WHERE product_id = p_products[i] AND member_id = p_member;
            DELETE FROM member_units
             WHERE product_id = p_products[i] AND member_id = p_member AND units = 0;
          END LOOP;
          IF p_key IS NOT NULL THEN
            DELETE FROM idempotency WHERE member_id = p_member AND key = p_key;
          END IF;
          RETURN v_answer;
        END IF;
        INSERT INTO holds (id, member_id, status, total, created_at_ms, expires_at_ms, payer,
                           payment_lease_until_ms)
        VALUES (v_id, p_member, CASE WHEN p_pay_now THEN 'PAYING' ELSE 'ACTIVE' END, v_total,
                p_now_ms, p_expires_at_ms, CASE WHEN p_pay_now THEN p_payer END,
                CASE WHEN p_pay_now THEN p_lease_until_ms END);
        INSERT INTO hold_lines (hold_id, product_id, quantity, price)
        SELECT v_id, u.p, u.q, u.pr FROM unnest(p_products, p_quantities, p_prices) AS u(p, q, pr);
        INSERT INTO stock_ledger (product_id, kind, quantity, hold_id, at_ms)
        SELECT u.p, 'HOLD', u.q, v_id, p_now_ms FROM unnest(p_products, p_quantities) AS u(p, q);
        RETURN v_id;
      END;
      $$;
    )sql"},
};

}  // namespace

asio::awaitable<Status> MigratePostgresCheckout(postgres::Connection& connection) {
  auto events = co_await events::postgres_outbox::Migrate(connection);
  if (!events.ok()) co_return events;
  co_return co_await postgres::Migrate(connection, "checkout", kMigrations);
}

namespace postgres_internal {

std::string IntArray(const std::vector<std::int64_t>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(values[i]);
  }
  out += '}';
  return out;
}

asio::awaitable<Result<std::optional<HoldOutcome>>> ReadHold(postgres::Connection& c,
                                                             std::int64_t hold_id, bool lock) {
  static const std::string kRead =
      "SELECT h.member_id, h.status, h.total, h.created_at_ms, h.expires_at_ms, "
      "COALESCE(h.release_reason, ''), p.id, p.created_at_ms, l.product_id, l.quantity, l.price "
      "FROM holds h LEFT JOIN payments p ON p.hold_id = h.id "
      "LEFT JOIN hold_lines l ON l.hold_id = h.id WHERE h.id = $1 ORDER BY l.product_id";
  static const std::string kLock = kRead + " FOR UPDATE OF h";
  postgres::Params params;
  params.Add(hold_id);
  auto rows = co_await c.Query(lock ? kLock : kRead, std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  std::optional<HoldOutcome> out;
  if (rows->empty()) co_return out;
  const postgres::Rows& r = *rows;
  out.emplace();
  out->hold.id = hold_id;
  out->hold.member_id = r.Int64(0, 0);
  out->hold.status = ParseHoldStatus(r.Text(0, 1)).value_or(HoldStatus::kReleased);
  out->hold.total = r.Int64(0, 2);
  out->hold.created_at = FromUnixMillis(r.Int64(0, 3));
  out->hold.expires_at = FromUnixMillis(r.Int64(0, 4));
  out->release_reason = std::string(r.Text(0, 5));
  if (!r.IsNull(0, 6)) {
    out->payment_id = r.Int64(0, 6);
    out->paid_at = FromUnixMillis(r.Int64(0, 7));
  }
  for (int i = 0; i < r.size(); ++i) {
    if (r.IsNull(i, 8)) continue;
    out->hold.lines.push_back({r.Int64(i, 8), r.Int64(i, 9), r.Int64(i, 10)});
  }
  co_return out;
}

asio::awaitable<Result<std::vector<HoldLine>>> LoadLines(postgres::Connection& c,
                                                         std::int64_t hold_id) {
  postgres::Params params;
  params.Add(hold_id);
  auto rows = co_await c.Query(
      "SELECT product_id, quantity, price FROM hold_lines WHERE hold_id = $1 ORDER BY product_id",
      std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  std::vector<HoldLine> lines;
  for (int i = 0; i < rows->size(); ++i) {
    lines.push_back({rows->Int64(i, 0), rows->Int64(i, 1), rows->Int64(i, 2)});
  }
  co_return lines;
}

InventoryRow ReadInventoryRow(const postgres::Rows& r, int row) {
  return InventoryRow{r.Int64(row, 0), r.Int64(row, 1), r.Int64(row, 2),
                      r.Int64(row, 3), r.Int64(row, 4), r.Int64(row, 5),
                      r.Int64(row, 6), r.Bool(row, 7),  r.Int64(row, 8)};
}

void ThrowAtStartUp(const Error& error, std::string_view what) {
  throw std::runtime_error("checkout (PostgreSQL): " + std::string(what) + ": " + error.message);
}

}  // namespace postgres_internal
}  // namespace rocketmart::checkout
