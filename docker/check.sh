#!/usr/bin/env bash
#
# check.sh: check docker/ statically, on a machine without a Docker engine:
# what can be known about the compose file, the Dockerfile and the init
# scripts without building or starting anything.  One line per check,
# "ok - NAME" or "not ok - NAME: DETAIL"; exit status 1 when any failed.
#
#   check.sh [--compose FILE]                 run every check (FILE defaults
#                                             to docker-compose.yml here)
#   check.sh [--compose FILE] --copy-sources  print the build-context paths
#                                             the Dockerfile's build stage
#                                             copies, one per line
#
# What it checks:
#   - the compose file parses as YAML; every ${VAR} has a default, so one
#     `docker compose up` needs no .env
#   - every depends_on names a service with a valid condition, and a
#     service_healthy one has a healthcheck; no cycle
#   - every named volume is declared and every declared one used; every
#     bind-mounted path exists
#   - the build context and Dockerfile exist, build args are ARGs of it,
#     every service of a built image builds it the same way, other images
#     are pinned to a version
#   - Kafka runs in KRaft mode without ZooKeeper; its listeners, advertised
#     listeners, protocol map, controller quorum and CLUSTER_ID agree; its
#     healthcheck uses the image's own scripts
#   - the brokers the init script, the producer, topic-init and the
#     healthcheck use are the Kafka service's advertised listener inside
#     the network; they all name the same topic; the workers fit its
#     partitions
#   - PostgreSQL preloads trades_kafka, sets only settings the extension
#     defines, trades_kafka.database is the database the init script uses,
#     its volume holds the image's PGDATA, the init scripts are mounted,
#     executable, shellcheck-clean, read only variables the service or the
#     image sets, and call start() with parameters the extension defines
#   - the producer passes only options trades-producer defines
#   - the Dockerfile: ARG PG_MAJOR defaults to 15; FROM uses ARGs declared
#     before it; COPY sources exist in the build context (or were written by
#     the stage named in --from); the build stage runs scripts/build.sh and
#     installs the -dev packages whose runtime libraries the final stage
#     installs; every RUN, healthcheck and shell command is shellcheck-clean
#
# It installs nothing.  It needs python3 with PyYAML (Debian: python3-yaml)
# and shellcheck.
#
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"

# the first python3 that has PyYAML: the one on PATH, else Debian's
python=
for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import yaml' >/dev/null 2>&1; then
        python="$candidate"
        break
    fi
done
if [[ -z "$python" ]]; then
    echo "not ok - python3 with PyYAML is available: none found (Debian: apt-get install python3-yaml)"
    exit 1
fi
if ! command -v shellcheck >/dev/null 2>&1; then
    echo "not ok - shellcheck is available: not found (Debian: apt-get install shellcheck)"
    exit 1
fi

exec "$python" - "$ROOT" "$HERE" "$@" <<'PYTHON'
import base64
import glob
import os
import re
import shlex
import subprocess
import sys

import yaml

ROOT, HERE = sys.argv[1], sys.argv[2]
args = sys.argv[3:]
compose_path = os.path.join(HERE, "docker-compose.yml")
copy_sources_only = False
while args:
    a = args.pop(0)
    if a == "--compose" and args:
        compose_path = os.path.abspath(args.pop(0))
    elif a == "--copy-sources":
        copy_sources_only = True
    else:
        print("usage: check.sh [--compose FILE] [--copy-sources]", file=sys.stderr)
        sys.exit(2)
COMPOSE_DIR = os.path.dirname(compose_path)

failed = False


def ok(name):
    if not copy_sources_only:
        print("ok - %s" % name)


def fail(name, detail):
    global failed
    failed = True
    if copy_sources_only:
        print("check.sh: %s: %s" % (name, detail), file=sys.stderr)
        return
    lines = str(detail).rstrip("\n").split("\n")
    print("not ok - %s: %s" % (name, lines[0]))
    for line in lines[1:]:
        print("#   %s" % line)


def check(name, problems):
    """ok when problems (a list of strings) is empty, else not ok with them"""
    if problems:
        fail(name, "\n".join(problems))
    else:
        ok(name)


def rel(path):
    return os.path.relpath(path, ROOT)


def shellcheck(text, shell):
    """shellcheck's findings for a script given as text ('' when clean)"""
    r = subprocess.run(["shellcheck", "-s", shell, "-f", "gcc", "-"], input=text,
                       capture_output=True, text=True)
    return (r.stdout + r.stderr).replace("-:", "line ").strip()


# ---------------------------------------------------------------------------
# compose: parse, interpolate ${VAR:-default} with its defaults

