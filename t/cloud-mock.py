#!/usr/bin/python3
#
# The cloud of t/10*-sign-*.t, on one port:
#
# - a private function that checks the AWS SigV4 signature of every
#   request, as a Lambda function URL with AuthType AWS_IAM does,
#   recomputing it independently with Debian's python3-botocore, and
#   answers 403 when it does not match;
# - the same for Google ID tokens (paths /run/...), as Cloud Run with
#   IAM does: a token this mock issued, unexpired, for the function's URL;
# - an IMDSv2 (/imds/SCENARIO/latest/...), a GCP metadata server
#   (/gcp/SCENARIO/computeMetadata/...) and a Google token endpoint
#   (/gcp-token/SCENARIO) that checks the RS256 assertion of
#   t/data/keys/rsa1.pem with openssl.
#
#     cloud-mock.py PORT KEYS_JSON OWNER_PID
#
# KEYS_JSON maps access key ids to {"secret": ..., "token": ...}; the
# IMDS hands out those with a token, in turn.  It exits when OWNER_PID
# is gone.  A SCENARIO is words joined by "-": expN (what is handed out
# expires in N s; default an hour), failN (the first N fetches fail with
# 500), upN (only the first N succeed, then 500).  Paths:
#
#   /count/KEY       how many signed requests with /KEY/ in their path
#                    came (a KEY starts with "k-")
#   /dates/KEY       their distinct X-Amz-Date values, space-separated
#   /fetches/SCENARIO  "N" fetches of credentials or tokens answered
#   .../fail-N/...   the first N signed requests of that path get 503
#                    with Retry-After: 1 (the rest: 200)
#   anything else    200 and, as text: the method, the path, the query,
#                    the access key id, the payload hash and the body's
#                    length, once the signature is checked

import base64
import calendar
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
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
ASKED = {}      # scenario -> fetches asked for
ANSWERED = {}   # scenario -> fetches answered
IMDS_TOKENS = set()
ID_TOKENS = {}  # token -> (audience, expiry)
TEMP_KEYS = sorted(k for k in KEYS if 'token' in KEYS[k])

HERE = os.path.dirname(os.path.abspath(__file__))
PUBKEY = tempfile.NamedTemporaryFile(suffix='.pem', delete=False)
PUBKEY.write(subprocess.run(
    ['openssl', 'pkey', '-pubout', '-in',
     os.path.join(HERE, 'data', 'keys', 'rsa1.pem')],
    check=True, capture_output=True).stdout)
PUBKEY.close()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def scenario(name):
    opts = {'exp': 3600, 'fail': 0, 'up': None}
    for word in name.split('-'):
        m = re.match(r'^(exp|fail|up)(\d+)$', word)
        if m:
            opts[m.group(1)] = int(m.group(2))
    return opts


def fetch_allowed(name):
    """counts a fetch of what expires; False when it is to fail"""
    opts = scenario(name)
    with LOCK:
        n = ASKED.get(name, 0)
        ASKED[name] = n + 1
        if n < opts['fail']:
            return False
        if opts['up'] is not None and n >= opts['up']:
            return False
        ANSWERED[name] = ANSWERED.get(name, 0) + 1
        return True


