// Runs the jsonrepair npm package (a peer of ferrule's repairJson) over a JSON array of texts read
// from stdin and writes one JSON array back: [value] when it repaired a text, null when it threw.
// Called by test_repair_differential.py, so both peers see exactly the same inputs.
'use strict'
const { jsonrepair } = require('jsonrepair')

let input = ''
process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk) => {
  input += chunk
})
process.stdin.on('end', () => {
  const out = JSON.parse(input).map((text) => {
    try {
      return [JSON.parse(jsonrepair(text))]
    } catch {
      return null
    }
  })
  process.stdout.write(JSON.stringify(out))
})