try:
    with open(compose_path) as f:
        compose_text = f.read()
    compose = yaml.safe_load(compose_text)
    if not isinstance(compose, dict):
        raise ValueError("the top level is not a mapping")
except (OSError, yaml.YAMLError, ValueError) as e:
    fail("the compose file %s parses as YAML" % compose_path, e)
    sys.exit(1)


def interpolations(text):
    """(expression, problem) for every $ expression compose would expand"""
    found = []
    i = 0
    while i < len(text):
        if text[i] != "$":
            i += 1
            continue
        nxt = text[i + 1:i + 2]
        if nxt == "$":
            i += 2
            continue
        if nxt == "{":
            end = text.find("}", i)
            expr = text[i + 2:end] if end > 0 else text[i + 2:]
            m = re.match(r"^([A-Za-z_]\w*)(:?[-?+])?(.*)$", expr, re.S)
            if not m:
                found.append((expr, "is not a variable"))
            elif m.group(2) not in (":-", "-"):
                found.append((m.group(1), "has no default"))
            i = end + 1 if end > 0 else len(text)
            continue
        m = re.match(r"[A-Za-z_]\w*", text[i + 1:])
        if m:
            found.append((m.group(0), "is not of the form ${%s:-default}" % m.group(0)))
        i += 1
    return found


def expand(value):
    """a compose string with every ${VAR:-default} replaced by its default"""
    def one(m):
        if m.group(0) == "$$":
            return "$"
        expr = m.group(1)
        mm = re.match(r"^([A-Za-z_]\w*)(?::?-(.*))?$", expr, re.S)
        return mm.group(2) or "" if mm else ""
    return re.sub(r"\$\$|\$\{([^}]*)\}", one, value)


def expand_tree(node):
    if isinstance(node, dict):
        return {k: expand_tree(v) for k, v in node.items()}
    if isinstance(node, list):
        return [expand_tree(v) for v in node]
    if isinstance(node, str):
        return expand(node)
    return node


raw_services = compose.get("services") or {}
services = expand_tree(raw_services)
volumes_declared = compose.get("volumes") or {}
ok("the compose file %s parses as YAML (%d services)" % (rel(compose_path), len(services)))

# YAML comments are not interpolated
bad = interpolations("\n".join(l for l in compose_text.split("\n") if not l.lstrip().startswith("#")))
check("every ${VAR} in the compose file has a default, so `docker compose up` needs no .env",
      ["%s %s" % (v, why) for v, why in bad])

known_top = {"name", "services", "volumes", "networks", "configs", "secrets", "include"}
check("the compose file's top-level keys are compose keys",
      ["unknown top-level key %r" % k for k in compose if k not in known_top and not str(k).startswith("x-")])


def argv_of(value):
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return shlex.split(str(value))


