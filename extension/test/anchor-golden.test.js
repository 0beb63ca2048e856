// The anchorer against its golden fixtures (regenerate them with tests/fixtures/make_golden.py).
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { anchorCase } from "./helpers.mjs";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "tests", "fixtures", "anchor");
const cases = readdirSync(fixtures).sort();
const read = (name, file) => JSON.parse(readFileSync(join(fixtures, name, file), "utf8"));

test("the golden cases cover astral text, repeats, a changed page and no match", () => {
  for (const name of ["unchanged_astral", "repeated_sentence", "text_inserted_before", "nothing_matches"]) {
    assert.ok(cases.includes(name), name);
  }
});

for (const name of cases) {
  test(`anchoring gives its golden output: ${name}`, () => {
    assert.deepEqual(anchorCase(read(name, "input.json")), read(name, "expected.json"));
  });
}
