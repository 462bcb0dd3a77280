"""The original's Locust test (README: 20% of customers leave at payment entry, 20% of payments
fail) against rocketmart's two-step purchase API.

Prepare the server with rocketmart-load, which creates the product, opens the sale and writes one
access token per virtual member:

    build/rocketmart-load --url http://127.0.0.1:8080 --data-dir ./data --setup-only \
        --members 1000 --stock 10 --tokens-file /tmp/tokens.txt      # prints product_id=N

then (Debian's python3-locust):

    ROCKETMART_TOKENS=/tmp/tokens.txt ROCKETMART_PRODUCT_ID=N \
      locust -f tools/load/locustfile.py --headless -u 200 -r 200 -t 30s \
             --host http://127.0.0.1:8080 --only-summary

Business answers (SOLD_OUT, PAYMENT_DECLINED, PURCHASE_LIMIT_REACHED, ...) are counted as
successes of the request and tallied by outcome; the tally is printed when the test stops.
"""
import collections
import os
import random
import uuid

from locust import HttpUser, constant, events, task

TOKENS = [t.strip() for t in open(os.environ["ROCKETMART_TOKENS"]) if t.strip()]
PRODUCT_ID = int(os.environ["ROCKETMART_PRODUCT_ID"])
LEAVE = float(os.environ.get("ROCKETMART_LEAVE", "0.2"))
OUTCOMES = collections.Counter()
EXPECTED = {"SOLD_OUT", "INSUFFICIENT_STOCK", "PAYMENT_DECLINED", "PURCHASE_LIMIT_REACHED"}


def error_code(response):
    try:
        return response.json()["error"]["code"]
    except Exception:  # noqa: BLE001 - a non-JSON answer is itself the outcome
        return "HTTP_%d" % response.status_code


class Member(HttpUser):
    wait_time = constant(0)

    @task
    def attempt(self):
        token = random.choice(TOKENS)
        key = uuid.uuid4().hex
        headers = {"Authorization": "Bearer " + token, "Idempotency-Key": key + "-h"}
        OUTCOMES["attempts"] += 1
        with self.client.post("/payment/holds", json={"productId": PRODUCT_ID, "amount": 1},
                              headers=headers, name="POST /payment/holds",
                              catch_response=True) as r:
            if r.status_code != 201:
                code = error_code(r)
                OUTCOMES[code] += 1
                if code in EXPECTED:
                    r.success()
                else:
                    r.failure(code)
                return
            hold_id = r.json()["holdId"]
        headers["Idempotency-Key"] = key + "-p"
        if random.random() < LEAVE:
            with self.client.delete("/payment/holds/%d" % hold_id, headers=headers,
                                    name="DELETE /payment/holds/{id}", catch_response=True) as r:
                OUTCOMES["left" if r.status_code == 204 else error_code(r)] += 1
            return
        with self.client.post("/payment/holds/%d/pay" % hold_id, headers=headers,
                              name="POST /payment/holds/{id}/pay", catch_response=True) as r:
            if r.status_code == 200:
                OUTCOMES["paid"] += 1
                return
            code = error_code(r)
            OUTCOMES[code] += 1
            if code in EXPECTED:
                r.success()
            else:
                r.failure(code)


@events.quitting.add_listener
def _print_outcomes(environment, **_kwargs):
    print("OUTCOMES " + " ".join("%s=%d" % kv for kv in sorted(OUTCOMES.items())))