def env_of(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        out = {}
        for item in env:
            k, _, v = str(item).partition("=")
            out[k] = v
        return out
    return {k: "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in env.items()}


def depends_of(svc):
    deps = svc.get("depends_on") or {}
    if isinstance(deps, list):
        return {d: "service_started" for d in deps}
    return {d: (c or {}).get("condition", "service_started") for d, c in deps.items()}


def healthcheck_test(svc):
    hc = svc.get("healthcheck") or {}
    if hc.get("disable"):
        return None
    test = hc.get("test")
    if test is None:
        return None
    if isinstance(test, str):
        return ["CMD-SHELL", test]
    return [str(t) for t in test]


def option(argv, *names):
    """the value of the first --name VALUE or --name=VALUE in argv"""
    for i, a in enumerate(argv):
        for n in names:
            if a == n and i + 1 < len(argv):
                return argv[i + 1]
            if a.startswith(n + "="):
                return a[len(n) + 1:]
    return None


# ---------------------------------------------------------------------------
# services, depends_on, volumes

check("every service has an image or a build",
      ["%s has neither" % n for n, s in services.items() if not s.get("image") and not s.get("build")])

problems = []
conditions = {"service_started", "service_healthy", "service_completed_successfully"}
for name, svc in services.items():
    for dep, cond in depends_of(svc).items():
        if dep not in services:
            problems.append("%s depends on %s, which is not a service" % (name, dep))
        if cond not in conditions:
            problems.append("%s: unknown condition %s for %s" % (name, cond, dep))
        elif cond == "service_healthy" and dep in services and healthcheck_test(services[dep]) is None:
            problems.append("%s waits for %s to be healthy, but %s has no healthcheck" % (name, dep, dep))
check("every depends_on names a service, with a valid condition", problems)


def cycle():
    state = {}

    def visit(n, path):
        if state.get(n) == 1:
            return path[path.index(n):] + [n]
        if state.get(n) == 2 or n not in services:
            return None
        state[n] = 1
        for d in depends_of(services[n]):
            c = visit(d, path + [n])
            if c:
                return c
        state[n] = 2
        return None
    for n in services:
        c = visit(n, [])
        if c:
            return c
    return None


c = cycle()
check("depends_on has no cycle", [" -> ".join(c)] if c else [])


def mounts(svc):
    """(source, target, is_named_volume) of a service's volumes"""
    out = []
    for v in svc.get("volumes") or []:
        if isinstance(v, dict):
            src, dst = v.get("source"), v.get("target")
            named = v.get("type", "volume") == "volume" and bool(src)
        else:
            parts = str(v).split(":")
            if len(parts) == 1:
                src, dst, named = None, parts[0], False
            else:
                src, dst = parts[0], parts[1]
                named = not src.startswith((".", "/", "~"))
        out.append((src, dst, named))
    return out


used_volumes = set()
problems = []
for name, svc in services.items():
    for src, dst, named in mounts(svc):
        if named:
            used_volumes.add(src)
            if src not in volumes_declared:
                problems.append("%s mounts volume %s, which is not declared under volumes" % (name, src))
check("every named volume a service mounts is declared", problems)
check("every declared volume is mounted by a service",
      ["volume %s is declared but never mounted" % v for v in volumes_declared if v not in used_volumes])

problems = []
for name, svc in services.items():
    for src, dst, named in mounts(svc):
        if src and not named and not os.path.exists(os.path.join(COMPOSE_DIR, os.path.expanduser(src))):
            problems.append("%s bind-mounts %s, which does not exist" % (name, src))
check("every bind-mounted path exists", problems)

published = {}
problems = []
for name, svc in services.items():
    for p in svc.get("ports") or []:
        parts = str(p).split(":")
        host = ":".join(parts[:-1]) or parts[-1]
        if host in published:
            problems.append("%s and %s both publish %s" % (published[host], name, host))
        published[host] = name
check("no two services publish the same host port", problems)

# ---------------------------------------------------------------------------
# the Dockerfile


def build_of(svc):
    b = svc.get("build")
    if b is None:
        return None
    if isinstance(b, str):
        b = {"context": b}
    context = os.path.normpath(os.path.join(COMPOSE_DIR, b.get("context", ".")))
    dockerfile = os.path.normpath(os.path.join(context, b.get("dockerfile", "Dockerfile")))
    a = b.get("args") or {}
    if isinstance(a, list):
        a = dict(str(x).partition("=")[::2] for x in a)
    return context, dockerfile, {k: str(v) for k, v in a.items()}


builds = {n: build_of(s) for n, s in services.items() if s.get("build")}
problems = []
for name, (context, dockerfile, _) in builds.items():
    if not os.path.isdir(context):
        problems.append("%s: build context %s does not exist" % (name, context))
    elif not os.path.isfile(dockerfile):
        problems.append("%s: Dockerfile %s does not exist" % (name, dockerfile))
check("every build context and Dockerfile exists", problems)

built_images = {}
problems = []
for name, b in builds.items():
    img = services[name].get("image")
    if img:
        if img in built_images and built_images[img][1] != b:
            problems.append("%s and %s build image %s differently" % (built_images[img][0], name, img))
        built_images.setdefault(img, (name, b))
for name, svc in services.items():
    img = svc.get("image")
    if img and not svc.get("build") and img in built_images:
        problems.append("%s uses image %s without building it: compose would try to pull it" % (name, img))
check("every service of an image built here builds it the same way", problems)

problems = []
for name, svc in services.items():
    img = svc.get("image")
    if img and not svc.get("build"):
        tag = img.rsplit("/", 1)[-1].partition(":")[2]
        if not tag or tag == "latest":
            problems.append("%s: image %s is not pinned to a version" % (name, img))
check("every pulled image is pinned to a version", problems)


def dockerfile_instructions(path):
    """[(line number, INSTRUCTION, rest)] with continuations joined"""
    out = []
    with open(path) as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        start = i + 1
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        text = line
        while text.rstrip().endswith("\\") and i < len(lines):
            text = text.rstrip()[:-1] + "\n"
            nxt = lines[i]
            i += 1
            if nxt.lstrip().startswith("#"):
                continue
            text += nxt
        word, _, rest = text.strip().partition(" ")
        out.append((start, word.upper(), rest.strip()))
    return out


def split_flags(rest):
    """(flags dict, remaining words) of COPY/ADD/RUN --flag=value words"""
    flags = {}
    if rest.startswith("["):
        import json
        return flags, json.loads(rest)
    words = shlex.split(rest, posix=True)
    while words and words[0].startswith("--"):
        k, _, v = words.pop(0)[2:].partition("=")
        flags[k] = v
    return flags, words


def df_vars(text):
    return set(re.findall(r"\$\{?([A-Za-z_]\w*)", text))


dockerfiles = sorted({b[1] for b in builds.values() if os.path.isfile(b[1])})
if not dockerfiles:
    fail("the compose file builds an image from a Dockerfile", "no service has a build whose Dockerfile exists")
    sys.exit(1)

copy_sources = []
for dockerfile in dockerfiles:
    context = next(b[0] for b in builds.values() if b[1] == dockerfile)
    ins = dockerfile_instructions(dockerfile)
    dname = rel(dockerfile)
    global_args = {}
    stages = []          # dicts: name, base, lines, args, envs, runs, copies
    for lineno, word, rest in ins:
        if word == "FROM":
            m = re.match(r"^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?\s*$", rest, re.I)
            stages.append({"name": m.group(2) if m else None, "base": m.group(1) if m else rest,
                           "line": lineno, "args": {}, "envs": {}, "runs": [], "copies": [],
                           "text": []})
            continue
        if word == "ARG" and not stages:
            k, _, v = rest.partition("=")
            global_args[k.strip()] = v.strip()
            continue
        if not stages:
            continue
        st = stages[-1]
        st["text"].append((lineno, word, rest))
        if word == "ARG":
            k, _, v = rest.partition("=")
            st["args"][k.strip()] = v.strip()
        elif word == "ENV":
            for k, v in re.findall(r"([A-Za-z_]\w*)=(\S+)", rest) or [tuple(rest.split(None, 1))]:
                st["envs"][k] = v
        elif word == "RUN":
            st["runs"].append((lineno, rest))
        elif word in ("COPY", "ADD"):
            st["copies"].append((lineno, split_flags(rest)))

    if copy_sources_only:
        for st in stages:
            for lineno, (flags, words) in st["copies"]:
                if "from" not in flags:
                    copy_sources.extend(w.rstrip("/") for w in words[:-1])
        continue

    check("%s declares ARG PG_MAJOR=15 before its first FROM" % dname,
          [] if global_args.get("PG_MAJOR") == "15" else
          ["global ARGs are %s" % (global_args or "none")])

    problems = []
    for st in stages:
        for v in df_vars(st["base"]):
            if v not in global_args:
                problems.append("line %d: FROM %s uses %s, not an ARG before the first FROM" % (st["line"], st["base"], v))
        base = re.sub(r"\$\{?(\w+)\}?", lambda m: global_args.get(m.group(1), ""), st["base"])
        if not any(base == s["name"] for s in stages) and not base.startswith("postgres:"):
            problems.append("line %d: FROM %s is not the official postgres image" % (st["line"], base))
    check("%s builds every stage FROM the official postgres image, with declared ARGs" % dname, problems)

    for name, (_, df, bargs) in builds.items():
        if df == dockerfile:
            declared = set(global_args)
            for st in stages:
                declared |= set(st["args"])
            check("build args of %s are ARGs of %s" % (name, dname),
                  ["%s is not an ARG" % a for a in bargs if a not in declared])
            if "PG_MAJOR" in bargs:
                check("%s builds PG_MAJOR %s, one of 15 to 18" % (name, bargs["PG_MAJOR"]),
                      [] if bargs["PG_MAJOR"] in ("15", "16", "17", "18") else ["PG_MAJOR is %s" % bargs["PG_MAJOR"]])

    problems = []
    for st in stages:
        declared = set(st["args"]) | set(st["envs"])
        for lineno, word, rest in st["text"]:
            if word in ("RUN", "COPY", "ADD", "ENV", "LABEL", "WORKDIR"):
                body = rest
                if word == "RUN":
                    # a shell's own variables are lower case here, and loop
                    # variables are not the Dockerfile's business
                    body = re.sub(r"\$\{?[a-z_]\w*\}?", "", rest)
                for v in df_vars(body):
                    if v.isupper() and v not in declared:
                        problems.append("line %d: %s uses %s, neither an ARG nor an ENV of its stage" % (lineno, word, v))
    check("%s: every variable a stage uses is an ARG or ENV of that stage" % dname, problems)

    problems = []
    names = [st["name"] for st in stages]
    for idx, st in enumerate(stages):
        for lineno, (flags, words) in st["copies"]:
            if len(words) < 2:
                problems.append("line %d: COPY needs a source and a destination" % lineno)
                continue
            sources = words[:-1]
            if "from" in flags:
                src_stage = flags["from"]
                if src_stage not in names[:idx]:
                    problems.append("line %d: COPY --from=%s names no earlier stage" % (lineno, src_stage))
                    continue
                written = "\n".join(r for _, w, r in stages[names.index(src_stage)]["text"])
                for s in sources:
                    if s.rstrip("/") not in written:
                        problems.append("line %d: stage %s never writes %s" % (lineno, src_stage, s))
                continue
            for s in sources:
                if not glob.glob(os.path.join(context, s)):
                    problems.append("line %d: COPY source %s is not in the build context %s" % (lineno, s, rel(context) or "."))
    check("%s: every COPY source exists in the build context or its --from stage" % dname, problems)

    build_stage = next((st for st in stages if any("build.sh" in r for _, r in st["runs"])), None)
    problems = []
    if build_stage is None:
        problems.append("no stage runs scripts/build.sh")
    else:
        copied = {w.rstrip("/") for _, (f, ws) in build_stage["copies"] if "from" not in f for w in ws[:-1]}
        for _, r in build_stage["runs"]:
            for m in re.finditer(r"(\S*build\.sh)", r):
                path = m.group(1)
                if path not in copied:
                    problems.append("%s is run but not copied into the stage" % path)
                if not os.path.isfile(os.path.join(context, path)):
                    problems.append("%s does not exist in the build context" % path)
    check("%s: the build stage runs scripts/build.sh, the build script CI uses" % dname, problems)

    runtime_of = {"librdkafka-dev": "librdkafka1", "libjson-c-dev": "libjson-c5"}
    problems = []
    if build_stage is not None:
        build_runs = "\n".join(r for _, r in build_stage["runs"])
        for dev in ["build-essential", "pkg-config", "postgresql-server-dev-${PG_MAJOR}"] + list(runtime_of):
            if dev not in build_runs:
                problems.append("the build stage does not install %s" % dev)
        final_runs = "\n".join(r for _, r in stages[-1]["runs"])
        for dev, lib in runtime_of.items():
            if lib not in final_runs:
                problems.append("the final stage does not install %s (the runtime of %s)" % (lib, dev))
    check("%s installs the build packages, and their runtime libraries in the final stage" % dname, problems)

    problems = []
    for st in stages:
        for lineno, r in st["runs"]:
            if r.startswith("["):
                continue
            found = shellcheck(r.replace("\n", " \\\n") + "\n", "sh")
            if found:
                problems.append("RUN at line %d:\n%s" % (lineno, found))
    check("%s: shellcheck on every RUN" % dname, problems)

    # where the final stage keeps its data, for the volume check below
    final_pgdata = stages[-1]["envs"].get("PGDATA") if stages else None

if copy_sources_only:
    for s in dict.fromkeys(copy_sources):
        print(s)
    sys.exit(0)

# ---------------------------------------------------------------------------
# Kafka

kafka_name = next((n for n, s in services.items()
                   if str(s.get("image", "")).startswith("apache/kafka:") and "KAFKA_PROCESS_ROLES" in env_of(s)), None)
if kafka_name is None:
    fail("a Kafka broker service runs from apache/kafka", "no service with image apache/kafka:* sets KAFKA_PROCESS_ROLES")
    sys.exit(1)
kafka = services[kafka_name]
kenv = env_of(kafka)
ok("the Kafka service is %s (%s)" % (kafka_name, kafka.get("image")))


def listeners(value):
    out = {}
    for item in filter(None, (value or "").split(",")):
        m = re.match(r"^([A-Za-z_]\w*)://([^:]*):(\d+)$", item.strip())
        if m:
            out[m.group(1)] = (m.group(2), m.group(3))
        else:
            out[item] = (None, None)
    return out


problems = []
roles = {r.strip() for r in kenv.get("KAFKA_PROCESS_ROLES", "").split(",")}
if roles != {"broker", "controller"}:
    problems.append("KAFKA_PROCESS_ROLES is %r, not broker,controller" % kenv.get("KAFKA_PROCESS_ROLES"))
zk = [k for k in kenv if "ZOOKEEPER" in k]
if zk or any("zookeeper" in n.lower() for n in services):
    problems.append("ZooKeeper is configured: %s" % (zk or "a zookeeper service"))
check("Kafka runs in KRaft mode, one node as broker and controller, without ZooKeeper", problems)

lst = listeners(kenv.get("KAFKA_LISTENERS"))
adv = listeners(kenv.get("KAFKA_ADVERTISED_LISTENERS"))
pmap = dict(p.split(":", 1) for p in filter(None, kenv.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "").split(",")))
ctrl = kenv.get("KAFKA_CONTROLLER_LISTENER_NAMES", "")
inter = kenv.get("KAFKA_INTER_BROKER_LISTENER_NAME", "")
problems = []
for name, (host, port) in list(lst.items()) + list(adv.items()):
    if port is None:
        problems.append("listener %r is not NAME://host:port" % name)
    elif name not in pmap:
        problems.append("listener %s has no security protocol in KAFKA_LISTENER_SECURITY_PROTOCOL_MAP" % name)
for name, (host, port) in adv.items():
    if name not in lst:
        problems.append("advertised listener %s is not in KAFKA_LISTENERS" % name)
    elif lst[name][1] != port and not any(str(p).endswith(":%s" % lst[name][1]) and str(p).split(":")[-2] == port
                                          for p in kafka.get("ports") or []):
        problems.append("advertised listener %s is on port %s, but listens on %s" % (name, port, lst[name][1]))
if ctrl not in lst:
    problems.append("the controller listener %r is not in KAFKA_LISTENERS" % ctrl)
if ctrl in adv:
    problems.append("the controller listener %s is advertised to clients" % ctrl)
if inter not in adv:
    problems.append("the inter-broker listener %r is not advertised" % inter)
voters = kenv.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "")
m = re.match(r"^(\d+)@([^:]+):(\d+)$", voters)
if not m:
    problems.append("KAFKA_CONTROLLER_QUORUM_VOTERS %r is not one id@host:port" % voters)
