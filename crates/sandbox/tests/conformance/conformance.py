#!/usr/bin/env python3
"""Conformance run: HubSpot's official Python client (hubspot-api-client 12.0.0)
against a running Keva sandbox.

The client's generated models deserialize every response and reject missing
required fields or wrong enum values, so each call that succeeds here is a
response shaped like HubSpot's. Usage: conformance.py <sandbox-url> <access-token>.
Prints one line per check and a final `SUMMARY {"passed": n, "failed": n}`;
exits non-zero when any check fails.
"""

import json
import sys
import traceback
import uuid

import hubspot  # noqa: F401  (import error = client not installed)
from hubspot.crm import associations as assoc_pkg  # noqa: F401
from hubspot.crm.associations.v4 import ApiClient as AssocClient, Configuration as AssocConf
from hubspot.crm.associations.v4 import BasicApi as AssocBasic, BatchApi as AssocBatch
from hubspot.crm.associations.v4.models import AssociationSpec, BatchInputPublicFetchAssociationsBatchRequest, PublicFetchAssociationsBatchRequest
from hubspot.crm.companies import ApiClient as CompClient, Configuration as CompConf
from hubspot.crm.companies import BasicApi as CompBasic, SearchApi as CompSearch
from hubspot.crm.companies.models import SimplePublicObjectInputForCreate as CompCreate, PublicObjectSearchRequest as CompSearchReq
from hubspot.crm.contacts import ApiClient, Configuration, BasicApi, BatchApi, SearchApi
from hubspot.crm.contacts.exceptions import ApiException
from hubspot.crm.contacts.models import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicMergeInput,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.deals import ApiClient as DealClient, Configuration as DealConf
from hubspot.crm.deals import BasicApi as DealBasic, BatchApi as DealBatch
from hubspot.crm.deals.models import SimplePublicObjectInputForCreate as DealCreate
from hubspot.crm.deals.models import BatchReadInputSimplePublicObjectId as DealBatchRead, SimplePublicObjectId as DealId
from hubspot.crm.properties import ApiClient as PropClient, Configuration as PropConf, CoreApi
from hubspot.crm.properties.models import PropertyCreate, PropertyUpdate

URL, TOKEN = sys.argv[1], sys.argv[2]
RUN = uuid.uuid4().hex[:8]
passed, failed = 0, 0


def conf(cls):
    c = cls(host=URL)
    c.access_token = TOKEN
    # Off by default in the generated client; on, every model checks its required
    # fields and enum values while deserializing, which is what proves the shapes.
    c.client_side_validation = True
    return c


contacts_client = ApiClient(conf(Configuration))
basic, batch, search = BasicApi(contacts_client), BatchApi(contacts_client), SearchApi(contacts_client)
companies_client = CompClient(conf(CompConf))
comp_basic, comp_search = CompBasic(companies_client), CompSearch(companies_client)
deals_client = DealClient(conf(DealConf))
deal_basic, deal_batch = DealBasic(deals_client), DealBatch(deals_client)
props = CoreApi(PropClient(conf(PropConf)))
assoc_client = AssocClient(conf(AssocConf))
assoc_basic, assoc_batch = AssocBasic(assoc_client), AssocBatch(assoc_client)


def check(name, fn):
    global passed, failed
    try:
        fn()
        passed += 1
        print(f"ok   {name}")
    except Exception:  # noqa: BLE001 - every failure is reported, not raised
        failed += 1
        print(f"FAIL {name}\n{traceback.format_exc()}")


def expect_error(fn, status, category):
    try:
        fn()
    except ApiException as e:
        assert e.status == status, f"status {e.status} != {status}: {e.body}"
        body = json.loads(e.body)
        assert body["category"] == category, body
        assert body["status"] == "error" and body["correlationId"] and body["message"], body
        return body
    except Exception as e:  # other generated packages raise their own ApiException
        if getattr(e, "status", None) == status:
            body = json.loads(e.body)
            assert body["category"] == category, body
            return body
        raise
    raise AssertionError(f"expected HTTP {status}")


email = lambda n: f"conf-{RUN}-{n}@example.com"  # noqa: E731
state = {}


def create_contact():
    c = basic.create(SimplePublicObjectInputForCreate(properties={"email": email(1).upper(), "firstname": "Conf"}, associations=[]))
    assert c.id and c.properties["email"] == email(1), c
    assert c.created_at is not None and c.archived is False
    state["c1"] = c.id


