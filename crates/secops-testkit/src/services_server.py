"""Local stand-ins for the services secops-notify's receivers call, over
HTTPS on 127.0.0.1 with a certificate of a CA made in the test. Each checks
a request as the service's public API documentation describes it (path,
method, authentication, content type, required fields, size limits) and
answers as the service does: its success answer, its error answer for a
request it would refuse, and its rate-limit answer (HTTP 429, with the
service's own way of saying when to come back) for the first N requests
when asked to.

usage: services_server.py OUTDIR CERT KEY SERVICE EXPECT_JSON [RATE_LIMITED [WAIT]]

SERVICE is twilio, pagerduty, opsgenie, slack, teams, telegram, matrix,
ntfy or http; EXPECT_JSON holds what the service knows (the credentials,
the room); the first RATE_LIMITED requests are told to come back in WAIT
seconds (1). Listens on 127.0.0.1 on a free port, or on the ADDR:PORT of
$SERVICES_LISTEN (as the service's own address, for a test that points
the service's host name at it). Prints the port, then saves every request as OUTDIR/<n>.json:
{"method", "path", "query", "headers", "body", "problems", "status", "at"}.
"""

import base64
import html.parser
import http.server
import json
import os
import re
import ssl
import sys
import time
import urllib.parse

outdir, cert, key, service, expect_json = sys.argv[1:6]
rate_limited = int(sys.argv[6]) if len(sys.argv) > 6 else 0
wait = int(sys.argv[7]) if len(sys.argv) > 7 else 1
expect = json.loads(expect_json)
count = 0
matrix_txns = {}


def json_body(req, problems):
    ctype = req["headers"].get("content-type", "")
    if not ctype.startswith("application/json"):
        problems.append("Content-Type is %r, not application/json" % ctype)
    try:
        return json.loads(req["body"])
    except ValueError as err:
        problems.append("the body is not JSON: %s" % err)
        return None


def need(cond, problems, text):
    if not cond:
        problems.append(text)