else:
    if m.group(1) != kenv.get("KAFKA_NODE_ID"):
        problems.append("the quorum voter is node %s, but KAFKA_NODE_ID is %s" % (m.group(1), kenv.get("KAFKA_NODE_ID")))
    if ctrl in lst and m.group(3) != lst[ctrl][1]:
        problems.append("the quorum voter's port %s is not the controller listener's %s" % (m.group(3), lst[ctrl][1]))
check("Kafka's listeners, advertised listeners, protocol map and controller quorum agree", problems)

cid = kenv.get("CLUSTER_ID", "")
try:
    raw = base64.urlsafe_b64decode(cid + "==")
    good = len(cid) == 22 and len(raw) == 16 and base64.urlsafe_b64encode(raw).decode().rstrip("=") == cid
except ValueError:
    good = False
check("Kafka's CLUSTER_ID is fixed and a Kafka UUID (16 bytes, base64url)",
      [] if good else ["CLUSTER_ID %r" % cid])

logdirs = kenv.get("KAFKA_LOG_DIRS", "")
kmounts = [dst for src, dst, named in mounts(kafka) if named]
check("Kafka's log directory is on a named volume",
      [] if logdirs and all(any(d == t or d.startswith(t.rstrip("/") + "/") for t in kmounts)
                            for d in logdirs.split(","))
      else ["KAFKA_LOG_DIRS %r, named volumes at %s" % (logdirs, kmounts)])