def get_by_id():
    c = basic.get_by_id(state["c1"], properties=["email", "firstname"], properties_with_history=["firstname"])
    assert c.properties["firstname"] == "Conf"
    assert c.properties_with_history["firstname"][0].source_type == "INTEGRATION"


def get_by_email():
    c = basic.get_by_id(email(1), id_property="email")
    assert c.id == state["c1"]


def update():
    c = basic.update(state["c1"], SimplePublicObjectInput(properties={"lastname": "Formance"}))
    assert c.properties["lastname"] == "Formance"


def duplicate():
    body = expect_error(lambda: basic.create(SimplePublicObjectInputForCreate(properties={"email": email(1)}, associations=[])), 409, "CONFLICT")
    assert body["message"] == f"Contact already exists. Existing ID: {state['c1']}", body


def unknown_property():
    body = expect_error(lambda: basic.update(state["c1"], SimplePublicObjectInput(properties={"notes": "x"})), 400, "VALIDATION_ERROR")
    assert "PROPERTY_DOESNT_EXIST" in body["message"]


def invalid_email():
    body = expect_error(lambda: basic.create(SimplePublicObjectInputForCreate(properties={"email": "nope"}, associations=[])), 400, "VALIDATION_ERROR")
    assert "INVALID_EMAIL" in body["message"]


def missing():
    expect_error(lambda: basic.get_by_id("99999999"), 404, "OBJECT_NOT_FOUND")


def get_page():
    for n in range(2, 6):
        basic.create(SimplePublicObjectInputForCreate(properties={"email": email(n)}, associations=[]))
    page = basic.get_page(limit=2, properties=["email"])
    assert len(page.results) == 2 and page.paging.next.after
    page2 = basic.get_page(limit=2, after=page.paging.next.after)
    assert page2.results[0].id != page.results[0].id


def batch_ops():
    created = batch.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
        SimplePublicObjectBatchInputForCreate(properties={"email": email(10 + i)}, associations=[]) for i in range(3)
    ]))
    assert created.status == "COMPLETE" and len(created.results) == 3
    ids = [r.id for r in created.results]
    read = batch.read(BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=email(10)), SimplePublicObjectId(id="ghost@example.com")],
        properties=["email"], properties_with_history=[], id_property="email"))
    assert len(read.results) == 1 and read.num_errors == 1 and read.errors[0].category == "OBJECT_NOT_FOUND"
    updated = batch.update(BatchInputSimplePublicObjectBatchInput(inputs=[
        SimplePublicObjectBatchInput(id=ids[0], properties={"firstname": "Upd"})]))
    assert updated.results[0].properties["firstname"] == "Upd"
    up = batch.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
        SimplePublicObjectBatchInputUpsert(id=email(10).upper(), id_property="email", properties={"lastname": "Up"}),
        SimplePublicObjectBatchInputUpsert(id=email(20), id_property="email", properties={"lastname": "New"}),
    ]))
    flags = sorted(r.new for r in up.results)
    assert flags == [False, True], flags
    batch.archive(BatchInputSimplePublicObjectId(inputs=[SimplePublicObjectId(id=ids[2])]))
    expect_error(lambda: basic.get_by_id(ids[2]), 404, "OBJECT_NOT_FOUND")


def search_ops():
    req = PublicObjectSearchRequest(
        filter_groups=[FilterGroup(filters=[Filter(property_name="email", operator="EQ", value=email(1).upper())])],
        properties=["email", "firstname"], limit=10, after="0", sorts=[])
    res = search.do_search(req)
    assert res.total == 1 and res.results[0].id == state["c1"], res
    res = search.do_search(PublicObjectSearchRequest(
        filter_groups=[FilterGroup(filters=[Filter(property_name="hs_object_id", operator="GT", value="0")])],
        properties=["email"], limit=2, after="0", sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}]))
    assert res.total >= 5 and res.paging.next.after == "2"
    expect_error(lambda: search.do_search(PublicObjectSearchRequest(filter_groups=[], properties=[], limit=10, after="10000", sorts=[])), 400, "VALIDATION_ERROR")


def merge():
    other = basic.create(SimplePublicObjectInputForCreate(properties={"email": email(30)}, associations=[]))
    merged = basic.merge(PublicMergeInput(primary_object_id=state["c1"], object_id_to_merge=other.id))
    assert merged.id == state["c1"]


