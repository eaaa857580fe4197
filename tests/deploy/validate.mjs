// Validates every object of a multi-document YAML (or JSON) stream against the Kubernetes API
// schema of its apiVersion and kind, offline, with kubernetes-models' JSON schemas.
//
//   node tests/deploy/validate.mjs FILE     (or - for standard input)
//
// Prints one line per failing object and closes with "validate: N passed, M failed". Exit 1
// when an object fails, a document does not parse, or no object was read; exit 2 on bad usage.
// A kind these schemas do not know fails (a typo in apiVersion or kind is an error, not a
// skip). What the schemas cannot see: unknown fields (the API schemas allow them; the API
// server rejects them under strict field validation) and cross-object references.
import { readFileSync } from "node:fs";

let parseAllDocuments;
try {
  ({ parseAllDocuments } = await import("yaml"));
  await import("kubernetes-models/v1");
} catch (e) {
  if (e.code !== "ERR_MODULE_NOT_FOUND") throw e;
  process.stderr.write(`validate: ${e.message}\n` +
    "validate: install the pinned packages first: npm ci --prefix tests/deploy\n");
  process.exit(1);
}

function usage() {
  process.stderr.write("usage: node validate.mjs FILE|-\n");
  process.exit(2);
}

// kubernetes-models lays its classes out as kubernetes-models/<group>/<version> ("v1" for the
// core group). Returns the model class for apiVersion/kind, or null when there is none.
const modules = new Map();
async function modelClass(apiVersion, kind) {
  if (!/^([a-z0-9.-]+\/)?v[0-9]+((alpha|beta)[0-9]+)?$/.test(apiVersion)) return null;
  if (!modules.has(apiVersion)) {
    let mod = null;
    try {
      mod = await import(`kubernetes-models/${apiVersion}`);
    } catch (e) {
      if (e.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED" && e.code !== "ERR_MODULE_NOT_FOUND") throw e;
    }
    modules.set(apiVersion, mod);
  }
  const cls = modules.get(apiVersion)?.[kind];
  // The index also exports nested types (Container, PodSpec): only top-level kinds carry their
  // own apiVersion and kind.
  if (typeof cls !== "function" || cls.apiVersion !== apiVersion || cls.kind !== kind) return null;
  return cls;
}

function describe(obj, index) {
  const kind = typeof obj?.kind === "string" ? obj.kind : "?";
  const apiVersion = typeof obj?.apiVersion === "string" ? obj.apiVersion : "?";
  const name = obj?.metadata?.name ?? obj?.metadata?.generateName ?? `#${index}`;
  const ns = obj?.metadata?.namespace ? `${obj.metadata.namespace}/` : "";
  return `${apiVersion} ${kind} ${ns}${name}`;
}

// The object as the API server reads it where the schema is stricter than the server: Go's
// base64 decoder skips line breaks, and kustomize wraps Secret data at 70 columns.
function asDecoded(obj) {
  if (obj.apiVersion !== "v1" || obj.kind !== "Secret" || typeof obj.data !== "object" ||
      obj.data === null) {
    return obj;
  }
  const data = {};
  for (const [k, v] of Object.entries(obj.data)) {
    data[k] = typeof v === "string" ? v.replace(/[\r\n]/g, "") : v;
  }
  return { ...obj, data };
}

// The problems of one object, as strings; empty when it is valid.
async function problems(obj) {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return ["not a mapping"];
  if (typeof obj.apiVersion !== "string" || typeof obj.kind !== "string") {
    return ["apiVersion and kind must be strings"];
  }
  const found = [];
  const name = obj.metadata?.name ?? obj.metadata?.generateName;
  if (typeof name !== "string" || name === "") found.push("metadata.name is missing");
  const cls = await modelClass(obj.apiVersion, obj.kind);
  if (cls === null) return [...found, `unknown kind ${obj.kind} in ${obj.apiVersion}`];
  try {
    new cls(asDecoded(obj)).validate();
  } catch (e) {
    if (!Array.isArray(e.errors)) throw e;
    for (const err of e.errors) {
      const where = err.instancePath || "/";
      found.push(`${where}: ${err.message ?? err.keyword}`);
    }
    if (e.errors.length === 0) found.push(e.message);
  }
  return found;
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length !== 1) usage();
  let text;
  try {
    text = readFileSync(args[0] === "-" ? 0 : args[0], "utf8");
  } catch (e) {
    process.stderr.write(`validate: cannot read ${args[0]}: ${e.message}\n`);
    process.exit(1);
  }
  // YAML 1.1 as the API machinery reads it (0400 is octal, yes/no are booleans), but
  // timestamps stay strings as they do there.
  const docs = parseAllDocuments(text, {
    version: "1.1",
    customTags: (tags) => tags.filter((t) => t.tag !== "tag:yaml.org,2002:timestamp"),
  });
  let passed = 0;
  let failed = 0;
  const objects = [];
  for (const [i, doc] of (Array.isArray(docs) ? docs : [docs]).entries()) {
    if (doc.errors?.length) {
      failed++;
      const messages = doc.errors.map((e) => e.message.split("\n")[0]);
      console.log(`FAIL document ${i + 1}: ${messages.join("; ")}`);
      continue;
    }
    const value = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) continue;  // an empty document
    // A kind: List (kubectl get -o yaml) holds the objects in items.
    if (value?.kind === "List" && Array.isArray(value.items)) objects.push(...value.items);
    else objects.push(value);
  }
  for (const [i, obj] of objects.entries()) {
    const found = await problems(obj);
    if (found.length === 0) {
      passed++;
    } else {
      failed++;
      console.log(`FAIL ${describe(obj, i + 1)}: ${found.join("; ")}`);
    }
  }
  if (objects.length === 0) console.log("FAIL no Kubernetes object in the input");
  console.log(`validate: ${passed} passed, ${failed} failed`);
  process.exit(failed > 0 || objects.length === 0 ? 1 : 0);
}

await main();