# the names other containers reach the Kafka service by
kafka_hosts = {kafka_name}
if kafka.get("hostname"):
    kafka_hosts.add(kafka["hostname"])
for net in (kafka.get("networks") or {}).values() if isinstance(kafka.get("networks"), dict) else []:
    kafka_hosts.update((net or {}).get("aliases") or [])
internal = {"%s:%s" % (h, p) for h, p in adv.values() if h in kafka_hosts}
check("Kafka advertises a listener inside the network (%s)" % ", ".join(sorted(internal)) if internal else
      "Kafka advertises a listener inside the network",
      [] if internal else ["no advertised listener names %s" % sorted(kafka_hosts)])

khc = healthcheck_test(kafka) or []
check("Kafka's healthcheck uses the image's own scripts (/opt/kafka/bin)",
      [] if any("/opt/kafka/bin/" in t for t in khc) else ["healthcheck %s" % khc])

# ---------------------------------------------------------------------------
# PostgreSQL, its init scripts, the producer: brokers and topic

pg_name = next((n for n, s in services.items()
                if any("shared_preload_libraries" in a for a in argv_of(s.get("command")))), None)
if pg_name is None:
    fail("a PostgreSQL service sets shared_preload_libraries", "no service's command sets it")
    sys.exit(1)
pg = services[pg_name]
penv = env_of(pg)
pargv = argv_of(pg.get("command"))
settings = {}
for i, a in enumerate(pargv):
    if a == "-c" and i + 1 < len(pargv):
        k, _, v = pargv[i + 1].partition("=")
        settings[k] = v
    elif a.startswith("--") and "=" in a:
        k, _, v = a[2:].partition("=")
        settings[k.replace("-", "_")] = v
