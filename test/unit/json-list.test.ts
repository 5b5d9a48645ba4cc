import { expect } from 'chai';
import { ListBodyError, ListReader, readList } from '../../src/adapters/k8s/json-list.js';

/** What readList makes of `text`, with every item passed through unchanged. */
function read(text: string): unknown {
  return readList(Buffer.from(text, 'utf8'), (item) => item);
}

describe('readList: a Kubernetes list body item by item', () => {
  const tricky = [
    { metadata: { name: 'a', annotations: { note: 'braces } { and brackets ] [ inside a string, a comma, a colon:' } } },
    { metadata: { name: 'quotes "within" and a backslash before a quote \\', labels: {} } },
    { metadata: { name: 'é 中 🧬', uid: 'x' }, status: { conditions: [{ type: 'Complete', status: 'True' }], counts: [1, -2.5e3, true, false, null] } },
    { nested: [[], {}, [{}], [[[]]]], empty: '' },
  ];

  it('reads what JSON.parse reads, however it is laid out', () => {
    const bodies = [
      { kind: 'JobList', apiVersion: 'batch/v1', metadata: { resourceVersion: '42', continue: 'next' }, items: tricky },
      { items: tricky, metadata: { resourceVersion: '7' } },
      { metadata: {}, items: [] },
    ];
    for (const body of bodies) {
      for (const text of [JSON.stringify(body), JSON.stringify(body, null, 2), JSON.stringify(body, null, '\t').replaceAll('\n', '\r\n')]) {
        expect(read(text)).to.deep.equal(JSON.parse(text));
      }
    }
  });

  it('reads the same however the body is cut into chunks, even inside a character', () => {
    const text = JSON.stringify({ kind: 'PodList', metadata: { resourceVersion: '9', continue: 'x' }, items: tricky }, null, 1);
    const body = Buffer.from(text, 'utf8');
    for (const size of [1, 2, 3, 5, 64, body.length - 1]) {
      const reader = new ListReader((item) => item);
      for (let start = 0; start < body.length; start += size) reader.push(body.subarray(start, start + size));
      expect(reader.end(), `chunks of ${size} bytes`).to.deep.equal(JSON.parse(text));
    }
  });

  it('hands over each item as soon as its last byte came', () => {
    const seen: unknown[] = [];
    const reader = new ListReader((item) => seen.push(item));
    reader.push(Buffer.from('{"metadata": {}, "items": [{"a": 1}, {"b": [2'));
    expect(seen).to.deep.equal([{ a: 1 }]);
    reader.push(Buffer.from(']}, 3'));
    expect(seen).to.deep.equal([{ a: 1 }, { b: [2] }]);
    reader.push(Buffer.from(']}'));
    expect(seen).to.deep.equal([{ a: 1 }, { b: [2] }, 3]);
    expect(reader.end().items).to.deep.equal([1, 2, 3]);
  });

  it("hands each item to `read` in order and keeps what it makes of them", () => {
    const seen: unknown[] = [];
    const list = readList(Buffer.from(JSON.stringify({ metadata: { continue: 'c' }, items: tricky })), (item) => {
      seen.push(item);
      return seen.length;
    });
    expect(seen).to.deep.equal(tricky);
    expect(list.items).to.deep.equal([1, 2, 3, 4]);
    expect(list.metadata).to.deep.equal({ continue: 'c' });
  });

  it('takes the last of repeated keys, as JSON.parse does, and a __proto__ key as data', () => {
    const text = '{"items": [1], "metadata": {"continue": "a"}, "items": [2, 3], "__proto__": {"polluted": true}}';
    const list = read(text) as Record<string, unknown>;
    expect(list['items']).to.deep.equal([2, 3]);
    expect(Object.getPrototypeOf(list)).to.equal(Object.prototype);
    expect(({} as Record<string, unknown>)['polluted']).to.equal(undefined);
    expect(Object.keys(list)).to.include('__proto__');
  });

  it('refuses what JSON.parse refuses, and a body without an items array', () => {
    const broken = [
      '',
      '{"items": [1, 2]',
      '{"items": [1, 2,]}',
      '{"items": [1 2]}',
      '{"items": [{"a": 1]}',
      '{"items": [{"a": "unterminated}]}',
      '{"items": [tru]}',
      '{"items": [], }',
      '{"items": []} trailing',
      "{'items': []}",
      '\ufeff{"items": []}',
    ];
    for (const text of broken) {
      expect(() => JSON.parse(text), text).to.throw();
      expect(() => read(text), text).to.throw();
    }
    const truncated = new ListReader((item) => item);
    truncated.push(Buffer.from('{"items": [1, 2'));
    expect(() => truncated.end()).to.throw(ListBodyError);
    for (const text of ['[]', '"items"', '{}', '{"items": null}', '{"items": {"a": 1}}', '{"items": [1], "items": "x"}']) {
      expect(() => read(text), text).to.throw(ListBodyError);
    }
  });
});
