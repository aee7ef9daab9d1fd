import { test } from "node:test";
import assert from "node:assert/strict";
import { type PickleHooks, PickleWriter, type PyValue, Unpickler, kindOf } from "../../src/io/pickle.js";

/** Hooks that allow one global, demo.make, whose call wraps its first argument as an opaque "box". */
function hooks(persistentLoad: PickleHooks["persistentLoad"] = null): PickleHooks {
  return {
    allowGlobal: (module, name) => `${module}.${name}` === "demo.make" || `${module}.${name}` === "collections.OrderedDict",
    refusal: "demo files hold boxes only",
    persistentLoad,
    call: (fn, args, fail) => (fn.name === "make" ? { kind: "opaque", type: "box", value: args[0] } : fail(`cannot call ${fn.name}`)),
  };
}

function run(bytes: Uint8Array, h = hooks()): PyValue {
  return new Unpickler(bytes, 0, "t.pkl", h).run().value;
}

test("plain data: ints of every width, strings, tuples, lists, dicts by value", () => {
  const w = new PickleWriter().op(0x80, 2, 0x7d).put().op(0x28); // PROTO 2, EMPTY_DICT, MARK
  w.str("small").int(7).str("wide").int(70000).str("neg").int(-5).str("big").int(2n ** 70n).str("t").tuple([1, 2, 3, 4]);
  const v = run(w.op(0x75, 0x2e).bytes()); // SETITEMS, STOP
  assert.ok(v !== null && typeof v === "object" && v.kind === "dict");
  const get = (k: string): PyValue => (v.map.get(k) as [PyValue, PyValue])[1];
  assert.equal(get("small"), 7);
  assert.equal(get("wide"), 70000);
  assert.equal(get("neg"), -5);
  assert.equal(get("big"), 2n ** 70n);
  const t = get("t");
  assert.ok(t !== null && typeof t === "object" && t.kind === "tuple");
  assert.deepEqual(t.items, [1, 2, 3, 4]);
});

test("globals go through the hooks: allowed ones build opaque values, others are refused with the hooks' reason", () => {
  const ok = new PickleWriter().op(0x80, 2).global("demo", "make").op(0x28).str("x").op(0x74, 0x52, 0x2e); // TUPLE, REDUCE
  const v = run(ok.bytes());
  assert.ok(v !== null && typeof v === "object" && v.kind === "opaque");
  assert.equal(kindOf(v), "box");
  assert.equal(v.value, "x");
  const evil = new PickleWriter().op(0x80, 2).global("os", "system").op(0x28).str("ls").op(0x74, 0x52, 0x2e);
  assert.throws(() => run(evil.bytes()), /^CheckpointError: t\.pkl: pickle \(offset \d+\): pickle asks for global os\.system, which is not allowed \(demo files hold boxes only\)$/m);
  const builtin = new PickleWriter().op(0x80, 2).global("__builtin__", "eval").op(0x2e);
  assert.throws(() => run(builtin.bytes()), /global builtins\.eval, which is not allowed/);
});

test("persistent ids go to the hooks' loader, and are refused without one", () => {
  const pid = new PickleWriter().op(0x80, 2).str("key").op(0x51, 0x2e); // BINPERSID, STOP
  assert.deepEqual(run(pid.bytes(), hooks((p) => ({ kind: "opaque", type: "ref", value: p }))), { kind: "opaque", type: "ref", value: "key" });
  assert.throws(() => run(pid.bytes()), /persistent id in a pickle that may not have any/);
});

test("damage: truncation, stack underflow, unknown opcodes, object construction", () => {
  const good = new PickleWriter().op(0x80, 2).tuple([1, 2]).op(0x2e).bytes();
  assert.throws(() => run(good.subarray(0, good.length - 1)), /truncated/);
  assert.throws(() => run(Uint8Array.from([0x80, 2, 0x85, 0x2e])), /stack underflow/); // TUPLE1 on an empty stack
  assert.throws(() => run(Uint8Array.from([0x80, 2, 0xff])), /unknown opcode 0xff/);
  assert.throws(() => run(Uint8Array.from([0x80, 2, 0x69])), /opcode 0x69 .* is not allowed/); // INST
});
