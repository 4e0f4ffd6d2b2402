"""Mint and check HS256 JWTs with PyJWT (to cross-check the Rust servers' tokens).

Usage:
  jwt_tool.py mint --secret S --sub ID --name NAME [--admin] [--ttl-seconds N]
  jwt_tool.py decode --secret S TOKEN

mint prints the token (claims: sub, name, iat, exp = iat + N, default N 3600;
admin: true only with --admin; a negative N mints an already expired token).
decode verifies the HS256 signature and exp (exp is required) and prints the
claims as sorted JSON; on failure it prints `invalid token: <Error>: <reason>`
on stderr and exits 2. PyJWT's warning about a secret shorter than 32 bytes is
shown as a one-line `warning:` on stderr.
"""

import argparse
import json
import sys
import time
import warnings

import jwt


def report_warnings(caught: list[warnings.WarningMessage]) -> None:
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)


def mint(opts: argparse.Namespace) -> int:
    now = int(time.time())
    claims = {"sub": opts.sub, "name": opts.name, "iat": now, "exp": now + opts.ttl_seconds}
    if opts.admin:
        claims["admin"] = True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        token = jwt.encode(claims, opts.secret, algorithm="HS256")
    report_warnings(caught)
    print(token)
    return 0


def decode(opts: argparse.Namespace) -> int:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            claims = jwt.decode(opts.token, opts.secret, algorithms=["HS256"], options={"require": ["exp"]})
    except jwt.PyJWTError as e:
        print(f"invalid token: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    report_warnings(caught)
    print(json.dumps(claims, sort_keys=True))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p_mint = sub.add_parser("mint", help="print a new HS256 token")
    p_mint.add_argument("--secret", required=True)
    p_mint.add_argument("--sub", required=True, help="subject (user id)")
    p_mint.add_argument("--name", required=True)
    p_mint.add_argument("--admin", action="store_true", help="add the claim admin: true")
    p_mint.add_argument("--ttl-seconds", type=int, default=3600, help="lifetime (default 3600; negative = expired)")
    p_mint.set_defaults(run=mint)

    p_decode = sub.add_parser("decode", help="verify a token and print its claims")
    p_decode.add_argument("--secret", required=True)
    p_decode.add_argument("token")
    p_decode.set_defaults(run=decode)

    opts = parser.parse_args()
    return opts.run(opts)


if __name__ == "__main__":
    sys.exit(main())
