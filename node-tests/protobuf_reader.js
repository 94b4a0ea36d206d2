'use strict'
// A minimal protobuf wire-format reader for the OTLP tests: enough to decode
// opentelemetry/proto/{metrics,trace}/v1 bodies by field number, without a protobuf library.

/** The body's top-level fields as [fieldNumber, value] pairs (varints as BigInt, the rest as bytes). */
function fields(buf) {
  const out = []
  let i = 0
  const varint = () => {
    let v = 0n
    let shift = 0n
    for (;;) {
      const b = buf[i++]
      v |= BigInt(b & 0x7f) << shift
      if (b < 0x80) return v
      shift += 7n
    }
  }
  while (i < buf.length) {
    const key = Number(varint())
    const no = key >> 3
    const wire = key & 7
    if (wire === 0) out.push([no, varint()])
    else if (wire === 1) { out.push([no, buf.subarray(i, i + 8)]); i += 8 }
    else if (wire === 2) { const n = Number(varint()); out.push([no, buf.subarray(i, i + n)]); i += n }
    else if (wire === 5) { out.push([no, buf.subarray(i, i + 4)]); i += 4 }
    else throw new Error(`wire type ${wire}`)
  }
  return out
}
const all = (buf, no) => fields(buf).filter(([n]) => n === no).map(([, v]) => v)
const one = (buf, no) => all(buf, no)[0]
const str = (b) => (b === undefined ? undefined : Buffer.from(b).toString('utf8'))
/** KeyValue { key = 1; AnyValue value = 2 { string_value = 1 } } under field `no`, as an object. */
const attrs = (m, no) => Object.fromEntries(all(m, no).map((kv) => [str(one(kv, 1)), str(one(one(kv, 2), 1))]))

module.exports = { fields, all, one, str, attrs }