ok("the PostgreSQL service is %s" % pg_name)

check("%s preloads trades_kafka" % pg_name,
      [] if "trades_kafka" in [l.strip() for l in settings.get("shared_preload_libraries", "").split(",")]
      else ["shared_preload_libraries=%s" % settings.get("shared_preload_libraries")])

with open(os.path.join(ROOT, "src", "trades_kafka.c")) as f:
    gucs = set(re.findall(r'DefineCustom\w+Variable\(\s*"(trades_kafka\.\w+)"', f.read()))
check("every trades_kafka.* setting %s sets is one the extension defines" % pg_name,
      ["%s is not defined in src/trades_kafka.c" % k for k in settings
       if k.startswith("trades_kafka.") and k not in gucs])

db = penv.get("POSTGRES_DB") or penv.get("POSTGRES_USER") or "postgres"
check("trades_kafka.database is the database the init script creates the extension in (%s)" % db,
      [] if settings.get("trades_kafka.database") == db
      else ["trades_kafka.database=%s, POSTGRES_DB=%s: the launcher would not find the job after a restart"
            % (settings.get("trades_kafka.database"), db)])

check("%s sets POSTGRES_PASSWORD (the image refuses to initialize without it)" % pg_name,
      [] if penv.get("POSTGRES_PASSWORD") or penv.get("POSTGRES_HOST_AUTH_METHOD") == "trust"
      else ["POSTGRES_PASSWORD is not set"])

