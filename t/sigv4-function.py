#!/usr/bin/python3
#
# A private function for t/1*-sign-*.t: it checks the AWS SigV4 signature
# of every request it gets, as a Lambda function URL with AuthType AWS_IAM
# does, recomputing it independently with Debian's python3-botocore, and
# answers 403 when it does not match.  Usage:
#
#     sigv4-function.py PORT KEYS_JSON OWNER_PID
#
# KEYS_JSON maps access key ids to {"secret": ..., "token": ...}.  It
# exits when OWNER_PID is gone.  Paths:
#
#   /count/KEY       how many signed requests with /KEY/ in their path
#                    came (a KEY starts with "k-")
#   /dates/KEY       their distinct X-Amz-Date values, space-separated
#   .../fail-N/...   the first N signed requests of that path get 503
#                    with Retry-After: 1 (the rest: 200)
#   anything else    200 and, as text: the method, the path, the query,
#                    the access key id, the payload hash and the body's
#                    length, once the signature is checked

import calendar
import hashlib
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

PORT = int(sys.argv[1])
KEYS = json.loads(sys.argv[2])
OWNER = int(sys.argv[3])

LOCK = threading.Lock()
SEEN = {}       # path key -> [dates]
FAILS = {}      # path -> failures given

AUTH_RE = re.compile(
    r'^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/'
    r'aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$')


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, text, extra=None):
        body = text.encode()
        self.send_response(status)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def key_of(self, path):
        m = re.search(r'/(k-[A-Za-z0-9-]+)', path)
        return m.group(1) if m else None

    def handle_any(self):
        raw = self.path
        path, _, query = raw.partition('?')

        if path.startswith('/count/') or path.startswith('/dates/'):
            key = path[7:]
            with LOCK:
                dates = SEEN.get(key, [])
            if path.startswith('/count/'):
                return self.answer(200, '%d\n' % len(dates))
            return self.answer(200, ' '.join(sorted(set(dates))) + '\n')

        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''

        why = self.check(path, query, body)
        if why:
            return self.answer(403, 'signature refused: %s\n' % why)

        key = self.key_of(path)
        if key:
            with LOCK:
                SEEN.setdefault(key, []).append(self.headers['X-Amz-Date'])

        m = re.search(r'/fail-(\d+)/', path)
        if m:
            with LOCK:
                given = FAILS.get(path, 0)
                if given < int(m.group(1)):
                    FAILS[path] = given + 1
                    return self.answer(503, 'failing on purpose\n',
                                       {'Retry-After': '1'})

        cred = AUTH_RE.match(self.headers['Authorization']).group(1)
        self.answer(200, 'signed %s %s ?%s key=%s payload=%s length=%d\n' % (
            self.command, path, query, cred,
            self.headers['X-Amz-Content-Sha256'], len(body)))

    def check(self, path, query, body):
        for name in ('Authorization', 'X-Amz-Date', 'X-Amz-Content-Sha256',
                     'X-Amz-Security-Token', 'Host'):
            if len(self.headers.get_all(name) or []) > 1:
                return 'more than one %s' % name

        auth = self.headers.get('Authorization')
        if auth is None:
            return 'no Authorization'

        m = AUTH_RE.match(auth)
        if m is None:
            return 'a malformed Authorization'

        akid, day, region, service, signed, signature = m.groups()
        signed = signed.split(';')

        key = KEYS.get(akid)
        if key is None:
            return 'an unknown access key'

        for need in ('host', 'x-amz-date', 'x-amz-content-sha256'):
            if need not in signed:
                return '%s is not signed' % need

        token = self.headers.get('X-Amz-Security-Token')
        if key.get('token') != token:
            return 'the security token does not match the key'
        if token is not None and 'x-amz-security-token' not in signed:
            return 'the security token is not signed'

        amzdate = self.headers['X-Amz-Date']
        try:
            t = calendar.timegm(time.strptime(amzdate, '%Y%m%dT%H%M%SZ'))
        except (TypeError, ValueError):
            return 'a malformed X-Amz-Date'
        if abs(time.time() - t) > 300 or amzdate[:8] != day:
            return 'X-Amz-Date is not now'

        payload = self.headers['X-Amz-Content-Sha256']
        if payload != 'UNSIGNED-PAYLOAD' \
                and payload != hashlib.sha256(body).hexdigest():
            return 'X-Amz-Content-Sha256 is not the hash of the body'

        headers = {}
        for name in signed:
            values = self.headers.get_all(name)
            if not values:
                return 'signed header %s is missing' % name
            headers[name] = ','.join(values)

        req = AWSRequest(method=self.command,
                         url='http://%s%s' % (headers['host'], path),
                         headers=headers, data=body,
                         params=parse_qsl(query, keep_blank_values=True))
        req.context['timestamp'] = amzdate

        signer = SigV4Auth(Credentials(akid, key['secret'], token),
                           service, region)
        creq = signer.canonical_request(req)
        sts = signer.string_to_sign(req, creq)

        if signer.signature(sts, req) != signature:
            sys.stderr.write('sigv4-function: mismatch; canonical request:'
                             '\n%s\n' % creq)
            return 'the signature does not match'

        return None

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any
    do_OPTIONS = handle_any


def watch_owner(server):
    while True:
        time.sleep(0.5)
        try:
            os.kill(OWNER, 0)
        except OSError:
            server.shutdown()
            return


server = ThreadingHTTPServer(('127.0.0.1', PORT), Handler)
server.daemon_threads = True
threading.Thread(target=watch_owner, args=(server,), daemon=True).start()
server.serve_forever(poll_interval=0.2)