def properties_api():
    all_props = props.get_all("contacts")
    names = {p.name for p in all_props.results}
    assert "email" in names and "notes" not in names
    stage = props.get_by_name("contacts", "lifecyclestage")
    assert any(o.value == "customer" for o in stage.options)
    assert props.get_by_name("deals", "dealstage").options
    assert props.get_by_name("companies", "industry").options
    name = f"conf_{RUN}"
    created = props.create("contacts", PropertyCreate(name=name, label="Conf", type="string", field_type="text", group_name="contactinformation"))
    assert created.name == name and created.hubspot_defined is False
    updated = props.update("contacts", name, PropertyUpdate(label="Conf 2"))
    assert updated.label == "Conf 2"
    expect_error(lambda: props.create("contacts", PropertyCreate(name=name, label="x", type="string", field_type="text", group_name="contactinformation")), 409, "OBJECT_ALREADY_EXISTS")
    expect_error(lambda: props.get_by_name("contacts", "notes"), 404, "OBJECT_NOT_FOUND")
    props.archive("contacts", name)


def companies_and_associations():
    comp = comp_basic.create(CompCreate(properties={"name": f"Conf {RUN}", "domain": f"{RUN}.example.com"}, associations=[]))
    got = comp_basic.get_by_id(comp.id)
    assert got.properties["name"] == f"Conf {RUN}"
    found = comp_search.do_search(CompSearchReq(filter_groups=[], properties=["name"], limit=5, after="0", sorts=[], query=RUN))
    assert found.total == 1
    res = assoc_basic.create_default("contacts", state["c1"], "companies", comp.id)
    assert res.status == "COMPLETE" and res.results[0].association_spec.association_type_id == 279
    labelled = assoc_basic.create("contacts", state["c1"], "companies", comp.id,
                                  [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=1)])
    assert labelled.from_object_type_id == "0-1" and "Primary" in labelled.labels
    page = assoc_basic.get_page("contacts", state["c1"], "companies")
    assert str(page.results[0].to_object_id) == comp.id
    assert {t.type_id for t in page.results[0].association_types} == {1, 279}
    batch_res = assoc_batch.get_page("contacts", "companies", BatchInputPublicFetchAssociationsBatchRequest(
        inputs=[PublicFetchAssociationsBatchRequest(id=state["c1"])]))
    assert batch_res.results[0]._from.id == state["c1"]
    c = basic.get_by_id(state["c1"], associations=["companies"])
    assert c.associations["companies"].results[0].id == comp.id
    assoc_basic.archive("contacts", state["c1"], "companies", comp.id)
    assert assoc_basic.get_page("contacts", state["c1"], "companies").results == []


def deals():
    d = deal_basic.create(DealCreate(properties={"dealname": f"Deal {RUN}", "amount": "500", "dealstage": "qualifiedtobuy", "pipeline": "default"}, associations=[]))
    got = deal_batch.read(DealBatchRead(inputs=[DealId(id=d.id)], properties=["dealname", "dealstage"], properties_with_history=[]))
    assert got.results[0].properties["dealstage"] == "qualifiedtobuy"
    deal_basic.archive(d.id)


def archive_contact():
    basic.archive(state["c1"])
    expect_error(lambda: basic.get_by_id(state["c1"]), 404, "OBJECT_NOT_FOUND")
    archived = basic.get_by_id(state["c1"], archived=True)
    assert archived.archived is True and archived.archived_at is not None


for name, fn in [
    ("contacts.basic_api.create", create_contact),
    ("contacts.basic_api.get_by_id", get_by_id),
    ("contacts.basic_api.get_by_id idProperty=email", get_by_email),
    ("contacts.basic_api.update", update),
    ("409 duplicate email", duplicate),
    ("400 PROPERTY_DOESNT_EXIST", unknown_property),
    ("400 INVALID_EMAIL", invalid_email),
    ("404 missing contact", missing),
    ("contacts.basic_api.get_page", get_page),
    ("contacts.batch_api", batch_ops),
    ("contacts.search_api", search_ops),
    ("contacts.basic_api.merge", merge),
    ("properties.core_api", properties_api),
    ("companies + associations v4", companies_and_associations),
    ("deals", deals),
    ("contacts.basic_api.archive", archive_contact),
]:
    check(name, fn)

print("SUMMARY " + json.dumps({"passed": passed, "failed": failed}))
sys.exit(1 if failed else 0)