pmounts = mounts(pg)
problems = []
if not final_pgdata:
    problems.append("the Dockerfile's final stage sets no PGDATA")
else:
    pgdata = re.sub(r"\$\{?PG_MAJOR\}?", "15", final_pgdata)
    if not any(named and (pgdata == t or pgdata.startswith(t.rstrip("/") + "/")) for _, t, named in pmounts):
        problems.append("PGDATA %s is on no named volume of %s" % (final_pgdata, pg_name))
    if any(t.rstrip("/") == "/var/lib/postgresql/data" for _, t, _ in pmounts):
        problems.append("a volume at /var/lib/postgresql/data: the images of 18 and later refuse to start with one")
check("%s keeps its data directory (the image's PGDATA) on a named volume" % pg_name, problems)

init_dirs = [os.path.join(COMPOSE_DIR, s) for s, t, named in pmounts
             if not named and s and t.rstrip("/") == "/docker-entrypoint-initdb.d"]
init_files = sorted(f for d in init_dirs for f in glob.glob(os.path.join(d, "*"))
                    if f.endswith((".sh", ".sql")))
check("%s mounts init scripts at /docker-entrypoint-initdb.d" % pg_name,
      [] if init_files else ["no .sh or .sql file is mounted there"])
init_text = ""
for f in init_files:
    with open(f) as fh:
        init_text += fh.read() + "\n"
    if f.endswith(".sh"):
        check("%s is executable, so that the entrypoint runs it rather than sourcing it" % rel(f),
              [] if os.access(f, os.X_OK) else ["chmod +x %s" % rel(f)])
        r = subprocess.run(["shellcheck", "-x", f], capture_output=True, text=True, cwd=os.path.dirname(f))
        check("shellcheck %s" % rel(f), [(r.stdout + r.stderr).strip()] if r.returncode else [])

# variables the image's entrypoint sets for init scripts, besides the service's
image_env = {"POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD", "POSTGRES_INITDB_ARGS", "PGDATA",
             "PG_MAJOR", "PG_VERSION", "PATH", "LANG", "HOME", "PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER",
             "PGPASSWORD"}
# and bash's own
image_env |= {"BASH_SOURCE", "BASH_VERSION", "BASHPID", "FUNCNAME", "LINENO", "RANDOM", "SECONDS",
              "HOSTNAME", "PWD", "OLDPWD", "IFS", "UID", "EUID", "PPID", "SHLVL", "PIPESTATUS"}