def twilio(req, problems):
    """POST /2010-04-01/Accounts/{AccountSid}/Messages.json, basic auth
    AccountSid:AuthToken, form-encoded To, From, Body (at most 1,600
    characters). 201 with the message resource; 400/401 with code and
    message; 429 code 20429."""
    sid, token = expect["account_sid"], expect["auth_token"]
    if req["headers"].get("authorization") != "Basic " + base64.b64encode(
        ("%s:%s" % (sid, token)).encode()
    ).decode():
        problems.append("basic auth is not AccountSid:AuthToken")
        return 401, {"code": 20003, "message": "Authenticate",
                     "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}
    need(req["method"] == "POST", problems, "method is not POST")
    need(req["path"] == "/2010-04-01/Accounts/%s/Messages.json" % sid, problems,
         "path %r is not the Messages resource" % req["path"])
    need(req["headers"].get("content-type", "").startswith("application/x-www-form-urlencoded"),
         problems, "not form-encoded")
    form = urllib.parse.parse_qs(req["body"], keep_blank_values=True)
    for field in ("To", "From", "Body"):
        need(len(form.get(field, [])) == 1, problems, "%s is missing or repeated" % field)
    to = form.get("To", [""])[0]
    if not re.fullmatch(r"\+[1-9][0-9]{7,14}", to):
        problems.append("To %r is not E.164" % to)
        return 400, {"code": 21211, "message": "The 'To' number %s is not a valid phone number." % to,
                     "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}
    body = form.get("Body", [""])[0]
    if not body or len(body) > 1600:
        problems.append("Body is empty or over 1,600 characters (%d)" % len(body))
        return 400, {"code": 21617, "message": "The concatenated message body exceeds the 1600 character limit.",
                     "more_info": "https://www.twilio.com/docs/errors/21617", "status": 400}
    return 201, {"sid": "SM%032x" % count, "account_sid": sid, "to": to,
                 "from": form.get("From", [""])[0], "body": body, "status": "queued",
                 "num_segments": "1", "direction": "outbound-api"}


def pagerduty(req, problems):
    """POST /v2/enqueue, JSON; routing_key, event_action, dedup_key (at
    most 255 characters; required to resolve), and for a trigger a payload
    with summary (at most 1,024), source and severity (critical, error,
    warning, info). 202 on success; 400 "invalid event" with errors."""
    need(req["method"] == "POST" and req["path"] == "/v2/enqueue", problems,
         "not POST /v2/enqueue: %s %s" % (req["method"], req["path"]))
    need(len(req["body"].encode()) <= 512 * 1024, problems, "event over 512 KB")
    event = json_body(req, problems)
    if not isinstance(event, dict):
        return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": ["not an object"]}
    errors = []
    if event.get("routing_key") != expect["routing_key"]:
        errors.append("'routing_key' is invalid")
    action = event.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        errors.append("'event_action' is invalid")
    dedup = event.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup:
        errors.append("'dedup_key' is required for %s" % action)
    if action == "trigger":
        payload = event.get("payload") or {}
        summary = payload.get("summary")
        if not isinstance(summary, str) or not summary or len(summary) > 1024:
            errors.append("'payload.summary' is missing or over 1024 characters")
        if not payload.get("source"):
            errors.append("'payload.source' is missing")
        if payload.get("severity") not in ("critical", "error", "warning", "info"):
            errors.append("'payload.severity' is invalid")
    if errors:
        problems.extend(errors)
        return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
    return 202, {"status": "success", "message": "Event processed", "dedup_key": dedup or "generated"}


def opsgenie(req, problems):
    """Authorization: GenieKey KEY. POST /v2/alerts (message at most 130
    characters, required; alias 512; description 15,000; at most 20 tags
    of 50; priority P1-P5; details a map of strings), and POST
    /v2/alerts/{alias}/close?identifierType=alias. 202 "Request will be
    processed"; 422 with a message for a bad request."""
    if req["headers"].get("authorization") != "GenieKey " + expect["api_key"]:
        problems.append("no GenieKey authorization")
        return 401, {"message": "Could not authenticate", "took": 0.0, "requestId": "r%d" % count}
    need(req["method"] == "POST", problems, "method is not POST")
    body = json_body(req, problems)
    errors = []
    if req["path"] == "/v2/alerts":
        if not isinstance(body, dict):
            errors.append("body is not an object")
        else:
            message = body.get("message")
            if not isinstance(message, str) or not message or len(message) > 130:
                errors.append("Message can not be empty or longer than 130 characters")
            if len(body.get("alias", "")) > 512:
                errors.append("Alias longer than 512 characters")
            if len(body.get("description", "")) > 15000:
                errors.append("Description longer than 15000 characters")
            tags = body.get("tags", [])
            if len(tags) > 20 or any(len(t) > 50 for t in tags):
                errors.append("Tags: at most 20 of at most 50 characters")
            if body.get("priority", "P3") not in ("P1", "P2", "P3", "P4", "P5"):
                errors.append("Priority should be one of [P1, P2, P3, P4, P5]")
            details = body.get("details", {})
            if not isinstance(details, dict) or any(not isinstance(v, str) for v in details.values()):
                errors.append("Details must be a map of strings")
            elif sum(len(k) + len(v) for k, v in details.items()) > 8000:
                errors.append("Details can be at most 8000 characters in total")
    else:
        m = re.fullmatch(r"/v2/alerts/([^/]+)/close", req["path"])
        if m:
            req["alias"] = urllib.parse.unquote(m.group(1))
        if not m:
            errors.append("unknown path %s" % req["path"])
        elif req["query"] != "identifierType=alias":
            errors.append("close without identifierType=alias: %r" % req["query"])
        elif not isinstance(body, dict):
            errors.append("body is not an object")
        elif len(body.get("note", "")) > 25000:
            errors.append("Note can be at most 25000 characters")
    if errors:
        problems.extend(errors)
        return 422, {"message": "; ".join(errors), "took": 0.001, "requestId": "r%d" % count}
    return 202, {"result": "Request will be processed", "took": 0.002, "requestId": "r%d" % count}


def slack_text(obj, limit, where, errors):
    text = (obj or {}).get("text")
    if not isinstance(text, str) or not text or len(text) > limit:
        errors.append("%s text missing or over %d characters" % (where, limit))


def slack_blocks(blocks, where, errors):
    if not isinstance(blocks, list) or len(blocks) > 50:
        errors.append("%s: blocks must be a list of at most 50" % where)
        return
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            need(block["text"].get("type") == "plain_text", errors, "header text is not plain_text")
            slack_text(block.get("text"), 150, "header", errors)
        elif kind == "section":
            slack_text(block.get("text"), 3000, "section", errors)
            if block["text"].get("type") == "mrkdwn" and re.search(r"<(?!@|#|!|https?:|mailto:)", block["text"]["text"]):
                errors.append("section mrkdwn holds an unescaped <")
        else:
            errors.append("%s: unexpected block type %r" % (where, kind))


def slack(req, problems):
    """An incoming webhook: POST JSON with text and/or blocks (at most 50;
    a header's plain_text at most 150 characters, a section's text 3,000;
    attachments with a hex color and blocks). "ok" with 200; 400 with
    invalid_blocks / no_text / invalid_payload; 404 no_service."""
    if req["path"] != expect["path"]:
        problems.append("wrong webhook path")
        return 404, "no_service"
    need(req["method"] == "POST", problems, "method is not POST")
    body = json_body(req, problems)
    if not isinstance(body, dict):
        return 400, "invalid_payload"
    errors = []
    if not body.get("text") and not body.get("blocks"):
        problems.append("no text")
        return 400, "no_text"
    if "blocks" in body:
        slack_blocks(body["blocks"], "blocks", errors)
    for attachment in body.get("attachments", []):
        color = attachment.get("color", "")
        if color not in ("good", "warning", "danger") and not re.fullmatch(r"#[0-9a-fA-F]{6}", color):
            errors.append("attachment color is not #rrggbb, good, warning or danger")
        slack_blocks(attachment.get("blocks", []), "attachment", errors)
    if errors:
        problems.extend(errors)
        return 400, "invalid_blocks"
    return 200, "ok"


def teams(req, problems):
    """A channel webhook taking an Adaptive Card: POST JSON
    {"type": "message", "attachments": [{"contentType":
    "application/vnd.microsoft.card.adaptive", "content": {"type":
    "AdaptiveCard", "version", "body"}}]}, at most 28 KB. A Workflows URL
    answers 202 Accepted (before its flow runs); an Office 365 connector
    URL (/webhookb2/) answers 200 whatever happened: "1" when it took the
    message, the error's text when not ("Webhook message delivery failed
    with error: Microsoft Teams endpoint returned HTTP error 413")."""
    connector = "/webhookb2/" in req["path"]
    failed = "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error %d"
    if req["path"] != expect["path"]:
        problems.append("wrong webhook path")
        return 404, ""
    need(req["method"] == "POST", problems, "method is not POST")
    if len(req["body"].encode()) > 28 * 1024:
        problems.append("message over 28 KB")
        return (200, failed % 413) if connector else (413, "Payload too large")
    body = json_body(req, problems)
    errors = []
    try:
        need(body["type"] == "message", errors, "type is not message")
        attachment = body["attachments"][0]
        need(attachment["contentType"] == "application/vnd.microsoft.card.adaptive", errors, "not an adaptive card")
        card = attachment["content"]
        need(card["type"] == "AdaptiveCard", errors, "content type is not AdaptiveCard")
        need(re.fullmatch(r"1\.[0-6]", card["version"]) is not None, errors, "version is not 1.0-1.6")
        for element in card["body"]:
            need(element["type"] in ("TextBlock", "FactSet", "Container", "ColumnSet"), errors,
                 "unknown element %r" % element["type"])
            if element["type"] == "TextBlock":
                need(element.get("color", "Default") in
                     ("Default", "Dark", "Light", "Accent", "Good", "Warning", "Attention"),
                     errors, "bad TextBlock color")
    except (KeyError, IndexError, TypeError) as err:
        errors.append("missing %s" % err)
    if errors:
        problems.extend(errors)
        return (200, failed % 400) if connector else (400, "Bad payload received by generic incoming webhook.")
    return (200, "1") if connector else (202, "")


class TelegramHTML(html.parser.HTMLParser):
    """Telegram's HTML: only its tags; every < > & outside them escaped."""
    ALLOWED = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
               "span", "tg-spoiler", "blockquote", "tg-emoji"}

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.errors, self.text = [], []

    def handle_starttag(self, tag, attrs):
        if tag not in self.ALLOWED:
            self.errors.append("Unsupported start tag \"%s\"" % tag)

    def handle_data(self, data):
        if "<" in data or ">" in data:
            self.errors.append("unescaped < or >")
        self.text.append(data)

    def handle_entityref(self, name):
        if name not in ("lt", "gt", "amp", "quot"):
            self.errors.append("unknown entity &%s;" % name)
        self.text.append("x")

    def handle_charref(self, name):
        self.text.append("x")


def telegram(req, problems):
    """POST /bot<token>/sendMessage, JSON chat_id and text (1 to 4,096
    characters after entities parsing), parse_mode HTML with only its tags.
    {"ok": true, "result": message}; {"ok": false, "error_code",
    "description"} on errors; 429 with parameters.retry_after."""
    if not req["path"].startswith("/bot%s/" % expect["token"]):
        problems.append("wrong token in the path")
        return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
    if req["path"] != "/bot%s/sendMessage" % expect["token"]:
        problems.append("wrong method in the path")
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
    need(req["method"] == "POST", problems, "method is not POST")
    body = json_body(req, problems) or {}
    if body.get("chat_id") != expect["chat"]:
        problems.append("chat_id %r is not the chat" % body.get("chat_id"))
        return 400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
    text = body.get("text", "")
    shown = text
    if body.get("parse_mode") == "HTML":
        parser = TelegramHTML()
        parser.feed(text)
        parser.close()
        if parser.errors:
            problems.extend(parser.errors)
            return 400, {"ok": False, "error_code": 400,
                         "description": "Bad Request: can't parse entities: " + parser.errors[0]}
        shown = "".join(parser.text)
    if not shown or len(shown) > 4096:
        problems.append("text is empty or over 4096 characters (%d)" % len(shown))
        return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"}
    return 200, {"ok": True, "result": {"message_id": count, "chat": {"id": expect["chat"]},
                                        "date": 1765000000, "text": shown}}


def matrix(req, problems):
    """PUT /_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}
    with Authorization: Bearer; an m.text body, and an HTML
    formatted_body with format org.matrix.custom.html; the event under
    65,536 bytes. A transaction id seen before returns the same event id
    and posts nothing. 200 {"event_id"}; 401 M_UNKNOWN_TOKEN; 429
    M_LIMIT_EXCEEDED with retry_after_ms."""
    if req["headers"].get("authorization") != "Bearer " + expect["token"]:
        problems.append("no bearer token")
        return 401, {"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token passed."}
    m = re.fullmatch(r"/_matrix/client/v3/rooms/([^/]+)/send/m\.room\.message/([^/]+)", req["path"])
    if not m or req["method"] != "PUT":
        problems.append("not PUT .../send/m.room.message/{txnId}: %s %s" % (req["method"], req["path"]))
        return 404, {"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"}
    room, txn = urllib.parse.unquote(m.group(1)), urllib.parse.unquote(m.group(2))
    if room != expect["room"]:
        problems.append("room %r is not the room" % room)
        return 403, {"errcode": "M_FORBIDDEN", "error": "User not in room"}
    body = json_body(req, problems) or {}
    errors = []
    need(body.get("msgtype") == "m.text", errors, "msgtype is not m.text")
    need(isinstance(body.get("body"), str) and body["body"], errors, "no body")
    if "formatted_body" in body:
        need(body.get("format") == "org.matrix.custom.html", errors, "formatted_body without its format")
    need(len(req["body"].encode()) < 65536, errors, "event over 65,536 bytes")
    if errors:
        problems.extend(errors)
        return 400, {"errcode": "M_BAD_JSON", "error": "; ".join(errors)}
    event = matrix_txns.setdefault(txn, "$event%d" % count)
    return 200, {"event_id": event}


def ntfy(req, problems):
    """A JSON publish: POST / with topic ([-_A-Za-z0-9]{1,64}), message (at
    most 4,096 bytes), title, priority 1-5, tags; Bearer auth when the
    topic is protected. 200 with the message; 400/403 {"code", "http",
    "error"}; 429 code 42901."""
    auth = req["headers"].get("authorization")
    if expect.get("token") and auth is None:
        problems.append("no bearer token for a protected topic")
        return 403, {"code": 40301, "http": 403, "error": "forbidden", "link": "https://ntfy.sh/docs/publish/#authentication"}
    if expect.get("token") and auth != "Bearer " + expect["token"]:
        problems.append("a wrong token")
        return 401, {"code": 40101, "http": 401, "error": "unauthorized", "link": "https://ntfy.sh/docs/publish/#authentication"}
    need(req["method"] == "POST" and req["path"] == "/", problems, "not a JSON publish to /")
    body = json_body(req, problems) or {}
    errors = []
    if not re.fullmatch(r"[-_A-Za-z0-9]{1,64}", str(body.get("topic", ""))) or body.get("topic") != expect["topic"]:
        errors.append("topic %r is not the topic" % body.get("topic"))
    need(len(str(body.get("message", "")).encode()) <= 4096, errors, "message over 4,096 bytes")
    need(body.get("priority", 3) in (1, 2, 3, 4, 5), errors, "priority not 1-5")
    need(isinstance(body.get("tags", []), list), errors, "tags not a list")
    if errors:
        problems.extend(errors)
        return 400, {"code": 40001, "http": 400, "error": "invalid request: " + "; ".join(errors)}
    return 200, {"id": "m%d" % count, "time": 1765000000, "expires": 1765043200, "event": "message",
                 "topic": body["topic"], "title": body.get("title"), "message": body.get("message"),
                 "priority": body.get("priority"), "tags": body.get("tags")}


def anything(req, problems):
    """The templated webhook's far end: takes everything, 200."""
    return 200, {"ok": True}


SERVICES = {"twilio": twilio, "pagerduty": pagerduty, "opsgenie": opsgenie, "slack": slack,
            "teams": teams, "telegram": telegram, "matrix": matrix, "ntfy": ntfy, "http": anything}


def limited():
    """The service's rate-limit answer: status, extra headers, body."""
    if service == "telegram":
        return 429, {}, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after %d" % wait,
                         "parameters": {"retry_after": wait}}
    if service == "matrix":
        return 429, {}, {"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests", "retry_after_ms": wait * 1000}
    if service == "twilio":
        return 429, {"Retry-After": str(wait)}, {"code": 20429, "message": "Too Many Requests",
                                           "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429}
    if service == "ntfy":
        return 429, {"Retry-After": str(wait)}, {"code": 42901, "http": 429, "error": "limit reached: too many requests"}
    if service == "slack":
        return 429, {"Retry-After": str(wait)}, "rate_limited"
    if service == "teams":
        failed = "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429"
        return (200, {}, failed) if "/webhookb2/" in expect["path"] else (429, {"Retry-After": str(wait)}, "")
    # PagerDuty and Opsgenie say nothing of when to come back.
    return 429, {}, {"message": "Too Many Requests"}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_any(self):
        global count
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        count += 1
        path, _, query = self.path.partition("?")
        req = {"method": self.command, "path": path,
               "query": query, "headers": {k.lower(): v for k, v in self.headers.items()},
               "body": raw.decode("utf-8", "replace"), "problems": [], "at": time.time()}
        if count <= rate_limited:
            status, headers, answer = limited()
        else:
            status, answer = SERVICES[service](req, req["problems"])
            headers = {}
        req["status"] = status
        path = os.path.join(outdir, "%04d.json" % count)
        with open(path + ".tmp", "w") as f:
            json.dump(req, f)
        os.rename(path + ".tmp", path)
        data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if isinstance(answer, str) else "application/json")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_PUT = do_PATCH = do_GET = do_DELETE = handle_any

    def log_message(self, *args):
        pass


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
host, port = os.environ.get("SERVICES_LISTEN", "127.0.0.1:0").rsplit(":", 1)
server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