def id_token(audience, expires):
    head = b64url(b'{"alg":"RS256","kid":"mock"}')
    body = b64url(json.dumps({
        'aud': audience, 'exp': expires, 'iat': int(time.time()),
        'iss': 'https://accounts.google.com',
        'sub': secrets.token_hex(8)}).encode())
    token = '%s.%s.%s' % (head, body, b64url(secrets.token_bytes(32)))
    with LOCK:
        ID_TOKENS[token] = (audience, expires)
    return token

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

        if path.startswith('/imds/'):
            return self.imds(path)
        if path.startswith('/gcp/'):
            return self.gcp_metadata(path, query)
        if path.startswith('/gcp-token/'):
            return self.gcp_token(path)
        if path.startswith('/fetches/'):
            with LOCK:
                n = ANSWERED.get(path[9:], 0)
            return self.answer(200, '%d\n' % n)
        if path.startswith('/run/'):
            return self.bearer(path)

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

    def imds(self, path):
        m = re.match(r'^/imds/([^/]+)/latest/(.*)$', path)
        if m is None:
            return self.answer(404, 'no such path\n')
        name, rest = m.groups()

        if rest == 'api/token':
            if self.command != 'PUT':
                return self.answer(405, 'PUT only\n')
            if not self.headers.get('X-aws-ec2-metadata-token-ttl-seconds'):
                return self.answer(400, 'no ttl\n')
            token = secrets.token_urlsafe(32)
            with LOCK:
                IMDS_TOKENS.add(token)
            return self.answer(200, token)

        with LOCK:
            ok = self.headers.get('X-aws-ec2-metadata-token') in IMDS_TOKENS
        if not ok:
            return self.answer(401, 'no IMDSv2 session token\n')

        if rest == 'meta-data/iam/security-credentials/':
            return self.answer(200, 'gateway-role')

        if rest != 'meta-data/iam/security-credentials/gateway-role':
            return self.answer(404, 'no such role\n')

        if not fetch_allowed(name):
            return self.answer(500, 'down\n')

        with LOCK:
            n = ANSWERED[name]
        akid = TEMP_KEYS[(n - 1) % len(TEMP_KEYS)]
        expires = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(
            time.time() + scenario(name)['exp']))
        self.answer(200, json.dumps({
            'Code': 'Success', 'Type': 'AWS-HMAC',
            'LastUpdated': time.strftime('%Y-%m-%dT%H:%M:%SZ',
                                         time.gmtime()),
            'AccessKeyId': akid,
            'SecretAccessKey': KEYS[akid]['secret'],
            'Token': KEYS[akid]['token'],
            'Expiration': expires}, indent=2))

    def gcp_metadata(self, path, query):
        m = re.match(r'^/gcp/([^/]+)/computeMetadata/v1/instance/'
                     r'service-accounts/default/identity$', path)
        if m is None:
            return self.answer(404, 'no such path\n')
        if self.headers.get('Metadata-Flavor') != 'Google':
            return self.answer(403, 'no Metadata-Flavor: Google\n')
        args = dict(parse_qsl(query, keep_blank_values=True))
        if not args.get('audience') or args.get('format') != 'full':
            return self.answer(400, 'no audience\n')
        name = m.group(1)
        if not fetch_allowed(name):
            return self.answer(500, 'down\n')
        self.answer(200, id_token(args['audience'],
                                  int(time.time()) + scenario(name)['exp']))

    def gcp_token(self, path):
        name = path[len('/gcp-token/'):]
        length = int(self.headers.get('Content-Length') or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode()))

        if self.headers.get('Content-Type') \
                != 'application/x-www-form-urlencoded':
            return self.answer(400, 'not a form\n')
        if form.get('grant_type') \
                != 'urn:ietf:params:oauth:grant-type:jwt-bearer':
            return self.answer(400, 'not a JWT bearer grant\n')

        parts = form.get('assertion', '').split('.')
        if len(parts) != 3:
            return self.answer(400, 'not a JWT\n')
        with tempfile.NamedTemporaryFile() as data, \
                tempfile.NamedTemporaryFile() as sig:
            data.write(('%s.%s' % (parts[0], parts[1])).encode())
            data.flush()
            sig.write(unb64url(parts[2]))
            sig.flush()
            good = subprocess.run(
                ['openssl', 'dgst', '-sha256', '-verify', PUBKEY.name,
                 '-signature', sig.name, data.name],
                capture_output=True).returncode == 0
        if not good:
            return self.answer(400, 'bad assertion signature\n')

        head = json.loads(unb64url(parts[0]))
        claims = json.loads(unb64url(parts[1]))
        me = 'http://%s%s' % (self.headers['Host'], path)
        now = time.time()
        if head.get('alg') != 'RS256' or claims.get('aud') != me \
                or claims.get('iss') != claims.get('sub') \
                or '@' not in claims.get('iss', '') \
                or abs(claims.get('iat', 0) - now) > 60 \
                or claims.get('exp', 0) - claims.get('iat', 0) > 3600 \
                or not claims.get('target_audience'):
            return self.answer(400, 'bad assertion claims\n')

        if not fetch_allowed(name):
            return self.answer(500, 'down\n')
        self.answer(200, json.dumps({'id_token': id_token(
            claims['target_audience'],
            int(now) + scenario(name)['exp'])}))

    def bearer(self, path):
        auth = self.headers.get_all('Authorization') or []
        if len(auth) != 1 or not auth[0].startswith('Bearer '):
            return self.answer(401, 'no bearer token\n')
        with LOCK:
            aud, exp = ID_TOKENS.get(auth[0][7:], (None, 0))
        want = 'https://custom.example/' if '/aud-custom/' in path \
            else 'http://%s' % self.headers['Host']
        if aud is None:
            return self.answer(403, 'a token the mock did not issue\n')
        if aud != want:
            return self.answer(403, 'the token is for %s\n' % aud)
        if exp <= time.time():
            return self.answer(403, 'the token expired\n')
        key = self.key_of(path)
        if key:
            with LOCK:
                SEEN.setdefault(key, []).append(str(exp))
        self.answer(200, 'bearer %s %s aud=%s\n' % (self.command, path, aud))

    def check(self, path, query, body):
        for name in ('Authorization', 'X-Amz-Date', 'X-Amz-Content-Sha256',
                     'X-Amz-Security-Token', 'Host'):
            if len(self.headers.get_all(name) or []) > 1:
                return 'more than one %s' % name

        # only the gateway's own X-Amz-* headers, spelled as it spells them
        for name in self.headers.keys():
            norm = name.lower().replace('_', '-')
            if (norm.startswith('x-amz-') or norm == 'authorization') \
                    and name not in GATEWAY_AMZ:
                return 'a client header %s' % name

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


GATEWAY_AMZ = ('Authorization', 'X-Amz-Date', 'X-Amz-Content-Sha256',
               'X-Amz-Security-Token')


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