problems = []
for f in init_files:
    if not f.endswith(".sh"):
        continue
    with open(f) as fh:
        text = "\n".join(l for l in fh.read().split("\n") if not l.lstrip().startswith("#"))
    for v in sorted(set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", text))):
        required = re.search(r"\$\{%s:?\?" % v, text)
        if v not in penv and v not in image_env and (required or not re.search(r"\$\{%s:?-" % v, text)):
            problems.append("%s reads %s, which %s does not set" % (rel(f), v, pg_name))
check("every variable the init scripts need is set by %s or by the image" % pg_name, problems)

sql_files = sorted(glob.glob(os.path.join(ROOT, "sql", "trades_kafka--*.sql")))
start_params = set()
for f in sql_files:
    with open(f) as fh:
        m = re.search(r"CREATE FUNCTION trades_kafka\.start\((.*?)\)\s*RETURNS", fh.read(), re.S)
    if m:
        start_params |= {p.split()[0] for p in m.group(1).split(",") if p.strip()}
calls = re.findall(r"trades_kafka\.start\((.*?)\)", init_text, re.S)
problems = []
if not calls:
    problems.append("no init script calls trades_kafka.start()")
if not start_params:
    problems.append("no CREATE FUNCTION trades_kafka.start in sql/trades_kafka--*.sql")
for call in calls:
    for p in re.findall(r"(\w+)\s*=>", call):
        if start_params and p not in start_params:
            problems.append("start() has no parameter %s (it has %s)" % (p, ", ".join(sorted(start_params))))
check("the init scripts call trades_kafka.start() with parameters the extension defines", problems)

# every broker address a client of the stack uses
uses = []
if "TRADES_KAFKA_BROKERS" in init_text:
    uses.append(("the init script (%s's TRADES_KAFKA_BROKERS)" % pg_name, penv.get("TRADES_KAFKA_BROKERS")))
for lit in re.findall(r"brokers\s*=>\s*'([^']*)'", init_text):
    uses.append(("the init script's start(brokers => ...)", lit))
topics = []
if "TRADES_KAFKA_TOPIC" in init_text:
    topics.append(("the init script (%s's TRADES_KAFKA_TOPIC)" % pg_name, penv.get("TRADES_KAFKA_TOPIC", "trades")))
for lit in re.findall(r"topic\s*=>\s*'([^']*)'", init_text):
    topics.append(("the init script's start(topic => ...)", lit))
partitions = None
producer_names = []
for name, svc in services.items():
    argv = argv_of(svc.get("entrypoint")) + argv_of(svc.get("command"))
    if argv and os.path.basename(argv[0]) == "trades-producer":
        producer_names.append(name)
        uses.append(("%s's trades-producer --brokers" % name, option(argv, "--brokers", "-b")))
        topics.append(("%s's trades-producer --topic" % name, option(argv, "--topic", "-t")))
    if any(a.endswith("kafka-topics.sh") for a in argv) and "--create" in argv:
        uses.append(("%s's kafka-topics.sh --bootstrap-server" % name, option(argv, "--bootstrap-server")))
        topics.append(("%s's kafka-topics.sh --topic" % name, option(argv, "--topic")))
        partitions = option(argv, "--partitions")
    hc = healthcheck_test(svc) or []
    if option(hc, "--bootstrap-server"):
        uses.append(("%s's healthcheck --bootstrap-server" % name, option(hc, "--bootstrap-server")))
for who, addr in uses:
    addrs = [a.strip() for a in (addr or "").split(",") if a.strip()]
    check("%s (%s) is the Kafka service's advertised listener" % (who, addr),
          [] if addrs and all(a in internal for a in addrs)
          else ["%s is not one of %s" % (addr, ", ".join(sorted(internal)) or "no advertised listener")])

names = {t for _, t in topics}
check("the init script, topic-init and the producer name one topic (%s)" % ", ".join(sorted(map(str, names))),
      [] if len(names) == 1 and None not in names else ["%s: %s" % (w, t) for w, t in topics])

workers = penv.get("TRADES_KAFKA_WORKERS")
if workers and partitions:
    check("the %s workers fit the topic's %s partitions" % (workers, partitions),
          [] if int(workers) <= int(partitions) else ["more workers than partitions stay idle"])

with open(os.path.join(ROOT, "src", "producer", "main.c")) as f:
    producer_opts = set(re.findall(r'\{"([a-z-]+)",\s*(?:required|no|optional)_argument', f.read()))
for name in producer_names:
    argv = argv_of(services[name].get("entrypoint")) + argv_of(services[name].get("command"))
    check("%s passes only options trades-producer defines" % name,
          ["--%s is not an option of src/producer/main.c" % a[2:].split("=")[0] for a in argv
           if a.startswith("--") and a[2:].split("=")[0] not in producer_opts])

# ---------------------------------------------------------------------------
# shell inside the compose file

problems = []
for name, svc in services.items():
    scripts = []
    hc = healthcheck_test(svc) or []
    if hc[:1] == ["CMD-SHELL"]:
        scripts.append(("healthcheck", " ".join(hc[1:]), "sh"))
    argv = argv_of(svc.get("entrypoint")) + argv_of(svc.get("command"))
    if len(argv) >= 3 and os.path.basename(argv[0]) in ("sh", "bash") and argv[1] == "-c":
        scripts.append(("command", argv[2], os.path.basename(argv[0])))
    for what, text, shell in scripts:
        found = shellcheck(text + "\n", shell)
        if found:
            problems.append("%s %s:\n%s" % (name, what, found))
check("shellcheck on the healthchecks and shell commands of the compose file", problems)

r = subprocess.run(["shellcheck", os.path.join(ROOT, "scripts", "build.sh")], capture_output=True, text=True)
check("shellcheck scripts/build.sh", [(r.stdout + r.stderr).strip()] if r.returncode else [])

sys.exit(1 if failed else 0)
PYTHON
