/**
 * A small well-formedness check for the SVG the CLI writes (no XML parser ships with Node): one
 * root element, every tag closed in order, attributes quoted, no raw "<" or stray "&" in text
 * or attribute values. Returns the element names in document order, for counting.
 */
import assert from "node:assert/strict";

const TOKEN = /<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<\/?[^>]*>|[^<]+/g;
const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;
const NAME = "[A-Za-z_][\\w.:-]*";
const OPEN_TAG = new RegExp(`^<(${NAME})((?:\\s+${NAME}="[^"<]*")*)\\s*(/?)>$`);
const CLOSE_TAG = new RegExp(`^</(${NAME})\\s*>$`);

function assertNoStrayAmpersand(text: string, where: string): void {
  assert.ok(!text.replace(ENTITY, "").includes("&"), `unescaped & in ${where}: ${text}`);
}

export function assertWellFormedXml(xml: string): string[] {
  const stack: string[] = [];
  const elements: string[] = [];
  let roots = 0;
  for (const [token] of xml.matchAll(TOKEN)) {
    if (token.startsWith("<?") || token.startsWith("<!--")) continue;
    if (!token.startsWith("<")) {
      assert.ok(stack.length > 0 || token.trim() === "", `text outside the root element: ${token}`);
      assertNoStrayAmpersand(token, "text");
      continue;
    }
    const close = CLOSE_TAG.exec(token);
    if (close !== null) {
      assert.equal(stack.pop(), close[1], `</${close[1]}> closes the wrong element`);
      continue;
    }
    const open = OPEN_TAG.exec(token);
    assert.ok(open !== null, `malformed tag: ${token}`);
    assertNoStrayAmpersand(open[2] ?? "", `the attributes of ${token}`);
    if (stack.length === 0) roots++;
    elements.push(open[1]!);
    if (open[3] !== "/") stack.push(open[1]!);
  }
  assert.deepEqual(stack, [], "unclosed elements");
  assert.equal(roots, 1, "exactly one root element");
  return elements;
}
