#!/usr/bin/env python3
"""Seeds a fresh Tryton database (party and sale activated) over JSON-RPC for the CRM tests:
a currency and company, the customer party C-1001 (phone, email, address, category "vip") and two sales.

Usage: seed.py BASE_URL DATABASE ADMIN_PASSWORD
"""
import base64
import json
import sys

import requests

URL = f"{sys.argv[1].rstrip('/')}/{sys.argv[2]}/"
session = None


def call(method, *params):
    headers = {"Content-Type": "application/json"}
    if session:
        headers["Authorization"] = session
    answer = requests.post(URL, data=json.dumps({"id": 1, "method": method, "params": list(params)}), headers=headers, timeout=30).json()
    if "error" in answer:
        sys.exit(f"{method}: {answer['error']}")
    return answer["result"]


def decimal(text):
    return {"__class__": "Decimal", "decimal": text}


def date(year, month, day):
    return {"__class__": "date", "year": year, "month": month, "day": day}


user, key = call("common.db.login", "admin", {"password": sys.argv[3]}, "en")
session = "Session " + base64.b64encode(f"admin:{user}:{key}".encode()).decode()
[currency] = call("model.currency.currency.create", [{"name": "Euro", "code": "EUR", "symbol": "€", "rounding": decimal("0.01"), "digits": 2}], {})
[shop] = call("model.party.party.create", [{"name": "Switchboard Shop"}], {})
[company] = call("model.company.company.create", [{"party": shop, "currency": currency}], {})
call("model.res.user.write", [user], {"companies": [["add", [company]]], "company": company}, {})
context = {"company": company}
[vip] = call("model.party.category.create", [{"name": "vip"}], {})
[party] = call("model.party.party.create", [{
    "name": "Ada Lovelace", "code": "C-1001", "categories": [["add", [vip]]],
    "contact_mechanisms": [["create", [{"type": "phone", "value": "+44 20 7946 0001"}, {"type": "email", "value": "ada@example.org"}]]],
    "addresses": [["create", [{"street": "1 Analytical Street"}]]],
}], context)
[address] = call("model.party.address.search", [["party", "=", party]], 0, 1, None, context)
for day, quantity, price in [(12, 1.0, "20.00"), (20, 2.0, "49.75")]:
    call("model.sale.sale.create", [{
        "party": party, "company": company, "currency": currency, "sale_date": date(2026, 11, day),
        "invoice_address": address, "shipment_address": address,
        "lines": [["create", [{"type": "line", "description": "Widget", "quantity": quantity, "unit_price": decimal(price)}]]],
    }], context)
print(json.dumps({"party": party, "company": company}))
