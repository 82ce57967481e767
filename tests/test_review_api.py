"""The review's web app: token, loopback only, POST for changes, CSP, bad requests, persistence,
and the command line (``nlp-coder review``)."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from test_review import TRANSCRIPT, open_session

from nlp_coder.cli import main
from nlp_coder.review.app import CSP, build_app, serve
from nlp_coder.store import Store

TOKEN = "t0ken-for-tests"
BASE = "http://127.0.0.1:8765"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text(TRANSCRIPT, encoding="utf-8")
    return folder


@pytest.fixture
def session(corpus: Path, codebook_file: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    opened = open_session(corpus, codebook_file, tmp_path / "store.db", reviewer="alice")
    yield opened
    opened.store.close()


@pytest.fixture
def client(session) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(build_app(session, TOKEN), base_url=BASE, headers={"X-Review-Token": TOKEN})


def rows(db: Path) -> int:
    with Store(db) as store:
        return store.count("review_decisions")


def test_every_request_needs_the_token(session) -> None:  # type: ignore[no-untyped-def]
    bare = TestClient(build_app(session, TOKEN), base_url=BASE)
    for path in ("/", "/api/next", "/api/progress", "/static/review.js", "/nothing"):
        answer = bare.get(path)
        assert answer.status_code == 403, path
        assert "token" in answer.json()["error"]
        assert bare.get(path, headers={"X-Review-Token": "wrong"}).status_code == 403
    assert bare.post("/api/decisions", json={"fragment_id": session.keys[0], "action": "reject"}).status_code == 403
    assert bare.get(f"/api/next?token={TOKEN}").status_code == 200
    assert bare.get("/api/next", headers={"X-Review-Token": TOKEN}).status_code == 200


def test_other_hosts_and_other_sites_are_refused(session) -> None:  # type: ignore[no-untyped-def]
    elsewhere = TestClient(build_app(session, TOKEN), base_url="http://example.com", headers={"X-Review-Token": TOKEN})
    assert elsewhere.get("/api/next").status_code == 403
    local = TestClient(build_app(session, TOKEN), base_url=BASE, headers={"X-Review-Token": TOKEN})
    answer = local.post("/api/undo", json={}, headers={"Origin": "http://evil.example"})
    assert answer.status_code == 403


def test_the_page_and_its_assets_load_nothing_from_elsewhere(client: TestClient) -> None:
    page = client.get(f"/?token={TOKEN}")
    assert page.status_code == 200 and page.headers["content-security-policy"] == CSP
    assert "default-src 'none'" in CSP and "http" not in CSP
    html = page.text
    assert TOKEN in html and "http://" not in html and "https://" not in html
    for asset in ("review.js", "review.css"):
        answer = client.get(f"/static/{asset}")
        assert answer.status_code == 200 and "https://" not in answer.text and "http://" not in answer.text
    assert client.get("/static/secret.py").status_code == 404


def test_next_decide_progress_undo(client: TestClient, tmp_path: Path) -> None:
    first = client.get("/api/next").json()["fragment"]
    assert {"key", "text", "status", "codes", "suggestions", "context", "drawn"} <= set(first)
    answer = client.post("/api/decisions", json={"fragment_id": first["key"], "action": "recode",
                                                 "codes": ["listening"]})
    assert answer.status_code == 200
    data = answer.json()
    assert data["decision"]["codes"] == ["listening"] and data["decision"]["reviewer"] == "alice"
    assert data["next"]["key"] != first["key"]
    progress = client.get("/api/progress").json()
    assert progress["decided"] == 1 and dict(progress["actions"])["recode"] == 1
    undone = client.post("/api/undo", json={})
    assert undone.json()["fragment"]["key"] == first["key"]
    assert client.get("/api/progress").json()["decided"] == 0
    assert client.post("/api/undo", json={}).status_code == 409


def test_state_changes_need_post(client: TestClient) -> None:
    assert client.get("/api/decisions").status_code == 405
    assert client.get("/api/undo").status_code == 405


@pytest.mark.parametrize(("body", "status", "code"), [
    ('{"fragment_id": "nope", "action": "accept"}', 404, "E140"),
    ('{"fragment_id": KEY, "action": "recode", "codes": ["no-such-code"]}', 400, "E142"),
    ('{"fragment_id": KEY, "action": "maybe"}', 400, "E141"),
    ('{"fragment_id": KEY, "action": "recode"}', 400, "E143"),
    ('{"fragment_id": KEY, "action": "recode", "codes": "support"}', 400, "E145"),
    ('{"fragment_id": KEY, "action": "reject", "span": [1]}', 400, "E145"),
    ('{"fragment_id": KEY, "action": "reject", "span": [0, 1]}', 400, "E144"),
    ('{"fragment_id": 3, "action": "accept"}', 400, "E145"),
    ('["not", "an", "object"]', 400, "E145"),
    ('{"fragment_id": KEY, "action": "accept"', 400, "E145"),
])
def test_bad_requests_get_one_clear_message_and_store_nothing(client: TestClient, session, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                              body: str, status: int, code: str) -> None:
    answer = client.post("/api/decisions", content=body.replace("KEY", json.dumps(session.keys[0])),
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == status
    error = answer.json()
    assert error["code"] == code and "\n" not in error["error"] and error["error"]
    assert rows(tmp_path / "store.db") == 0 and session.decided == 0


def test_a_form_post_from_elsewhere_is_not_json(client: TestClient, session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    answer = client.post("/api/decisions", data={"fragment_id": session.keys[0], "action": "reject"})
    assert answer.status_code == 415 and rows(tmp_path / "store.db") == 0


def test_filters_and_batch_accept(client: TestClient, session) -> None:  # type: ignore[no-untyped-def]
    listed = client.get("/api/fragments", params={"document": "a.txt", "max_score": "1", "limit": "3"}).json()
    assert listed["total"] == len(session.fragments) and len(listed["fragments"]) == 3
    assert client.get("/api/fragments", params={"status": "nonsense"}).json()["code"] == "E145"
    assert client.get("/api/fragments", params={"min_score": "high"}).status_code == 400
    keys = [f["key"] for f in listed["fragments"]]
    assert client.post("/api/batch", json={"fragment_ids": [*keys, "nope"]}).status_code == 404
    assert session.decided == 0
    answer = client.post("/api/batch", json={"fragment_ids": keys}).json()
    assert answer["accepted"] == 3 and answer["progress"]["decided"] == 3
    shown = client.get("/api/fragment", params={"id": keys[0]}).json()["fragment"]
    assert shown["decision"]["action"] == "accept" and shown["decision"]["drawn"] == "batch"
    book = client.get("/api/codebook").json()
    assert [c["id"] for c in book["codes"]] == [c.id for c in session.codable] and book["documents"] == ["a.txt"]


def test_decisions_survive_a_restart_of_the_app(corpus: Path, codebook_file: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    first = open_session(corpus, codebook_file, db, reviewer="alice")
    client = TestClient(build_app(first, TOKEN), base_url=BASE, headers={"X-Review-Token": TOKEN})
    key = client.get("/api/next").json()["fragment"]["key"]
    client.post("/api/decisions", json={"fragment_id": key, "action": "recode", "codes": ["warmth"]})
    first.store.close()
    again = open_session(corpus, codebook_file, db, reviewer="alice")
    client = TestClient(build_app(again, "another-token"), base_url=BASE, headers={"X-Review-Token": "another-token"})
    assert client.get("/api/fragment", params={"id": key}).json()["fragment"]["decision"]["codes"] == ["warmth"]
    assert client.get("/api/progress").json()["decided"] == 1
    again.store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_server_listens_on_127_0_0_1_only(session) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    urls: list[str] = []
    thread = threading.Thread(target=serve, args=(session,), kwargs={"port": port, "open_browser": False,
                                                                      "token": TOKEN, "announce": urls.append},
                              daemon=True)
    thread.start()
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/progress?token={TOKEN}", timeout=2) as answer:
                assert json.load(answer)["fragments"] == len(session.fragments)
            break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    else:
        pytest.fail("the server did not answer")
    assert urls == [f"http://127.0.0.1:{port}/?token={TOKEN}"]
    # The listening socket is bound to the loopback address, not to every interface (Linux's table).
    listening = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]] \
        if Path("/proc/net/tcp").exists() else []
    mine = [cols for cols in listening if int(cols[1].split(":")[1], 16) == port and cols[3] == "0A"]
    if listening:
        assert mine and all(cols[1].split(":")[0] == "0100007F" for cols in mine)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/progress", timeout=2)
    assert refused.value.code == 403


def test_the_port_in_use_is_one_clear_error(session) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(Exception) as caught:
            serve(session, port=taken.getsockname()[1], open_browser=False, token=TOKEN, announce=lambda url: None)
    assert getattr(caught.value, "code", None) == "E130"


def test_cli_export_writes_the_reviewers_codings(corpus: Path, codebook_file: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    session = open_session(corpus, codebook_file, db, reviewer="alice")
    session.decide(session.next().key, "recode", ["support"])
    session.store.close()
    out = tmp_path / "review.csv"
    result = CliRunner().invoke(main, ["review", str(corpus), "-c", str(codebook_file), "--reviewer", "alice",
                                       "--db", str(db), "-m", "hash-test", "--threshold", "0.2", "--export", str(out),
                                       "--quiet"])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0] == "document,start,end,code,coder"
    assert sum(line.endswith(",support,alice") for line in lines) == 1
    bad = CliRunner().invoke(main, ["review", str(corpus), "-c", str(codebook_file), "--db", str(db), "-m",
                                    "hash-test", "--export", str(tmp_path / "review.txt")])
    assert bad.exit_code == 1 and "E104" in bad.output


def test_agree_compares_the_machine_with_the_reviewer_on_the_reviewed_fragments(corpus: Path, codebook_file: Path,
                                                                                tmp_path: Path) -> None:
    from nlp_coder.analyses.agree import OVERALL, measure_agreement

    db = tmp_path / "store.db"
    session = open_session(corpus, codebook_file, db, reviewer="alice")
    accepted = session.next()
    session.decide(accepted.key, "accept")
    session.decide(session.next().key, "recode", ["support"])
    session.decide(session.next().key, "reject")
    from nlp_coder.review import export_review

    export_review(session, tmp_path / "alice.qdpx")
    session.store.close()
    jsonl = tmp_path / "machine.jsonl"
    result = CliRunner().invoke(main, ["suggest", str(corpus), "-c", str(codebook_file), "-m", "hash-test",
                                       "--threshold", "0.2", "--db", str(db), "--out", str(jsonl), "--quiet"])
    assert result.exit_code == 0, result.output
    report = measure_agreement([jsonl, tmp_path / "alice.qdpx"], ["nlp-coder", "alice"], level="fragment")
    overall = next(r for r in report.rows if r.code == OVERALL)
    assert overall.units == 3  # the reviewed fragments only, not the whole corpus


SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=10)


@pytest.fixture(scope="module")
def shared_client(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from conftest import SMALL_CODEBOOK

    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "corpus").mkdir()
    (folder / "corpus" / "a.txt").write_text(TRANSCRIPT, encoding="utf-8")
    (folder / "codebook.yaml").write_text(SMALL_CODEBOOK, encoding="utf-8")
    session = open_session(folder / "corpus", folder / "codebook.yaml", None, reviewer="fuzz")
    yield session, TestClient(build_app(session, TOKEN), base_url=BASE, headers={"X-Review-Token": TOKEN})
    session.store.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(JSON_VALUES, st.fixed_dictionaries(
    {"fragment_id": JSON_VALUES | st.sampled_from(["a.txt#2.1", "a.txt#4.1"]),
     "action": JSON_VALUES | st.sampled_from(["accept", "reject", "recode"])},
    optional={"codes": JSON_VALUES | st.lists(st.sampled_from(["support", "care", "warmth", "x"]), max_size=3),
              "span": JSON_VALUES})), raw=st.binary(max_size=40))
def test_any_request_body_is_answered_with_a_decision_or_one_clear_4xx(shared_client, body: object,  # type: ignore[no-untyped-def]
                                                                      raw: bytes) -> None:
    session, client = shared_client
    for content in (json.dumps(body).encode(), raw):
        before = session.store.count("review_decisions")
        answer = client.post("/api/decisions", content=content, headers={"Content-Type": "application/json"})
        after = session.store.count("review_decisions")
        if answer.status_code == 200:
            assert after == before + 1
            session.undo()
        else:
            assert 400 <= answer.status_code < 500 and after == before
            error = answer.json()
            assert error["code"].startswith("E14") and "\n" not in error["error"]


def test_a_filter_with_an_endless_or_undefined_number_is_one_clear_400(client: TestClient) -> None:
    for name in ("limit", "min_score", "max_score"):
        for value in ("inf", "-inf", "nan", "1e999"):
            answer = client.get("/api/fragments", params={name: value})
            assert answer.status_code == 400, (name, value)
            assert answer.json()["code"] == "E145"
